// Preprocessor: the feature standardiser, target scaler, missing-value fill, class names and CSV layout fitted on training data, carried by the model (model.json) and applied by predict.
import { Tensor } from '../tensor';
import { columnStats } from './normalize';
import type { CsvSchema } from './csv';
import { checkOptions, describe } from '../validate';
import { applyRowTransform, type RowTransform } from './row-transform';

/** Version of the preprocessing block in model.json. */
export const PREPROCESSING_VERSION = 1;

/** Options of data.preprocessor: standardize the inputs, scale them, and targetScale (standardise a regression target). */
export interface PreprocessorOptions {
  /**
   * Standardise the input features with the training data's statistics: true / 'feature' (default:
   * one mean and std per column), 'global' (one over all values, e.g. pixels), or false.
   */
  standardize?: boolean | 'feature' | 'global';
  /**
   * Standardise regression targets (float y) for training and invert it on predictions, so predict
   * returns values in the targets' units. Default true when y holds floats; ignored for class labels.
   */
  targetScale?: boolean;
  /** Multiply the inputs by this fixed factor instead of standardising them (e.g. 1/255 for pixel values). */
  scale?: number;
}

const OPTION_KEYS = ['standardize', 'targetScale', 'scale'];

/** What fit() reads: rows x (and y); readCsv's table adds names, class names, fill values and its schema. */
export interface PreprocessorFitData {
  x: Float32Array | Tensor;
  y?: Float32Array | Int32Array | number[] | Tensor | null;
  n?: number;
  features?: number;
  featureNames?: readonly string[] | null;
  classNames?: readonly string[] | null;
  /** Values that replaced missing cells (readCsv's missing: 'mean'): predict fills NaN inputs with them. */
  fill?: Float32Array | null;
  schema?: CsvSchema | null;
  task?: 'classification' | 'regression' | null;
}

/** model.json's "preprocessing" block (every key required; see Preprocessor.fromJSON). */
export interface PreprocessingJson {
  version: number;
  features: number;
  featureNames: string[] | null;
  input: { per: 'feature' | 'global'; mean: number[]; std: number[] } | null;
  fill: number[] | null;
  target: { mean: number[]; std: number[] } | null;
  task: 'classification' | 'regression' | null;
  classNames: string[] | null;
  csv: { columns: string[] | null; columnCount: number; labelName: string | null; categories: Record<string, string[]> } | null;
}

const JSON_KEYS: (keyof PreprocessingJson)[] = ['version', 'features', 'featureNames', 'input', 'fill', 'target', 'task', 'classNames', 'csv'];

/**
 * Preprocessing fitted on training data and applied to every input after it: per-feature
 * standardisation (or a fixed scale), missing-value fill, regression target scaling (inverted on the
 * predictions), class names, and the CSV layout the features came from. Put one on a model
 * (`model.preprocessor = prep`, or fit's `standardize` option) and predict, predictAsync,
 * predictClasses, evaluate, save/load and `myelin predict` all use it.
 */
export class Preprocessor {
  readonly options: Readonly<PreprocessorOptions>;
  /** Values per input row (null until fitted). */
  features: number | null = null;
  featureNames: string[] | null = null;
  /** Input standardisation: (x - mean) / std per feature (or one global pair); null when off. */
  input: { per: 'feature' | 'global'; mean: Float32Array; std: Float32Array } | null = null;
  /** Per feature: what a NaN input becomes (before standardising); null: NaN is an error. */
  fill: Float32Array | null = null;
  /** Target scaling: y' = (y - mean) / std per target column; predictions are mapped back. */
  target: { mean: Float32Array; std: Float32Array } | null = null;
  task: 'classification' | 'regression' | null = null;
  classNames: string[] | null = null;
  /** How a CSV file's columns became the features (readCsv's schema), for reading new files alike. */
  csv: CsvSchema | null = null;

