// Normalises fit/evaluate data ({ x, y } in its accepted forms) to flat rows, and builds batch tensors from reused buffers.
import { Tensor } from '../tensor';
import { IntTensor, idsAsFloat } from '../int-tensor';
import { gatherRows } from '../data/split';
import type { FitData } from './types';
import type { BatchTarget } from './metrics';
import { Preprocessor, preprocessorOf, type PreprocessorOptions, type PreprocessorFitData } from '../data/preprocess';
import { describe, isPlainObject } from '../validate';
import { isMultiInput, inputLabel } from '../serve/inputs';

/** One input's rows, when x holds several inputs. */
export interface InputRows {
  /** The input's name: its key in a record x, or its index ("0", "1") in an array x. */
  name: string;
  x: Float32Array;
  rowShape: number[];
  rowSize: number;
}

/** One output's targets, when y holds several (one per model output): exactly one of labels / targets is set. */
export interface OutputRows {
  /** The output's name: its key in a record y, or its index ("0", "1") in an array y. */
  name: string;
  labels: Int32Array | null;
  targets: Float32Array | null;
  targetShape: number[];
  targetSize: number;
}

/** The targets of one batch for a model with several outputs: per output, in the form y was given. */
export type BatchTargets = BatchTarget | BatchTarget[] | { [name: string]: BatchTarget };

/**
 * Data as flat rows: x is n rows of rowSize values; exactly one of labels / targets is set. With several
 * inputs (x an array or a record of tensors), `inputs` holds each one and x/rowShape/rowSize the first.
 * With several outputs (y an array or a record, one entry per model output), `outputs` holds each one and
 * labels/targets the first.
 */
