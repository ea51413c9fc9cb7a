// Scratch buffers of the TypeScript kernels: grown on demand, reused across calls (kernels are synchronous, so never shared).

let packScratch = new Float32Array(4096);
/** A float32 buffer of at least n elements (packed matrix panels). */
export function packBuffer(n: number): Float32Array {
  if (packScratch.length < n) packScratch = new Float32Array(Math.max(n, packScratch.length * 2));
  return packScratch;
}

let rowScratch = new Float64Array(1024);
/** A float64 buffer of at least n elements (row accumulators). */
export function rowBuffer(n: number): Float64Array {
  if (rowScratch.length < n) rowScratch = new Float64Array(Math.max(n, rowScratch.length * 2));
  return rowScratch;
}