  /**
   * An unfitted preprocessor (call fit with the training data).
   * @param options standardize (true or 'feature' (default): per column; 'global': one mean and std; false: none),
   * targetScale (standardise float targets, default true for float y), scale (a fixed factor instead of
   * standardize, e.g. 1/255).
   * @throws Error for an unknown option, a standardize other than true, false, 'feature' or 'global', a targetScale
   * that is not a boolean, a scale that is not a finite non-zero number, or scale given with standardize.
   * @example const prep = new data.Preprocessor({ standardize: 'global' }).fit(train);
   */
  constructor(options: PreprocessorOptions = {}) {
    checkOptions('preprocessor', options, OPTION_KEYS);
    const s = options.standardize;
    if (s !== undefined && s !== true && s !== false && s !== 'feature' && s !== 'global') {
      throw new Error(`preprocessor: standardize must be true, false, 'feature' or 'global', got ${describe(s)}`);
    }
    if (options.targetScale !== undefined && typeof options.targetScale !== 'boolean') {
      throw new Error(`preprocessor: targetScale must be true or false, got ${describe(options.targetScale)}`);
    }
    if (options.scale !== undefined) {
      if (typeof options.scale !== 'number' || !Number.isFinite(options.scale) || options.scale === 0) {
        throw new Error(`preprocessor: scale must be a finite non-zero number, got ${describe(options.scale)}`);
      }
      if (s !== undefined && s !== false) throw new Error('preprocessor: give either scale or standardize, not both');
    }
    this.options = { ...options };
  }

  /** Whether fit() (or fromJSON) has run. */
  get fitted(): boolean {
    return this.features !== null;
  }

  /**
   * Fits on the training data: feature statistics (NaN or infinite values are an error naming the row
   * and column), target statistics for float targets, and names, class names, fill values and the
   * CSV schema when `data` is a readCsv table.
   * @param data x (a Tensor [rows, ...] or a flat Float32Array with features or n), y (float targets or class
   * labels; optional), and from readCsv: featureNames, classNames, fill, schema, task.
   * @returns this preprocessor, fitted.
   * @throws Error when data is not an object with x, x has no rows or (flat) no whole row width, featureNames or fill
   * has the wrong length, a value is NaN or infinite, float y has no whole number of values per row, or targetScale
   * is true with class labels.
   * @example const prep = new data.Preprocessor().fit(data.readCsv('train.csv'));
   */
  fit(data: PreprocessorFitData): this {
    if (data === null || typeof data !== 'object' || data.x === undefined) {
      throw new Error(`preprocessor.fit: data must be an object { x, y? } (e.g. readCsv's table), got ${describe(data)}`);
    }
    const { x, features, rows } = rowsOf(data.x, data.features, data.n, 'preprocessor.fit');
    const names = data.featureNames ?? null;
    if (names !== null && names.length !== features) {
      throw new Error(`preprocessor.fit: featureNames has ${names.length} names for ${features} features`);
    }
    const fill = data.fill ?? null;
    if (fill !== null && fill.length !== features) throw new Error(`preprocessor.fit: fill has ${fill.length} values for ${features} features`);
    const o = this.options;
    let input: Preprocessor['input'] = null;
    if (o.scale !== undefined) {
      input = { per: 'global', mean: new Float32Array([0]), std: new Float32Array([1 / o.scale]) };
    } else if (o.standardize !== false) {
      const per = o.standardize === 'global' ? 'global' : 'feature';
      input = { per, ...columnStats(x, features, per, 'preprocessor.fit', names) };
    }
    let target: Preprocessor['target'] = null;
    let task = data.task ?? null;
    const y = data.y ?? null;
    if (y !== null && y !== undefined) {
      const floats = y instanceof Tensor ? y.data : y instanceof Float32Array ? y : null;
      task ??= floats !== null ? 'regression' : 'classification';
      if (floats !== null && o.targetScale !== false) {
        if (rows === 0 || floats.length % rows !== 0) {
          throw new Error(`preprocessor.fit: y has ${floats.length} values, not a whole number per row for ${rows} rows`);
        }
        target = columnStats(floats, floats.length / rows, 'feature', 'preprocessor.fit: y');
      } else if (floats === null && o.targetScale === true) {
        throw new Error('preprocessor.fit: targetScale is for float regression targets; y holds class labels');
      }
    }
    this.features = features;
    this.featureNames = names === null ? null : [...names];
    this.input = input;
    this.fill = fill === null ? null : Float32Array.from(fill);
    this.target = target;
    this.task = task;
    this.classNames = data.classNames === undefined || data.classNames === null ? null : [...data.classNames];
    this.csv = data.schema === undefined || data.schema === null ? null : cloneSchema(data.schema);
    return this;
  }

