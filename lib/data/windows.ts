// Sliding windows: next-token language-modelling pairs over a token stream, and (window, horizon) pairs over a time series.
import { Tensor } from '../tensor';
import { IntTensor } from '../int-tensor';
import { argumentError, checkNumber, checkOptions, checkPositiveInt, invalid } from '../validate';

/** Options of data.languageModelWindows: stride between windows (default the context length). */
export interface LanguageModelWindowOptions {
  /** Positions between the starts of consecutive windows (default contextLength: windows do not overlap). */
  stride?: number;
}

/** What data.languageModelWindows returns: inputs and next-token targets, [windows, contextLength] each. */
export interface LanguageModelWindows {
  /** [windows, contextLength] token ids. */
  inputs: IntTensor;
  /** Shape [windows, contextLength]: the token after each input position (inputs shifted left by one). */
  targets: IntTensor;
}

/** Token ids as an Int32Array (from an array of integers, an Int32Array or a 1-D IntTensor). */
function tokenStream(where: string, ids: unknown): Int32Array {
  if (ids instanceof IntTensor) {
    if (ids.ndim !== 1) throw argumentError(where, `ids must be a 1-D stream of token ids, got an IntTensor of shape [${ids.shape.join(',')}] (reshape(-1) joins rows)`);
    return ids.data;
  }
  if (ids instanceof Int32Array) return ids;
  if (Array.isArray(ids)) {
    const out = new Int32Array(ids.length);
    ids.forEach((v, i) => {
      if (!Number.isInteger(v)) invalid(where, `ids[${i}]`, 'an integer token id', v);
      out[i] = v as number;
    });
    return out;
  }
  invalid(where, 'ids', 'an Int32Array, an array of integer ids or a 1-D IntTensor', ids);
}

/**
 * Language-modelling pairs from one token stream: window w reads ids[s, s + contextLength) and its targets are
 * ids[s + 1, s + contextLength + 1), s = w * stride. Needs at least contextLength + 1 tokens.
 * @param ids the token stream (at least contextLength + 1 ids).
 * @param contextLength tokens per window, a positive integer.
 * @param opts stride (tokens between window starts, a positive integer; default contextLength).
 * @returns inputs and targets, each [windows, contextLength].
 * @throws Error when contextLength or stride is not a positive integer, an option is unknown, the ids are not token ids, or there are too few for one window.
 * @example
 * ```ts
 * const { inputs, targets } = data.languageModelWindows(vocab.encode(text), 32);
 * ```
 */
export function languageModelWindows(ids: Int32Array | readonly number[] | IntTensor, contextLength: number, opts: LanguageModelWindowOptions = {}): LanguageModelWindows {
  const where = 'languageModelWindows';
  const stream = tokenStream(where, ids);
  const T = checkPositiveInt(where, 'contextLength', contextLength);
  const o = checkOptions(where, opts, ['stride']);
  const stride = o.stride === undefined ? T : checkPositiveInt(where, 'stride', o.stride);
  if (stream.length < T + 1) {
    throw argumentError(where, `${stream.length} tokens are too few for one window of contextLength ${T} (needs ${T + 1}: the inputs and one more target)`);
  }
  const n = Math.floor((stream.length - T - 1) / stride) + 1;
  const inputs = new Int32Array(n * T);
  const targets = new Int32Array(n * T);
  for (let w = 0; w < n; w++) {
    const s = w * stride;
    inputs.set(stream.subarray(s, s + T), w * T);
    targets.set(stream.subarray(s + 1, s + T + 1), w * T);
  }
  return { inputs: new IntTensor(inputs, [n, T]), targets: new IntTensor(targets, [n, T]) };
}

/** Options of data.timeSeriesWindows: horizon (steps ahead, default 1), stride and targetColumns. */
export interface TimeSeriesWindowOptions {
  /** Steps ahead to predict after each window (default 1). */
  horizon?: number;
  /** Steps between the starts of consecutive windows (default 1). */
  stride?: number;
  /** For a multivariate series [steps, features]: the column(s) to predict (default all). */
  targetColumns?: number[];
}

