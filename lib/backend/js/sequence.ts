// TypeScript twins of the sequence family: gatherRows (embedding lookup) and scatterAddRows (its gradient).

/** out[i] (D values) = table[idx[i]] for i < n. */
export function gatherRows(V: number, D: number, n: number, table: Float32Array, idx: Int32Array, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    const s = idx[i] * D;
    // Short rows element by element; a subarray per row costs more below ~32 values.
    if (D < 32) for (let k = 0; k < D; k++) out[i * D + k] = table[s + k];
    else out.set(table.subarray(s, s + D), i * D);
  }
}

/** table[idx[i]] += src[i] (D values) for i < n with idx[i] !== skip, in index order. */
export function scatterAddRows(V: number, D: number, n: number, table: Float32Array, idx: Int32Array, src: Float32Array, skip: number): void {
  for (let i = 0; i < n; i++) {
    const r = idx[i];
    if (r === skip) continue;
    const d = r * D;
    const s = i * D;
    for (let k = 0; k < D; k++) table[d + k] += src[s + k];
  }
}
