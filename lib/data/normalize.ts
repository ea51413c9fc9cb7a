// Input scaling: standardise features with statistics computed on the training set only.
import type { Dataset } from './split';
import { checkOneOf, checkOptions, checkPositiveInt, invalid } from '../validate';

/** The statistics of data.standardize: mean and std per feature (or one of each), to apply to new rows. */
export interface Standardization {
  /** Mean(s) subtracted: one per feature ('feature') or one value ('global'). */
  mean: Float32Array;
  /** Standard deviation(s) divided by (a zero deviation is replaced by 1). */
  std: Float32Array;
}

/** Options of data.standardize: per 'feature' (default) or 'global' statistics. */
export interface StandardizeOptions {
  /**
   * 'feature' (default): one mean and std per column, what tabular data needs. 'global': one mean and
   * std over every value, for images whose pixels share a scale (ask for it explicitly).
   */
  per?: 'feature' | 'global';
}

/** Throws at the first NaN or infinite value of rows of `features` values, naming its row and column (0-based). */
export function checkFinite(x: Float32Array, features: number, what: string, names?: readonly string[] | null, rowOffset = 0): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v - v !== 0) {
      const r = Math.floor(i / features);
      const f = i - r * features;
      const name = names !== undefined && names !== null && names[f] !== undefined ? ` ('${names[f]}')` : '';
      throw new Error(
        `${what}: row ${r + rowOffset}, column ${f}${name} (0-based) is ${v}: statistics need finite values ` +
          "(drop or fill missing values first, e.g. readCsv's missing: 'drop' or 'mean')",
      );
    }
  }
}

/**
 * Per-column (or global) mean and standard deviation of rows of `features` values, in float64. A
 * NaN or infinite value is an error naming its row and column (0-based), so the statistics are never
 * NaN. `what` names the caller in errors.
 */
export function columnStats(
  x: Float32Array, features: number, per: 'feature' | 'global', what: string, names?: readonly string[] | null,
): Standardization {
  const cols = per === 'global' ? 1 : features;
  const rows = x.length / features;
  if (rows === 0) throw new Error(`${what}: the training set is empty`);
  checkFinite(x, features, what, names);
  // Two passes (mean, then squared deviations): no cancellation for columns far from zero.
  const sum = new Float64Array(cols);
  for (let i = 0; i < x.length; i++) sum[cols === 1 ? 0 : i % features] += x[i];
  const count = x.length / cols;
  const m = sum.map((s) => s / count);
  const sq = new Float64Array(cols);
  for (let i = 0; i < x.length; i++) {
    const c = cols === 1 ? 0 : i % features;
    const d = x[i] - m[c];
    sq[c] += d * d;
  }
  const mean = Float32Array.from(m);
  const std = new Float32Array(cols);
  for (let c = 0; c < cols; c++) {
    const variance = sq[c] / count;
    // A constant column is only centred.
    std[c] = variance > 1e-12 ? Math.sqrt(variance) : 1;
  }
  return { mean, std };
}

/** A dataset argument of standardize: { x: Float32Array, features: positive integer }. */
function checkDataset(name: string, d: unknown): void {
  if (d === null || typeof d !== 'object') invalid('standardize', name, 'a dataset { x, features }', d);
  const ds = d as { x?: unknown; features?: unknown };
  if (!(ds.x instanceof Float32Array)) invalid('standardize', `${name}.x`, 'a Float32Array', ds.x);
  checkPositiveInt('standardize', `${name}.features`, ds.features);
}

/**
 * Standardises x in place: (x - mean) / std, with mean and std computed from `train` and applied to
 * `train` and every dataset in `others` (e.g. the test set). per: 'feature' (default, per column) or
 * 'global' (one mean and std over all values, for images).
 * @param train the dataset the mean and std are computed from ({ x, features }); changed in place.
 * @param others datasets scaled with train's statistics (default none); changed in place.
 * @param options per: 'feature' (default, per column) or 'global'.
 * @returns the mean and std used (to scale new inputs the same way).
 * @throws Error for an unknown option or per value, a dataset that is not { x: Float32Array, features }, datasets of different widths, or a non-finite value.
 * @example
 * ```ts
 * const digits = data.loadDigits(); data.standardize(digits.train, [digits.test]);
 * ```
 */
export function standardize(
  train: Pick<Dataset, 'x' | 'features'>, others: Array<Pick<Dataset, 'x' | 'features'>> = [],
  options: StandardizeOptions = {},
): Standardization {
  const o = checkOptions('standardize', options, ['per']);
  const per = o.per === undefined ? 'feature' : checkOneOf('standardize', 'per', o.per, ['feature', 'global'] as const);
  checkDataset('train', train);
  if (!Array.isArray(others)) invalid('standardize', 'others', 'an array of datasets { x, features }', others);
  others.forEach((d, i) => checkDataset(`others[${i}]`, d));
  const f = train.features;
  for (const d of [train, ...others]) {
    if (d.features !== f || d.x.length % f !== 0) {
      throw new Error(`standardize: datasets differ in width: ${d.features} vs ${f} features (x has ${d.x.length} values)`);
    }
  }
  const { mean, std } = columnStats(train.x, f, per, 'standardize');
  others.forEach((d, k) => checkFinite(d.x, f, `standardize: others[${k}]`));
  const cols = mean.length;
  for (const d of [train, ...others]) {
    const v = d.x;
    for (let i = 0; i < v.length; i++) {
      const c = cols === 1 ? 0 : i % f;
      v[i] = (v[i] - mean[c]) / std[c];
    }
  }
  return { mean, std };
}