  private need(op: string): number {
    if (this.features === null) throw new Error(`${op}: the preprocessor is not fitted (call fit(trainingData) first)`);
    return this.features;
  }

  /**
   * Input rows ready for the model: a copy with missing values (NaN) filled and the scaling applied.
   * @param x a Tensor [rows, ...] (or 1-D: one row) or a flat Float32Array of rows of `features` values.
   * @param op the caller's name for errors (default 'preprocessor.transform').
   * @returns a new Tensor of x's shape ([rows, features] for a flat array, [1, features] for a 1-D Tensor).
   * @throws Error when the preprocessor is not fitted, x is neither a Tensor nor a Float32Array, its row width
   * differs from the fitted features, or a value is NaN without a fill value or infinite (naming row and column).
   * @example prep.transformX(tensor([[5.1, 3.5, 1.4, 0.2]]))
   */
  transformX(x: Tensor | Float32Array, op = 'preprocessor.transform'): Tensor {
    const features = this.need(op);
    let data: Float32Array;
    let shape: number[];
    if (x instanceof Tensor) {
      const per = x.ndim <= 1 ? x.size : x.size / x.shape[0];
      if (per !== features) {
        throw new Error(`${op}: input of shape [${x.shape.join(',')}] has ${per} values per row; the model's preprocessing was fitted on ${features}`);
      }
      data = x.data;
      shape = x.ndim <= 1 ? [1, features] : x.shape.slice();
    } else if (x instanceof Float32Array) {
      if (x.length % features !== 0) {
        throw new Error(`${op}: input has ${x.length} values, not a whole number of rows of ${features} features`);
      }
      data = x;
      shape = [x.length / features, features];
    } else {
      throw new Error(`${op}: input must be a Tensor or a Float32Array, got ${describe(x)}`);
    }
    const out = new Float32Array(data.length);
    const error = applyRowTransform(data, out, this.rowTransform()!, 0);
    if (error !== null) throw new Error(`${op}: ${error}`);
    return new Tensor(out, shape);
  }

  /**
   * The input side (fill, standardisation) as plain data, for the CSV parse workers (readCsvBatches' preprocessor option).
   * @example readCsvBatches('big.csv', { preprocessor: prep }) // the parse workers apply prep.rowTransform()
   */
  rowTransform(): RowTransform | null {
    if (this.features === null) return null;
    return {
      features: this.features,
      fill: this.fill,
      standardize: this.input === null ? null : { per: this.input.per, mean: this.input.mean, std: this.input.std },
      scale: null,
      names: this.featureNames,
    };
  }

  /**
   * Targets scaled like training saw them (a copy); unchanged (the same object) without target scaling.
   * @param y float targets: a Float32Array or Tensor of rows of the fitted target columns.
   * @returns (y - mean) / std per target column, as the same kind (Tensor or Float32Array).
   * @throws Error when y's length is not a multiple of the fitted target columns.
   * @example prep.transformY(Float32Array.of(250000, 310000))
   */
  transformY<T extends Float32Array | Tensor>(y: T): T {
    const t = this.target;
    if (t === null) return y;
    const data = y instanceof Tensor ? y.data : (y as Float32Array);
    const k = t.mean.length;
    if (data.length % k !== 0) throw new Error(`preprocessor: targets have ${data.length} values, not a multiple of the ${k} fitted target columns`);
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = (data[i] - t.mean[i % k]) / t.std[i % k];
    return (y instanceof Tensor ? new Tensor(out, y.shape) : out) as T;
  }

  /**
   * Model outputs in the targets' units (target scaling inverted); other outputs are returned as they are.
   * @param pred the model's output, rows of the fitted target columns.
   * @returns pred * std + mean per target column (a new Tensor), or pred itself without target scaling.
   * @throws Error when pred's size is not a multiple of the fitted target columns.
   * @example prep.outputs(model.forward(prep.transformX(x)))
   */
  outputs(pred: Tensor): Tensor {
    const t = this.target;
    if (t === null) return pred;
    const k = t.mean.length;
    if (pred.size % k !== 0) throw new Error(`predict: the model gives ${pred.size} values, not a multiple of the ${k} target columns it was trained on`);
    const out = new Float32Array(pred.size);
    const d = pred.data;
    for (let i = 0; i < d.length; i++) out[i] = d[i] * t.std[i % k] + t.mean[i % k];
    return new Tensor(out, pred.shape);
  }