export interface PreparedData {
  /** Several outputs' targets and how y gave them, or null for one. */
  outputs?: OutputRows[] | null;
  outputForm?: 'array' | 'record' | null;
  /** Several inputs and how they were given (an array: forward(a, b); a record: forward({ a, b })), or null for one. */
  inputs: InputRows[] | null;
  inputForm: 'array' | 'record' | null;
  x: Float32Array;
  n: number;
  /** Shape of one input row (e.g. [784]); a batch is [rows, ...rowShape]. */
  rowShape: number[];
  rowSize: number;
  labels: Int32Array | null;
  targets: Float32Array | null;
  targetShape: number[];
  targetSize: number;
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

/**
 * Checks and flattens { x, y } into PreparedData; `op` names the caller in errors ('fit', 'evaluate').
 * x may be several inputs: an array or a record of Tensors [n, ...], each checked and named in errors.
 */
export function prepareData(data: FitData, op: string, what = 'data', yLabel = 'y'): PreparedData {
  if (data === null || typeof data !== 'object' || data.x === undefined || data.y === undefined) {
    throw new Error(`${op}: ${what} must be an object { x, y }`);
  }
  data = withFloatIds(data, `${op}: ${what}.x`);
  if (isMultiOutput(data.y)) return prepareOutputs(data, op, what);
  if (!isMultiInput(data.x)) return prepareOne(data as FitData & { x: Tensor | Float32Array }, op, what, 'x', yLabel);
  const form = Array.isArray(data.x) ? 'array' : 'record';
  const entries: [string, unknown][] = Array.isArray(data.x) ? data.x.map((t, i) => [String(i), t]) : Object.entries(data.x);
  if (entries.length === 0) throw new Error(`${op}: ${what}.x is an empty ${form}; give one Tensor per model input`);
  const inputs: InputRows[] = [];
  let first: PreparedData | null = null;
  for (const [name, t] of entries) {
    const label = form === 'array' ? `x[${name}]` : `x.${name}`;
    if (!(t instanceof Tensor)) throw new Error(`${op}: ${what}.${label} (${inputLabel(form, name)}) must be a Tensor [n, ...], got ${describe(t)}`);
    const one = prepareOne({ x: t, y: data.y }, op, what, label, yLabel);
    first ??= one;
    inputs.push({ name, x: one.x, rowShape: one.rowShape, rowSize: one.rowSize });
  }
  return { ...(first as PreparedData), inputs, inputForm: form };
}

/**
 * x with every IntTensor (token ids) as the float32 Tensor of the same values, which fit batches and shuffles like
 * any input and an Embedding reads back as ids (exact up to 2^24; beyond is an error naming `where`).
 */
function withFloatIds(data: FitData, where: string): FitData {
  const x = data.x as unknown;
  if (x instanceof IntTensor) return { ...data, x: idsAsFloat(where, x) };
  if (Array.isArray(x) && x.some((t) => t instanceof IntTensor)) {
    return { ...data, x: x.map((t, i) => (t instanceof IntTensor ? idsAsFloat(`${where}[${i}]`, t) : t)) };
  }
  if (isPlainObject(x) && Object.values(x).some((t) => t instanceof IntTensor)) {
    return { ...data, x: Object.fromEntries(Object.entries(x).map(([k, t]) => [k, t instanceof IntTensor ? idsAsFloat(`${where}.${k}`, t) : t])) as FitData['x'] };
  }
  return data;
}

/** True when y holds one target per output: a record, or an array of label / target arrays (an array of numbers is labels). */
function isMultiOutput(y: unknown): y is unknown[] | Record<string, unknown> {
  if (Array.isArray(y)) return y.length > 0 && y.every((e) => e !== null && typeof e === 'object');
  return isPlainObject(y);
}

/** y with one entry per model output: each prepared against x (its rows checked), named in errors as y[0] or y.name. */
function prepareOutputs(data: FitData, op: string, what: string): PreparedData {
  const y = data.y as unknown as unknown[] | Record<string, unknown>;
  const form = Array.isArray(y) ? 'array' : 'record';
  const entries: [string, unknown][] = Array.isArray(y) ? y.map((v, i) => [String(i), v]) : Object.entries(y);
  if (entries.length === 0) throw new Error(`${op}: ${what}.y is an empty record; give one target per model output`);
  let first: PreparedData | null = null;
  const outputs: OutputRows[] = [];
  for (const [name, yi] of entries) {
    const one = prepareData({ ...data, y: yi as FitData['y'] }, op, what, form === 'array' ? `y[${name}]` : `y.${name}`);
    first ??= one;
    outputs.push({ name, labels: one.labels, targets: one.targets, targetShape: one.targetShape, targetSize: one.targetSize });
  }
  return { ...(first as PreparedData), outputs, outputForm: form };
}

function prepareOne(data: FitData & { x: Tensor | Float32Array }, op: string, what: string, xLabel: string, yLabel = 'y'): PreparedData {
  const { x, y } = data;
  let labels: Int32Array | null = null;
  let targets: Float32Array | null = null;
  let targetShape: number[] = [];
  let yRows: number | null = null;
  if (y instanceof Int32Array) {
    labels = y;
    yRows = y.length;
  } else if (Array.isArray(y)) {
    labels = new Int32Array(y.length);
    for (let i = 0; i < y.length; i++) {
      if (!Number.isInteger(y[i])) throw new Error(`${op}: ${what}.${yLabel}[${i}] = ${y[i]} is not an integer class label`);
      labels[i] = y[i];
    }
    yRows = y.length;
  } else if (y instanceof Tensor) {
    if (y.ndim === 0) throw new Error(`${op}: ${what}.${yLabel} is a 0-d tensor; expected [n] or [n, targets]`);
    targets = y.data;
    yRows = y.shape[0];
    targetShape = y.shape.slice(1);
  } else if (y instanceof Float32Array) {
    targets = y;
  } else {
    throw new Error(`${op}: ${what}.${yLabel} must be an Int32Array or number[] of labels, or a Tensor / Float32Array of targets`);
  }

  let xData: Float32Array;
  let n: number;
  let rowShape: number[];
  if (x instanceof Tensor) {
    if (x.ndim < 1) throw new Error(`${op}: ${what}.${xLabel} is a 0-d tensor; expected [n, features]`);
    xData = x.data;
    n = x.shape[0];
    rowShape = x.shape.slice(1);
    if (rowShape.length === 0) rowShape = [1];
  } else if (x instanceof Float32Array) {
    xData = x;
    if (data.features !== undefined) {
      if (!Number.isInteger(data.features) || data.features < 1 || x.length % data.features !== 0) {
        throw new Error(`${op}: ${what}.${xLabel} has ${x.length} values, not a multiple of features = ${data.features}`);
      }
      n = x.length / data.features;
    } else if (data.n !== undefined) {
      n = data.n;
    } else if (yRows !== null) {
      n = yRows;
    } else {
      n = (y as Float32Array).length; // one float target per row
    }
    if (!Number.isInteger(n) || n < 0 || (n === 0 ? x.length !== 0 : x.length % n !== 0)) {
      throw new Error(`${op}: ${what}.${xLabel} has ${x.length} values, not a whole number of rows for n = ${n}`);
    }
    rowShape = [n === 0 ? (data.features ?? 0) : x.length / n];
  } else {
    throw new Error(`${op}: ${what}.${xLabel} must be a Tensor or a Float32Array`);
  }
  if (data.n !== undefined && data.n !== n) {
    throw new Error(`${op}: ${what}.n = ${data.n} but x has ${n} rows`);
  }

  if (labels !== null) {
    if (labels.length !== n) {
      throw new Error(`${op}: ${what}.${xLabel} has ${n} rows (shape ${shapeStr([n, ...rowShape])}) but ${yLabel} has ${labels.length} labels`);
    }
  } else if (targets !== null) {
    if (yRows === null) {
      if (n === 0 || targets.length % n !== 0) {
        throw new Error(`${op}: ${what}.${yLabel} has ${targets.length} values, not a whole number per row for ${n} rows`);
      }
      targetShape = [targets.length / n];
    } else if (yRows !== n) {
      throw new Error(`${op}: ${what}.${xLabel} has ${n} rows but ${yLabel} has ${yRows} (shape ${shapeStr([yRows, ...targetShape])})`);
    }
    if (targetShape.length === 0) targetShape = [1];
  }
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const targetSize = targetShape.reduce((a, b) => a * b, 1);
  return { inputs: null, inputForm: null, x: xData, n, rowShape, rowSize, labels, targets, targetShape, targetSize };
}

/** Rows [start, end) of prepared data, sharing memory (no copy). */
export function sliceRows(d: PreparedData, start: number, end: number): PreparedData {
  return {
    ...d,
    inputs: d.inputs === null ? null : d.inputs.map((i) => ({ ...i, x: i.x.subarray(start * i.rowSize, end * i.rowSize) })),
    x: d.x.subarray(start * d.rowSize, end * d.rowSize),
    n: end - start,
    labels: d.labels ? d.labels.subarray(start, end) : null,
    targets: d.targets ? d.targets.subarray(start * d.targetSize, end * d.targetSize) : null,
    outputs: d.outputs ? d.outputs.map((o) => ({
      ...o,
      labels: o.labels ? o.labels.subarray(start, end) : null,
      targets: o.targets ? o.targets.subarray(start * o.targetSize, end * o.targetSize) : null,
    })) : null,
  };
}

/**
 * Builds batch tensors over buffers allocated once (batchSize rows) and reused every step. Without
 * an index order the batch is a view of the data itself (no copy).
 */
export class BatchBuilder {
  private readonly xBufs: Float32Array[];
  private readonly labelBufs: (Int32Array | null)[];
  private readonly targetBufs: (Float32Array | null)[];
  private readonly columns: { x: Float32Array; rowShape: number[]; rowSize: number }[];
  private readonly outputColumns: { labels: Int32Array | null; targets: Float32Array | null; targetShape: number[]; targetSize: number }[];

