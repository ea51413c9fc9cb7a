// The input transform of a preprocessor as plain data, applied to rows of floats: shared by Preprocessor.transformX and the CSV parse workers (so it imports nothing).

/** What a fitted preprocessor does to input rows (or a fixed scale), as plain, structured-cloneable data. */
export interface RowTransform {
  /** Values per row. */
  features: number;
  /** Per feature: what a NaN becomes before scaling; null: NaN is an error. */
  fill: number[] | Float32Array | null;
  /** (v - mean[c]) / std[c], c the feature ('feature') or 0 ('global'); null: no standardisation. */
  standardize: { per: 'feature' | 'global'; mean: number[] | Float32Array; std: number[] | Float32Array } | null;
  /** v * scale (a fixed factor, e.g. 1/255), after the standardisation if both; null: none. */
  scale: number | null;
  /** Feature names for error messages. */
  names: readonly string[] | null;
}

/**
 * Writes the transformed rows of `src` into `out` (which may be `src`): NaN filled, then standardised,
 * then scaled, each value computed in float64 from the float32 input and stored as float32. Returns
 * null, or the error for the first NaN without a fill value or infinite value, naming its row
 * (0-based, plus rowOffset) and column.
 */
export function applyRowTransform(src: Float32Array, out: Float32Array, t: RowTransform, rowOffset = 0): string | null {
  const features = t.features;
  const fill = t.fill;
  const mean = t.standardize?.mean ?? null;
  const std = t.standardize?.std ?? null;
  const perFeature = t.standardize?.per === 'feature';
  const scale = t.scale;
  for (let i = 0, f = 0; i < src.length; i++, f = f + 1 === features ? 0 : f + 1) {
    let v = src[i];
    if (v - v !== 0) {
      if (v !== v && fill !== null) v = fill[f];
      else {
        const r = Math.floor(i / features) + rowOffset;
        const name = t.names !== null && t.names[f] !== undefined ? ` ('${t.names[f]}')` : '';
        const why = v !== v ? "missing values were not filled in training (readCsv missing: 'mean' fits a fill)" : 'inputs must be finite';
        return `row ${r}, column ${f}${name} (0-based) is ${v}: ${why}`;
      }
    }
    if (mean !== null) {
      const c = perFeature ? f : 0;
      v = (v - mean[c]) / std![c];
    }
    if (scale !== null) v *= scale;
    out[i] = v;
  }
  return null;
}