  /**
   * The hook Module.predict / predictAsync call: inputs ready for the model (transformX).
   * @param x a Tensor [rows, ...] or a flat Float32Array of rows.
   * @param op the caller's name for errors.
   * @returns the transformed rows.
   * @throws Error as transformX does.
   * @example prep.inputs(x, 'predict') // the same as prep.transformX(x, 'predict')
   */
  inputs(x: Tensor | Float32Array, op: string): Tensor {
    return this.transformX(x, op);
  }

  /**
   * Training data as the model sees it: { x, y, n, features } with x transformed and float targets
   * scaled (class labels are passed through).
   * @param data x (a Tensor or flat Float32Array of rows of the fitted width) and y (optional).
   * @returns x (transformed, flat), y (scaled floats, or the labels as given, or null), n (rows) and features.
   * @throws Error when data is not an object with an x, or as transformX and transformY do.
   * @example const { x, y } = prep.transform(data.readCsv('valid.csv'));
   */
  transform(data: PreprocessorFitData): { x: Float32Array; y: Float32Array | Int32Array | number[] | Tensor | null; n: number; features: number } {
    const features = this.need('preprocessor.transform');
    if (data === null || typeof data !== 'object' || !('x' in data)) {
      throw new Error(`preprocessor.transform: data must be an object { x, y? } (as data.readCsv returns), got ${describe(data)}`);
    }
    const x = this.transformX(data.x instanceof Tensor ? data.x : data.x, 'preprocessor.transform');
    let y = data.y ?? null;
    if (y instanceof Float32Array || y instanceof Tensor) y = this.transformY(y);
    return { x: x.data, y, n: x.shape[0], features };
  }

  /**
   * Class names of rows of scores [rows, classes] (argmax; a single output is a logit for class 1). Indices as text without class names.
   * @param scores the model's outputs, [rows, classes] or [rows, 1].
   * @returns one class name (or index as text) per row.
   * @throws Error when the preprocessor was fitted for regression, or the scores have more than one column and
   * their count differs from the class names'.
   * @example prep.classesOf(predict(model, x)) // ['setosa', 'virginica', ...]
   */
  classesOf(scores: Tensor): string[] {
    if (this.task === 'regression') throw new Error('predictClasses: this model was fitted for regression; use predict');
    return classesOf(scores, this.classNames);
  }

  /**
   * A copy that leaves the input scaling out (keeps the fill, target scaling and names): `myelin predict --no-input-scale`.
   * @example model.preprocessor = model.preprocessor.withoutInputScaling(); // inputs already scaled
   */
  withoutInputScaling(): Preprocessor {
    const p = Preprocessor.fromJSON(this.toJSON(), 'withoutInputScaling');
    p.input = null;
    return p;
  }

  /**
   * The JSON block model.json stores.
   * @example const back = data.Preprocessor.fromJSON(prep.toJSON(), 'copy');
   */
  toJSON(): PreprocessingJson {
    const features = this.need('save');
    const arr = (a: Float32Array): number[] => Array.from(a);
    return {
      version: PREPROCESSING_VERSION,
      features,
      featureNames: this.featureNames === null ? null : [...this.featureNames],
      input: this.input === null ? null : { per: this.input.per, mean: arr(this.input.mean), std: arr(this.input.std) },
      fill: this.fill === null ? null : arr(this.fill),
      target: this.target === null ? null : { mean: arr(this.target.mean), std: arr(this.target.std) },
      task: this.task,
      classNames: this.classNames === null ? null : [...this.classNames],
      csv: this.csv === null ? null : cloneSchema(this.csv),
    };
  }