  constructor(private readonly d: PreparedData, batchSize: number) {
    const rows = Math.min(batchSize, d.n);
    this.columns = d.inputs ?? [d];
    this.outputColumns = d.outputs ?? [d];
    this.xBufs = this.columns.map((c) => new Float32Array(rows * c.rowSize));
    this.labelBufs = this.outputColumns.map((o) => (o.labels ? new Int32Array(rows) : null));
    this.targetBufs = this.outputColumns.map((o) => (o.targets ? new Float32Array(rows * o.targetSize) : null));
  }

  private column(i: number, order: Int32Array | null, start: number, end: number): Tensor {
    const rows = end - start;
    const c = this.columns[i];
    const buf = this.xBufs[i];
    let data: Float32Array;
    if (order === null) {
      data = c.x.subarray(start * c.rowSize, end * c.rowSize);
    } else {
      gatherRows(c.x, c.rowSize, order, start, end, buf);
      data = rows * c.rowSize === buf.length ? buf : buf.subarray(0, rows * c.rowSize);
    }
    return new Tensor(data, [rows, ...c.rowShape]);
  }

  /** Input rows order[start..end) (or start..end when order is null) as a [rows, ...rowShape] tensor (the first input's, with several). */
  input(order: Int32Array | null, start: number, end: number): Tensor {
    return this.column(0, order, start, end);
  }

