// Several model outputs in fit and evaluate: y per output, a loss per output (their weighted sum is trained), metrics per output.
import { Tensor } from '../tensor';
import { add, mul } from '../ops/elementwise';
import type { ModuleOutput } from '../nn/module';
import { defaultLossName, resolveLoss, type LossSpec } from './loss-spec';
import { makeMetrics, type BatchTarget, type Metric, type MetricFunction, type MetricName } from './metrics';
import type { BatchTargets, OutputRows, PreparedData } from './prepared';
import { describe, isPlainObject } from '../validate';

/** fit's and evaluate's `loss` for several outputs: one spec for every output, or one per output (an array, or a record by output name). */
export type OutputLossSpec = LossSpec | readonly LossSpec[] | { readonly [output: string]: LossSpec };

/** Weights of the outputs' losses in the trained sum (default 1 each): an array, or a record by output name. */
export type LossWeights = readonly number[] | { readonly [output: string]: number };

/** Metric specs for several outputs: one list for every output, or a list per output (a record by output name). */
export type OutputMetricSpecs = ReadonlyArray<MetricName | 'loss' | MetricFunction> | { readonly [output: string]: ReadonlyArray<MetricName | 'loss' | MetricFunction> };

const upper = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** How an output is named in errors and logs. */
function outputLabel(d: PreparedData, o: OutputRows): string {
  return d.outputForm === 'array' ? `output ${o.name}` : `output '${o.name}'`;
}

/** One output's data as single-output PreparedData (for the loss and label checks). */
export function outputData(d: PreparedData, o: OutputRows): PreparedData {
  return { ...d, labels: o.labels, targets: o.targets, targetShape: o.targetShape, targetSize: o.targetSize, outputs: null, outputForm: null };
}

/** The value for output o from an array / record option (or the same value for all); `what` names the option. */
function perOutput<T>(op: string, what: string, d: PreparedData, value: unknown, isOne: (v: unknown) => boolean): (o: OutputRows, i: number) => T | undefined {
  const outputs = d.outputs as OutputRows[];
  if (value === undefined || isOne(value)) return () => value as T | undefined;
  if (Array.isArray(value)) {
    if (d.outputForm !== 'array' || value.length !== outputs.length) {
      throw new Error(`${op}: ${what} is an array of ${value.length}; y gives ${outputs.length} outputs ${d.outputForm === 'array' ? '(an array)' : `by name (${outputs.map((o) => o.name).join(', ')}): give a record`}`);
    }
    return (_o, i) => value[i] as T;
  }
  if (isPlainObject(value)) {
    const names = new Set(outputs.map((o) => o.name));
    const unknown = Object.keys(value).filter((k) => !names.has(k));
    if (d.outputForm !== 'record' || unknown.length > 0) {
      throw new Error(`${op}: ${what} names output(s) ${unknown.length > 0 ? unknown.map((k) => `'${k}'`).join(', ') : Object.keys(value).join(', ')} that y does not have (y's outputs: ${outputs.map((o) => o.name).join(', ')})`);
    }
    return (o) => (value as Record<string, T>)[o.name];
  }
  throw new Error(`${op}: ${what} must be one value for every output, an array or a record by output name, got ${describe(value)}`);
}

/** The output of pred that y's entry `o` (index i) is for; throws naming the output when the forms differ. */
export function outputOf(op: string, d: PreparedData, pred: ModuleOutput, o: OutputRows, i: number): Tensor {
  const outputs = d.outputs as OutputRows[];
  const got = pred instanceof Tensor ? 'one Tensor' : Array.isArray(pred) ? `an array of ${pred.length}` : `a record (${Object.keys(pred).join(', ')})`;
  let t: unknown;
  if (d.outputForm === 'array') t = Array.isArray(pred) && pred.length === outputs.length ? pred[i] : undefined;
  else t = !(pred instanceof Tensor) && !Array.isArray(pred) ? (pred as Record<string, Tensor>)[o.name] : undefined;
  if (!(t instanceof Tensor)) {
    const want = d.outputForm === 'array' ? `an array of ${outputs.length} Tensors` : `a record with ${outputs.map((x) => `'${x.name}'`).join(', ')}`;
    throw new Error(`${op}: y has one target per output (${want}); the model's forward returned ${got}, so ${outputLabel(d, o)} is missing`);
  }
  return t;
}

function targetOf(d: PreparedData, target: BatchTargets, o: OutputRows, i: number): BatchTarget {
  return d.outputForm === 'array' ? (target as BatchTarget[])[i] : (target as Record<string, BatchTarget>)[o.name];
}

/** The resolved loss of several outputs: per output its spec, and the weighted sum as one function. */
export interface OutputsLoss {
  specs: LossSpec[];
  fn(pred: ModuleOutput, target: BatchTargets): Tensor;
}