  /**
   * A fitted Preprocessor from model.json's block. Strict: an unknown or missing key, a wrong type, a
   * non-finite number, a zero std or a length that does not match `features` is an error naming it.
   * @param json the "preprocessing" block of model.json (as toJSON() wrote it).
   * @param where the file's name for errors.
   * @returns the fitted preprocessor.
   * @throws Error `<where>: preprocessing: ...` for a value that is not an object, an unknown or missing key, an
   * unsupported version, features that is not a positive integer, a list of the wrong kind or length, a
   * non-finite or (std) non-positive number, or an unknown task.
   * @example data.Preprocessor.fromJSON(prep.toJSON(), 'model.json')
   */
  static fromJSON(json: unknown, where: string): Preprocessor {
    const fail = (msg: string): never => { throw new Error(`${where}: preprocessing: ${msg}`); };
    const obj = (v: unknown, what: string, keys: string[]): Record<string, unknown> => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`${what} must be an object, got ${describe(v)}`);
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`unknown key '${what === 'the block' ? k : `${what}.${k}`}' (keys: ${keys.join(', ')})`);
      for (const k of keys) if (!Object.prototype.hasOwnProperty.call(o, k)) fail(`missing key '${what === 'the block' ? k : `${what}.${k}`}'`);
      return o;
    };
    const strings = (v: unknown, what: string): string[] | null => {
      if (v === null) return null;
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) fail(`${what} must be null or a list of strings, got ${describe(v)}`);
      return [...(v as string[])];
    };
    const numbers = (v: unknown, what: string, len: number[], positive = false): Float32Array => {
      if (!Array.isArray(v) || !v.every((n) => typeof n === 'number' && Number.isFinite(n) && Number.isFinite(Math.fround(n)) && (!positive || n > 0))) {
        fail(`${what} must be a list of finite${positive ? ' positive' : ''} float32 numbers, got ${describe(v)}`);
      }
      const a = v as number[];
      if (!len.includes(a.length)) fail(`${what} has ${a.length} values, expected ${len.join(' or ')}`);
      return Float32Array.from(a);
    };
    const j = obj(json, 'the block', JSON_KEYS);
    if (j.version !== PREPROCESSING_VERSION) fail(`version ${JSON.stringify(j.version)} is not supported (this myelin reads version ${PREPROCESSING_VERSION})`);
    const features = j.features;
    if (!Number.isSafeInteger(features) || (features as number) < 1) fail(`features must be a positive integer, got ${describe(features)}`);
    const f = features as number;
    const p = new Preprocessor();
    p.features = f;
    p.featureNames = strings(j.featureNames, 'featureNames');
    if (p.featureNames !== null && p.featureNames.length !== f) fail(`featureNames has ${p.featureNames.length} names for ${f} features`);
    if (j.input !== null) {
      const i = obj(j.input, 'input', ['per', 'mean', 'std']);
      if (i.per !== 'feature' && i.per !== 'global') fail(`input.per must be 'feature' or 'global', got ${describe(i.per)}`);
      const n = i.per === 'feature' ? [f] : [1];
      p.input = { per: i.per as 'feature' | 'global', mean: numbers(i.mean, 'input.mean', n), std: numbers(i.std, 'input.std', n, true) };
    }
    if (j.fill !== null) p.fill = numbers(j.fill, 'fill', [f]);
    if (j.target !== null) {
      const t = obj(j.target, 'target', ['mean', 'std']);
      const mean = numbers(t.mean, 'target.mean', [Array.isArray(t.mean) ? t.mean.length : 0]);
      if (mean.length < 1) fail('target.mean is empty');
      p.target = { mean, std: numbers(t.std, 'target.std', [mean.length], true) };
    }
    if (j.task !== null && j.task !== 'classification' && j.task !== 'regression') fail(`task must be 'classification', 'regression' or null, got ${describe(j.task)}`);
    p.task = j.task as Preprocessor['task'];
    p.classNames = strings(j.classNames, 'classNames');
    if (p.classNames !== null && (p.classNames.length < 1 || new Set(p.classNames).size !== p.classNames.length)) fail('classNames must be distinct and not empty');
    if (p.classNames !== null && p.task !== 'classification') fail('classNames is set but the task is not classification');
    if (p.target !== null && p.task !== 'regression') fail('target scaling is set but the task is not regression');
    if (j.csv !== null) {
      const c = obj(j.csv, 'csv', ['columns', 'columnCount', 'labelName', 'categories']);
      const columns = strings(c.columns, 'csv.columns');
      if (!Number.isSafeInteger(c.columnCount) || (c.columnCount as number) < 1) fail(`csv.columnCount must be a positive integer, got ${describe(c.columnCount)}`);
      if (columns !== null && columns.length !== c.columnCount) fail(`csv.columns has ${columns.length} names for csv.columnCount ${String(c.columnCount)}`);
      if (c.labelName !== null && typeof c.labelName !== 'string') fail(`csv.labelName must be null or a string, got ${describe(c.labelName)}`);
      const cats = c.categories;
      if (cats === null || typeof cats !== 'object' || Array.isArray(cats)) fail(`csv.categories must be an object, got ${describe(cats)}`);
      const categories: Record<string, string[]> = {};
      let width = (c.columnCount as number);
      for (const [k, v] of Object.entries(cats as Record<string, unknown>)) {
        const list = strings(v, `csv.categories['${k}']`);
        if (list === null || list.length < 1) fail(`csv.categories['${k}'] must list at least one category`);
        if (columns !== null ? !columns.includes(k) : !(Number.isInteger(Number(k)) && Number(k) >= 0)) fail(`csv.categories names a column '${k}' that is not a feature column`);
        categories[k] = list!;
        width += list!.length - 1;
      }
      if (width !== f) fail(`the CSV layout gives ${width} features (${String(c.columnCount)} columns, one-hot expanded), not ${f}`);
      p.csv = { columns, columnCount: c.columnCount as number, labelName: c.labelName as string | null, categories };
    }
    return p;
  }
}

