// Input scaling: standardise features with statistics computed on the training set only.
import type { Dataset } from './split';

export interface Standardization {
  /** Mean(s) subtracted: one value ('global') or one per feature ('feature'). */
  mean: Float32Array;
  /** Standard deviation(s) divided by (a zero deviation is replaced by 1). */
  std: Float32Array;
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
  const per = options.per ?? 'global';
  if (per !== 'global' && per !== 'feature') throw new Error(`standardize: per must be 'global' or 'feature', got '${String(per)}'`);
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
    sum[c] += x[i];
    sq[c] += x[i] * x[i];
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
