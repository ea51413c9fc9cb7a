// Training metrics: accumulators fed batch by batch whose result covers the whole epoch (accuracy, precision/recall/F1, ROC AUC, MAE/MSE/RMSE/R2), and per-batch user functions.
import type { Tensor } from '../tensor';
import { ConfusionCounts, RegressionSums, defaultAverage, rocAuc, type Average } from './scores';

/** The target of a batch: integer class labels, or a float tensor of targets shaped like the output. */
export type BatchTarget = Int32Array | Tensor;

/**
 * A metric accumulated over the batches of an epoch; result() is its value over every row seen
 * (not a mean of per-batch values), except for a user MetricFunction, which sees one batch at a time.
 */
export interface Metric {
  /** The history key (e.g. 'accuracy'); validation values go under 'val' + Name ('valAccuracy'). */
  readonly name: string;
  /** True when result() is too costly to compute after every batch: the metric is only logged per epoch. */
  readonly epochOnly?: boolean;
  reset(): void;
  /** Adds one batch: pred is [rows, outputs]. Copies what it keeps (pred may be reused after the step). */
  update(pred: Tensor, target: BatchTarget, rows: number): void;
  result(): number;
  /** Throws when the metric cannot apply to a model with `outputs` outputs trained on labels (or float targets). */
  check?(outputs: number, labels: boolean): void;
}

/** A user metric: a function of one batch, averaged over batches weighted by their row count. */
export interface MetricFunction {
  name: string;
  fn: (pred: Tensor, target: BatchTarget) => number;
}

/**
 * Metric names fit() and evaluate() know. precision / recall / f1: class 1's score for a binary
 * model (one output, or two), the macro average over classes for more; *Macro: always the macro
 * average; auc: binary ROC AUC; mae, mse, rmse, r2: regression.
 */
export type MetricName =
  | 'accuracy' | 'precision' | 'recall' | 'f1' | 'precisionMacro' | 'recallMacro' | 'f1Macro' | 'auc'
  | 'mae' | 'mse' | 'rmse' | 'r2';

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

/** Predicted class of row r: argmax of its outputs, or output > threshold for a single output column. */
function predictedClass(p: Float32Array, r: number, cols: number, threshold: number): number {
  if (cols === 1) return p[r] > threshold ? 1 : 0;
  const base = r * cols;
  let best = 0;
  for (let c = 1; c < cols; c++) if (p[base + c] > p[base + best]) best = c;
  return best;
}

/** True class of row r: the label, or the argmax of a one-hot / probability row (target > 0.5 for one column). */
function trueClass(target: BatchTarget, r: number, cols: number): number {
  if (target instanceof Int32Array) return target[r];
  const t = target.data;
  if (cols === 1) return t[r] > 0.5 ? 1 : 0;
  const base = r * cols;
  let best = 0;
  for (let c = 1; c < cols; c++) if (t[base + c] > t[base + best]) best = c;
  return best;
}

function checkTargetSize(name: string, pred: Tensor, target: BatchTarget, rows: number): number {
  const cols = rows === 0 ? 1 : pred.data.length / rows;
  if (!(target instanceof Int32Array) && target.data.length !== pred.data.length) {
    throw new Error(`metric '${name}': output has ${pred.data.length} values, target has ${target.data.length}`);
  }
  return cols;
}

/** Which score of the confusion counts a ClassScoreMetric reports. */
export type ClassScoreName = 'precision' | 'recall' | 'f1';

/**
 * Precision, recall or F1 over every row of the epoch (from one confusion matrix, not averaged
 * over batches). average 'auto': class 1's score for two classes (one output column or two), the
 * macro average over the classes present for more.
 */
export class ClassScoreMetric implements Metric {
  private readonly counts = new ConfusionCounts();
  constructor(
    readonly name: string, private readonly score: ClassScoreName, private readonly avg: Average | 'auto',
    private readonly threshold = 0.5,
  ) {}
  check(outputs: number): void {
    if (this.avg === 'binary' && outputs > 2) {
      throw new Error(`metric '${this.name}': a binary average needs 1 or 2 outputs, the model has ${outputs}`);
    }
  }
  reset(): void {
    this.counts.reset();
  }
  update(pred: Tensor, target: BatchTarget, rows: number): void {
    const cols = checkTargetSize(this.name, pred, target, rows);
    this.counts.grow(Math.max(2, cols));
    for (let r = 0; r < rows; r++) this.counts.add(trueClass(target, r, cols), predictedClass(pred.data, r, cols, this.threshold));
  }
  result(): number {
    const avg = this.avg === 'auto' ? defaultAverage(this.counts.classes) : this.avg;
    return this.counts.average(avg)[this.score];
  }
}

/**
 * Area under the ROC curve over every row of the epoch, for binary classification: the score is
 * the single output, or output 1 minus output 0 for two outputs (a monotone function of the class-1
 * probability, so logits and probabilities give the same AUC). NaN while only one class was seen.
 * It keeps every score of the epoch and sorts them, so it is left out of the per-batch logs.
 */