function cloneSchema(s: CsvSchema): CsvSchema {
  const categories: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(s.categories)) categories[k] = [...v];
  return { columns: s.columns === null ? null : [...s.columns], columnCount: s.columnCount, labelName: s.labelName, categories };
}

/** Rows of x as a flat array with their width: a Tensor [n, ...] or a flat Float32Array with `features` (or n). */
function rowsOf(x: Float32Array | Tensor, features: number | undefined, n: number | undefined, op: string): { x: Float32Array; features: number; rows: number } {
  if (x instanceof Tensor) {
    if (x.ndim < 1 || x.shape[0] === 0) throw new Error(`${op}: x of shape [${x.shape.join(',')}] has no rows`);
    return { x: x.data, features: x.size / x.shape[0], rows: x.shape[0] };
  }
  if (!(x instanceof Float32Array)) throw new Error(`${op}: x must be a Float32Array or a Tensor, got ${describe(x)}`);
  const f = features ?? (n !== undefined && n > 0 ? x.length / n : undefined);
  if (f === undefined || !Number.isInteger(f) || f < 1 || x.length % f !== 0) {
    throw new Error(`${op}: a flat Float32Array x needs features (values per row); got ${x.length} values with features = ${String(features)}`);
  }
  return { x, features: f, rows: x.length / f };
}

/** Class of each row of scores [rows, classes] (argmax; one output = a logit for class 1), as names or index text. */
export function classesOf(scores: Tensor, classNames: readonly string[] | null): string[] {
  const rows = scores.ndim === 0 ? 1 : scores.shape[0];
  const k = rows === 0 ? 0 : scores.size / rows;
  const d = scores.data;
  const out = new Array<string>(rows);
  if (classNames !== null && k > 1 && k !== classNames.length) {
    throw new Error(`predictClasses: the model has ${k} outputs but ${classNames.length} class names`);
  }
  for (let r = 0; r < rows; r++) {
    let best = 0;
    if (k === 1) best = d[r] > 0 ? 1 : 0;
    else for (let j = 1; j < k; j++) if (d[r * k + j] > d[r * k + best]) best = j;
    out[r] = classNames !== null ? classNames[best] : String(best);
  }
  return out;
}

/**
 * A new (unfitted) Preprocessor: `data.preprocessor({ standardize: true }).fit(table)`.
 * @param options standardize (true / 'feature', 'global', or false), targetScale, scale; see PreprocessorOptions.
 * @returns the unfitted Preprocessor.
 * @throws Error for an unknown or bad option.
 * @example
 * ```ts
 * const prep = data.preprocessor({ standardize: true }).fit(table);
 * ```
 */
export function preprocessor(options: PreprocessorOptions = {}): Preprocessor {
  return new Preprocessor(options);
}

/** The preprocessor a model carries (model.preprocessor), if any. */
export function preprocessorOf(model: unknown): Preprocessor | null {
  const p = (model as { preprocessor?: unknown } | null)?.preprocessor;
  return p instanceof Preprocessor ? p : null;
}