/** What data.timeSeriesWindows returns: input windows and their targets. */
export interface TimeSeriesWindows {
  /** [windows, window] for a 1-D series, [windows, window, features] for [steps, features]. */
  inputs: Tensor;
  /** [windows, horizon] (1-D series or one target column), else [windows, horizon, targetColumns]. */
  targets: Tensor;
}

/**
 * (window, horizon) pairs over a series of shape [steps] or [steps, features]: window w reads steps
 * [s, s + window) and its targets are steps [s + window, s + window + horizon), s = w * stride.
 * @param series the series, [steps] or [steps, features] (a Tensor, a Float32Array or an array of numbers).
 * @param window steps per input window, a positive integer.
 * @param opts horizon (steps predicted, default 1), stride (default 1), targetColumns (for [steps, features]: the columns predicted; default all).
 * @returns inputs [windows, window(, features)] and targets [windows, horizon(, columns)].
 * @throws Error when series has the wrong type or rank, window, horizon or stride is not a positive integer, an option is unknown, targetColumns is given for a 1-D series or is not a non-empty array of column indices, or the series is too short for one window.
 * @example
 * ```ts
 * const { inputs, targets } = data.timeSeriesWindows(new Float32Array(100).map((_, i) => Math.sin(i / 5)), 12);
 * ```
 */
export function timeSeriesWindows(series: Tensor | Float32Array | readonly number[], window: number, opts: TimeSeriesWindowOptions = {}): TimeSeriesWindows {
  const where = 'timeSeriesWindows';
  const numeric = series instanceof Float32Array || (Array.isArray(series) && series.every((v) => typeof v === 'number'));
  if (!(series instanceof Tensor) && !numeric) {
    invalid(where, 'series', 'a Tensor [steps] or [steps, features], a Float32Array or an array of numbers', series);
  }
  // A flat series is copied into a 1-D tensor [steps].
  const { data, shape } = series instanceof Tensor ? series : new Tensor(Float32Array.from(series as ArrayLike<number>), [series.length]);
  if (shape.length !== 1 && shape.length !== 2) throw argumentError(where, `series must be [steps] or [steps, features], got shape [${shape.join(',')}]`);
  const W = checkPositiveInt(where, 'window', window);
  const o = checkOptions(where, opts, ['horizon', 'stride', 'targetColumns']);
  const H = o.horizon === undefined ? 1 : checkPositiveInt(where, 'horizon', o.horizon);
  const stride = o.stride === undefined ? 1 : checkPositiveInt(where, 'stride', o.stride);
  const steps = shape[0];
  const F = shape.length === 2 ? shape[1] : 1;
  let cols: number[];
  if (o.targetColumns === undefined) cols = Array.from({ length: F }, (_, i) => i);
  else {
    if (shape.length !== 2) throw argumentError(where, 'targetColumns applies to a [steps, features] series; this one is 1-D');
    if (!Array.isArray(o.targetColumns) || o.targetColumns.length === 0) invalid(where, 'targetColumns', 'a non-empty array of column indices', o.targetColumns);
    cols = o.targetColumns.map((c, i) => checkNumber(where, `targetColumns[${i}]`, c, { integer: true, min: 0, max: F - 1 }));
  }
  if (steps < W + H) throw argumentError(where, `a series of ${steps} steps is too short for window ${W} plus horizon ${H}`);
  const n = Math.floor((steps - W - H) / stride) + 1;
  const C = cols.length;
  const inputs = new Float32Array(n * W * F);
  const targets = new Float32Array(n * H * C);
  for (let w = 0; w < n; w++) {
    const s = w * stride;
    inputs.set(data.subarray(s * F, (s + W) * F), w * W * F);
    for (let h = 0; h < H; h++) for (let c = 0; c < C; c++) targets[(w * H + h) * C + c] = data[(s + W + h) * F + cols[c]];
  }
  const inShape = shape.length === 1 ? [n, W] : [n, W, F];
  const tShape = shape.length === 1 || C === 1 ? [n, H] : [n, H, C];
  return { inputs: new Tensor(inputs, inShape), targets: new Tensor(targets, tShape) };
}
