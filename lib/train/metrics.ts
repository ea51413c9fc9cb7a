// Training metrics: running accumulators (accuracy, mean absolute error, custom functions) fed batch by batch.
import type { Tensor } from '../tensor';

/** The target of a batch: integer class labels, or a float tensor of targets shaped like the output. */
export type BatchTarget = Int32Array | Tensor;

/** A metric accumulated over the batches of an epoch; result() is the mean over all rows seen. */
export interface Metric {
  /** The history key (e.g. 'accuracy'); validation values go under 'val' + Name ('valAccuracy'). */
  readonly name: string;
  reset(): void;
  /** Adds one batch: pred is [rows, outputs]. */
  update(pred: Tensor, target: BatchTarget, rows: number): void;
  result(): number;
}

/** A user metric: a function of one batch, averaged over batches weighted by their row count. */
export interface MetricFunction {
  name: string;
  fn: (pred: Tensor, target: BatchTarget) => number;
}

/** Metric names fit() knows. */
export type MetricName = 'accuracy' | 'mae';

/** Index of the largest value in each row of a [rows, cols] matrix, written into out. */
export function argmaxRows(data: Float32Array, rows: number, cols: number, out: Int32Array): Int32Array {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = 0;
    let bestValue = data[base];
    for (let c = 1; c < cols; c++) {
      const v = data[base + c];
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}

/**
 * Number of rows classified correctly. Labels: argmax(pred) == label (or pred > 0.5 vs the label
 * for a single-output binary model). Float targets: argmax of both (one-hot / probabilities), or
 * both thresholded at 0.5 when there is one output column.
 */
export function countCorrect(pred: Tensor, target: BatchTarget, rows: number, threshold = 0.5): number {
  const cols = rows === 0 ? 0 : pred.data.length / rows;
  const p = pred.data;
  let correct = 0;
  if (cols === 1) {
    // Binary: one output column, thresholded (0.5 for probabilities, 0 for logits); targets at 0.5.
    const t = target instanceof Int32Array ? target : target.data;
    for (let r = 0; r < rows; r++) if ((p[r] > threshold ? 1 : 0) === (t[r] > 0.5 ? 1 : 0)) correct++;
    return correct;
  }
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = 0;
    for (let c = 1; c < cols; c++) if (p[base + c] > p[base + best]) best = c;
    let want: number;
    if (target instanceof Int32Array) {
      want = target[r];
    } else {
      const t = target.data;
      want = 0;
      for (let c = 1; c < cols; c++) if (t[base + c] > t[base + want]) want = c;
    }
    if (best === want) correct++;
  }
  return correct;
}

/** Classification accuracy (fraction of rows whose predicted class is the target class). */
export class AccuracyMetric implements Metric {
  readonly name = 'accuracy';
  private correct = 0;
  private seen = 0;
  /** threshold: where a single-column output splits class 0 from 1 (0 for logits). */
  constructor(private readonly threshold = 0.5) {}
  reset(): void {
    this.correct = 0;
    this.seen = 0;
  }
  update(pred: Tensor, target: BatchTarget, rows: number): void {
    this.correct += countCorrect(pred, target, rows, this.threshold);
    this.seen += rows;
  }
  result(): number {
    return this.seen === 0 ? NaN : this.correct / this.seen;
  }
}

/** Mean absolute error between outputs and float targets. */
export class MeanAbsoluteErrorMetric implements Metric {
  readonly name = 'mae';
  private total = 0;
  private count = 0;
  reset(): void {
    this.total = 0;
    this.count = 0;
  }
  update(pred: Tensor, target: BatchTarget, _rows: number): void {
    if (target instanceof Int32Array) throw new Error("metric 'mae': needs float targets, got integer class labels");
    const p = pred.data;
    const t = target.data;
    if (p.length !== t.length) {
      throw new Error(`metric 'mae': output has ${p.length} values, target has ${t.length}`);
    }
    let s = 0;
    for (let i = 0; i < p.length; i++) s += Math.abs(p[i] - t[i]);
    this.total += s;
    this.count += p.length;
  }
  result(): number {
    return this.count === 0 ? NaN : this.total / this.count;
  }
}

/** Wraps a user function as a metric averaged over rows. */
export class FunctionMetric implements Metric {
  readonly name: string;
  private total = 0;
  private seen = 0;
  constructor(private readonly spec: MetricFunction) {
    this.name = spec.name;
  }
  reset(): void {
    this.total = 0;
    this.seen = 0;
  }
  update(pred: Tensor, target: BatchTarget, rows: number): void {
    this.total += this.spec.fn(pred, target) * rows;
    this.seen += rows;
  }
  result(): number {
    return this.seen === 0 ? NaN : this.total / this.seen;
  }
}

/**
 * Builds metric accumulators from names / functions. 'loss' is always tracked and is ignored here.
 * lossName tells accuracy how to read a single-output model (logits for 'bceWithLogits').
 */
export function makeMetrics(specs: ReadonlyArray<MetricName | 'loss' | MetricFunction>, lossName?: unknown): Metric[] {
  const out: Metric[] = [];
  for (const s of specs) {
    if (s === 'loss') continue;
    if (s === 'accuracy') out.push(new AccuracyMetric(lossName === 'bceWithLogits' ? 0 : 0.5));
    else if (s === 'mae') out.push(new MeanAbsoluteErrorMetric());
    else if (typeof s === 'object' && s !== null && typeof s.fn === 'function' && typeof s.name === 'string') {
      out.push(new FunctionMetric(s));
    } else {
      throw new Error(`fit: unknown metric ${JSON.stringify(s)} (known: 'accuracy', 'mae', 'loss', or { name, fn })`);
    }
  }
  const names = new Set<string>();
  for (const m of out) {
    if (names.has(m.name) || m.name === 'loss') throw new Error(`fit: metric name '${m.name}' is used twice`);
    names.add(m.name);
  }
  return out;
}

/** History / log key of a validation metric: 'accuracy' -> 'valAccuracy'. */
export function validationKey(name: string): string {
  return 'val' + name.charAt(0).toUpperCase() + name.slice(1);
}