  /** The forward arguments of rows order[start..end): [tensor] for one input; the tensors, or [record], for several. */
  args(order: Int32Array | null, start: number, end: number): Tensor[] | [Record<string, Tensor>] {
    const d = this.d;
    const tensors = this.columns.map((_, i) => this.column(i, order, start, end));
    if (d.inputs === null || d.inputForm === 'array') return tensors;
    const rec: Record<string, Tensor> = {};
    d.inputs.forEach((inp, i) => { rec[inp.name] = tensors[i]; });
    return [rec];
  }

  /** The matching labels (Int32Array) or target tensor [rows, ...targetShape]; with several outputs, the first output's. */
  target(order: Int32Array | null, start: number, end: number): BatchTarget {
    return this.targetColumn(0, order, start, end);
  }

  /** The targets of rows order[start..end): one, or per output in the form y was given (an array or a record). */
  targets(order: Int32Array | null, start: number, end: number): BatchTargets {
    const d = this.d;
    if (!d.outputs) return this.targetColumn(0, order, start, end);
    const per = d.outputs.map((_, i) => this.targetColumn(i, order, start, end));
    if (d.outputForm === 'array') return per;
    const rec: { [name: string]: BatchTarget } = {};
    d.outputs.forEach((o, i) => { rec[o.name] = per[i]; });
    return rec;
  }