export class AucMetric implements Metric {
  readonly name = 'auc';
  readonly epochOnly = true;
  private scores = new Float64Array(1024);
  private labels = new Uint8Array(1024);
  private n = 0;
  check(outputs: number): void {
    if (outputs > 2) throw new Error(`metric 'auc': binary classification only (1 or 2 outputs), the model has ${outputs}`);
  }
  reset(): void {
    this.n = 0;
  }
  update(pred: Tensor, target: BatchTarget, rows: number): void {
    const cols = checkTargetSize(this.name, pred, target, rows);
    this.check(cols);
    if (this.n + rows > this.scores.length) {
      const size = Math.max(this.n + rows, this.scores.length * 2);
      const s = new Float64Array(size);
      s.set(this.scores.subarray(0, this.n));
      const l = new Uint8Array(size);
      l.set(this.labels.subarray(0, this.n));
      this.scores = s;
      this.labels = l;
    }
    const p = pred.data;
    for (let r = 0; r < rows; r++) {
      const label = trueClass(target, r, cols);
      if (label !== 0 && label !== 1) throw new Error(`metric 'auc': labels must be 0 or 1, got ${label}`);
      this.scores[this.n + r] = cols === 1 ? p[r] : p[2 * r + 1] - p[2 * r];
      this.labels[this.n + r] = label;
    }
    this.n += rows;
  }
  result(): number {
    return rocAuc(this.labels, this.scores, this.n);
  }
}

/** Which score of the regression sums a RegressionMetric reports. */
export type RegressionScoreName = 'mae' | 'mse' | 'rmse' | 'r2';

/** A regression score over every value of the epoch (float64 sums; R2 and RMSE per output, averaged over outputs). */
export class RegressionMetric implements Metric {
  private readonly sums = new RegressionSums();
  constructor(readonly name: RegressionScoreName) {}
  check(_outputs: number, labels: boolean): void {
    if (labels) throw new Error(`metric '${this.name}': needs float targets, got integer class labels`);
  }
  reset(): void {
    this.sums.reset();
  }
  update(pred: Tensor, target: BatchTarget, rows: number): void {
    if (target instanceof Int32Array) this.check(0, true);
    const cols = checkTargetSize(this.name, pred, target, rows);
    this.sums.add(pred.data, (target as Tensor).data, rows, cols, `metric '${this.name}'`);
  }
  result(): number {
    return this.sums[this.name]();
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

const CLASS_SCORES: Record<string, [ClassScoreName, Average | 'auto']> = {
  precision: ['precision', 'auto'], recall: ['recall', 'auto'], f1: ['f1', 'auto'],
  precisionMacro: ['precision', 'macro'], recallMacro: ['recall', 'macro'], f1Macro: ['f1', 'macro'],
};

/** Every metric name fit and evaluate know, for error messages and docs. */
export const METRIC_NAMES: readonly MetricName[] = [
  'accuracy', 'precision', 'recall', 'f1', 'precisionMacro', 'recallMacro', 'f1Macro', 'auc', 'mae', 'mse', 'rmse', 'r2',
];

/**
 * Builds metric accumulators from names / functions. 'loss' is always tracked and is ignored here.
 * lossName tells the classification metrics how to read a single-output model (logits for 'bceWithLogits').
 */
export function makeMetrics(specs: ReadonlyArray<MetricName | 'loss' | MetricFunction>, lossName?: unknown): Metric[] {
  const threshold = lossName === 'bceWithLogits' ? 0 : 0.5;
  const out: Metric[] = [];
  for (const s of specs) {
    if (s === 'loss') continue;
    if (s === 'accuracy') out.push(new AccuracyMetric(threshold));
    else if (typeof s === 'string' && Object.prototype.hasOwnProperty.call(CLASS_SCORES, s)) {
      const [score, avg] = CLASS_SCORES[s];
      out.push(new ClassScoreMetric(s, score, avg, threshold));
    } else if (s === 'auc') out.push(new AucMetric());
    else if (s === 'mae' || s === 'mse' || s === 'rmse' || s === 'r2') out.push(new RegressionMetric(s));
    else if (typeof s === 'object' && s !== null && typeof s.fn === 'function' && typeof s.name === 'string') {
      out.push(new FunctionMetric(s));
    } else {
      const known = METRIC_NAMES.map((n) => `'${n}'`).join(', ');
      throw new Error(`fit: unknown metric ${JSON.stringify(s)} (known: ${known}, 'loss', or { name, fn })`);
    }
  }
  const names = new Set<string>();
  for (const m of out) {
    if (names.has(m.name) || m.name === 'loss') throw new Error(`fit: metric name '${m.name}' is used twice`);
    names.add(m.name);
  }
  return out;
}

/** Checks each metric against the model's output width and the kind of target, before any step. */
export function checkMetrics(metrics: readonly Metric[], outputs: number, labels: boolean): void {
  for (const m of metrics) m.check?.(outputs, labels);
}

/** History / log key of a validation metric: 'accuracy' -> 'valAccuracy'. */
export function validationKey(name: string): string {
  return 'val' + name.charAt(0).toUpperCase() + name.slice(1);
}