/** Resolves `loss` and `lossWeights` for data with several outputs (each output's default: crossEntropy for labels, mse for targets). */
export function outputsLoss(op: string, d: PreparedData, spec: OutputLossSpec | undefined, weights: LossWeights | undefined): OutputsLoss {
  const outputs = d.outputs as OutputRows[];
  const specOf = perOutput<LossSpec>(op, 'loss', d, spec, (v) => typeof v === 'string' || typeof v === 'function');
  const weightOf = perOutput<number>(op, 'lossWeights', d, weights, (v) => typeof v === 'number');
  const specs = outputs.map((o, i) => specOf(o, i) ?? defaultLossName(outputData(d, o)));
  const fns = outputs.map((o, i) => resolveLoss(specs[i], outputData(d, o), `${op}: ${outputLabel(d, o)}`));
  const w = outputs.map((o, i) => {
    const v = weightOf(o, i) ?? 1;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${op}: lossWeights for ${outputLabel(d, o)} must be a finite number >= 0, got ${describe(v)}`);
    return v;
  });
  return {
    specs,
    fn(pred, target) {
      let total: Tensor | null = null;
      outputs.forEach((o, i) => {
        const l = fns[i](outputOf(op, d, pred, o, i), targetOf(d, target, o, i));
        const term = w[i] === 1 ? l : mul(l, w[i]);
        total = total === null ? term : add(total, term);
      });
      return total as unknown as Tensor;
    },
  };
}

/** A metric of one output: logged as its name prefixed by the output's ('digitAccuracy', 'output1Mae'). */
class OutputMetric implements Metric {
  readonly name: string;
  readonly epochOnly?: boolean;
  constructor(private readonly inner: Metric, private readonly d: PreparedData, private readonly o: OutputRows, private readonly i: number) {
    this.name = `${d.outputForm === 'array' ? `output${o.name}` : o.name}${upper(inner.name)}`;
    this.epochOnly = inner.epochOnly;
  }
  reset(): void { this.inner.reset(); }
  update(pred: Tensor, target: BatchTarget, rows: number): void {
    const all = pred as unknown as ModuleOutput;
    this.inner.update(outputOf('fit', this.d, all, this.o, this.i), targetOf(this.d, target as unknown as BatchTargets, this.o, this.i), rows);
  }
  result(): number { return this.inner.result(); }
  /** Checks the inner metric against this output's width (ignores the single-output arguments). */
  checkOutput(width: number): void { this.inner.check?.(width, this.o.labels !== null); }
}

/** Per-output metrics (default: accuracy for an output trained on labels, none for float targets). */
export function outputsMetrics(op: string, d: PreparedData, specs: OutputMetricSpecs | undefined, lossSpecs: LossSpec[]): Metric[] {
  const outputs = d.outputs as OutputRows[];
  const specOf = perOutput<ReadonlyArray<MetricName | 'loss' | MetricFunction>>(op, 'metrics', d, specs, (v) => Array.isArray(v));
  const out: Metric[] = [];
  outputs.forEach((o, i) => {
    const list = specOf(o, i) ?? (o.labels !== null ? ['accuracy'] : []);
    for (const m of makeMetrics(list, lossSpecs[i])) out.push(new OutputMetric(m, d, o, i));
  });
  return out;
}

/** Checks each per-output metric against its output's width (from a probe of the model). */
export function checkOutputMetrics(metrics: Metric[], widths: number[]): void {
  for (const m of metrics) if (m instanceof OutputMetric) m.checkOutput(widths[(m as unknown as { i: number }).i]);
}

/** One output (y gives one target): the loss spec and metric list, rejecting per-output forms of the options. */
export function singleOutputSpecs(
  op: string, d: PreparedData, loss: OutputLossSpec | undefined, weights: LossWeights | undefined, metrics: OutputMetricSpecs | undefined,
): { lossName: LossSpec; metricSpecs: ReadonlyArray<MetricName | 'loss' | MetricFunction> } {
  const many = 'y gives one target (make y an array or a record, one target per output)';
  if (weights !== undefined) throw new Error(`${op}: lossWeights weighs the losses of several outputs; ${many}`);
  if (loss !== undefined && typeof loss !== 'string' && typeof loss !== 'function') {
    throw new Error(`${op}: loss is ${Array.isArray(loss) ? 'an array' : 'a record'} (one per output) but ${many}`);
  }
  if (metrics !== undefined && !Array.isArray(metrics)) throw new Error(`${op}: metrics is a record (per output) but ${many}`);
  const lossName = (loss as LossSpec | undefined) ?? defaultLossName(d);
  return { lossName, metricSpecs: (metrics as ReadonlyArray<MetricName | 'loss' | MetricFunction> | undefined) ?? (d.labels ? ['accuracy'] : []) };
}