  private targetColumn(i: number, order: Int32Array | null, start: number, end: number): BatchTarget {
    const rows = end - start;
    const d = this.outputColumns[i];
    if (d.labels !== null) {
      if (order === null) return d.labels.subarray(start, end);
      const buf = this.labelBufs[i] as Int32Array;
      gatherRows(d.labels, 1, order, start, end, buf);
      return rows === buf.length ? buf : buf.subarray(0, rows);
    }
    const t = d.targets as Float32Array;
    let data: Float32Array;
    if (order === null) {
      data = t.subarray(start * d.targetSize, end * d.targetSize);
    } else {
      const buf = this.targetBufs[i] as Float32Array;
      gatherRows(t, d.targetSize, order, start, end, buf);
      data = rows * d.targetSize === buf.length ? buf : buf.subarray(0, rows * d.targetSize);
    }
    return new Tensor(data, [rows, ...d.targetShape]);
  }
}

/** fit's `standardize` option: true (features per column, regression targets too) or Preprocessor options. */
export type StandardizeOption = boolean | PreprocessorOptions;

/**
 * The rows a model with a preprocessor trains on or is evaluated on. With fit's `standardize`, a new
 * Preprocessor is first fitted on the first `trainRows` rows (the training part, before a
 * validationSplit) and set as model.preprocessor (readCsv's table also gives it the feature and class
 * names, fill values and CSV schema). Then the model's preprocessor, if any, transforms x (a copy:
 * missing values filled, scaled) and float targets; integer labels pass through.
 */
export function preprocessForModel(
  model: unknown, data: FitData, d: PreparedData, op: string, standardize?: StandardizeOption, trainRows?: number,
): PreparedData {
  if (d.outputs && (standardize === true || (typeof standardize === 'object' && standardize !== null) || preprocessorOf(model) !== null)) {
    throw new Error(`${op}: a preprocessor (standardize, model.preprocessor) maps one output's targets; this data has ${d.outputs.length} (y is ${d.outputForm === 'array' ? 'an array' : 'a record'})`);
  }
  if (d.inputs !== null && (standardize === true || (typeof standardize === 'object' && standardize !== null) || preprocessorOf(model) !== null)) {
    throw new Error(`${op}: a preprocessor (standardize, model.preprocessor) takes one input; this data has ${d.inputs.length} (x is ${d.inputForm === 'array' ? 'an array' : 'a record'})`);
  }
  if (standardize !== undefined && standardize !== false) {
    if (standardize !== true && (standardize === null || typeof standardize !== 'object' || Array.isArray(standardize))) {
      throw new Error(`${op}: standardize must be true, false or an object of preprocessor options, got ${describe(standardize)}`);
    }
    if (model === null || typeof model !== 'object' || !('preprocessor' in model)) {
      throw new Error(`${op}: standardize needs an nn.Module model (it stores the fitted scaler in model.preprocessor)`);
    }
    const rows = trainRows ?? d.n;
    const extra = data as PreprocessorFitData;
    const prep = new Preprocessor(standardize === true ? {} : standardize);
    prep.fit({
      x: new Tensor(d.x.subarray(0, rows * d.rowSize), [rows, d.rowSize]),
      y: d.labels !== null ? d.labels.subarray(0, rows) : d.targets!.subarray(0, rows * d.targetSize),
      n: rows,
      featureNames: extra.featureNames ?? null,
      classNames: extra.classNames ?? null,
      fill: extra.fill ?? null,
      schema: extra.schema ?? null,
      task: extra.task ?? null,
    });
    (model as { preprocessor: Preprocessor | null }).preprocessor = prep;
  }
  const prep = preprocessorOf(model);
  if (prep === null) return d;
  const x = prep.transformX(new Tensor(d.x, [d.n, d.rowSize]), `${op}: model.preprocessor`).data;
  const targets = d.targets === null ? null : prep.transformY(d.targets);
  return { ...d, x, targets };
}

/**
 * Float targets against a model's output width, before training: a Float32Array of whole numbers for
 * a model with several outputs is almost always class labels sent as floats, and mse would then fail
 * at the first batch with a shape error. Says what to do instead.
 */
export function checkTargetWidth(op: string, what: string, d: PreparedData, outputs: number, lossName: unknown): void {
  if (d.targets === null || typeof lossName === 'function' || d.targetSize === outputs) return;
  const t = d.targets;
  let integral = true;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (!Number.isInteger(v)) { integral = false; break; }
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const head = `${op}: ${what}.y is a Float32Array (regression targets for loss '${String(lossName)}') with ${d.targetSize} value(s) per row, but the model has ${outputs} outputs`;
  if (d.targetSize === 1 && integral && lo >= 0 && hi < outputs) {
    throw new Error(
      `${head}; its values are whole numbers in [${lo}, ${hi}]: labels look like classes: pass an Int32Array ` +
        '(e.g. Int32Array.from(y)) to train a classifier with crossEntropy (readCsv returns class labels as an Int32Array)',
    );
  }
  throw new Error(`${head}: give the model ${d.targetSize} output(s), or y ${outputs} value(s) per row`);
}
