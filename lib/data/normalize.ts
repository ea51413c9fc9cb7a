// Input scaling: standardise features with statistics computed on the training set only.
import type { Dataset } from './split';
import { checkOneOf, checkOptions, checkPositiveInt, invalid } from '../validate';

export interface Standardization {
  /** Mean(s) subtracted: one value ('global') or one per feature ('feature'). */
  mean: Float32Array;
  /** Standard deviation(s) divided by (a zero deviation is replaced by 1). */
  std: Float32Array;
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
 * `train` and every dataset in `others` (e.g. the test set). per: 'global' (default, one mean and
 * std over all pixels, the usual choice for images) or 'feature' (per column).
 */
export function standardize(
  train: Pick<Dataset, 'x' | 'features'>, others: Array<Pick<Dataset, 'x' | 'features'>> = [],
  options: { per?: 'global' | 'feature' } = {},
): Standardization {
  const o = checkOptions('standardize', options, ['per']);
  const per = o.per === undefined ? 'global' : checkOneOf('standardize', 'per', o.per, ['global', 'feature'] as const);
  checkDataset('train', train);
  if (!Array.isArray(others)) invalid('standardize', 'others', 'an array of datasets { x, features }', others);
  others.forEach((d, i) => checkDataset(`others[${i}]`, d));
  const f = train.features;
  for (const d of [train, ...others]) {
    if (d.features !== f || d.x.length % f !== 0) {
      throw new Error(`standardize: datasets differ in width: ${d.features} vs ${f} features (x has ${d.x.length} values)`);
    }
  }
  const cols = per === 'global' ? 1 : f;
  const sum = new Float64Array(cols);
  const sq = new Float64Array(cols);
  const x = train.x;
  for (let i = 0; i < x.length; i++) {
    const c = cols === 1 ? 0 : i % f;
    const v = x[i];
    if (!Number.isFinite(v)) {
      throw new Error(`standardize: training value at row ${Math.floor(i / f)}, column ${i % f} is ${v}; statistics need finite values (drop or impute missing ones first)`);
    }
    sum[c] += v;
    sq[c] += v * v;
  }
  const count = x.length / cols;
  if (count === 0) throw new Error('standardize: the training set is empty');
  const mean = new Float32Array(cols);
  const std = new Float32Array(cols);
  for (let c = 0; c < cols; c++) {
    mean[c] = sum[c] / count;
    const variance = Math.max(sq[c] / count - (sum[c] / count) ** 2, 0);
    std[c] = variance > 1e-12 ? Math.sqrt(variance) : 1;
  }
  for (const d of [train, ...others]) {
    const v = d.x;
    for (let i = 0; i < v.length; i++) {
      const c = cols === 1 ? 0 : i % f;
      v[i] = (v[i] - mean[c]) / std[c];
    }
  }
  return { mean, std };
}
