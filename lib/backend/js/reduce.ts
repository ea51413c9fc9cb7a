// TypeScript twins of the reductions: sum, colSum, rowSum, in the summation order of the C++ kernels (native/kernels/elementwise.h), so both backends give the same float64 sum bit for bit, cancellations included.
import { rowBuffer } from './scratch';

/** From this many elements the C++ sum works in chunks (kParallelThreshold), each SUM_CHUNK long. */
const SUM_CHUNKED_FROM = 65536;
const SUM_CHUNK = 16384;

/** x[off, off + n) summed in float64: 16 interleaved partial sums, combined like AVX2 lanes, then the tail. */
export function sumInOrder(x: Float32Array, off: number, n: number): number {
  let p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0;
  let p8 = 0, p9 = 0, p10 = 0, p11 = 0, p12 = 0, p13 = 0, p14 = 0, p15 = 0;
  const end = off + n;
  let i = off;
  for (; i + 16 <= end; i += 16) {
    p0 += x[i]; p1 += x[i + 1]; p2 += x[i + 2]; p3 += x[i + 3];
    p4 += x[i + 4]; p5 += x[i + 5]; p6 += x[i + 6]; p7 += x[i + 7];
    p8 += x[i + 8]; p9 += x[i + 9]; p10 += x[i + 10]; p11 += x[i + 11];
    p12 += x[i + 12]; p13 += x[i + 13]; p14 += x[i + 14]; p15 += x[i + 15];
  }
  const q0 = (p0 + p4) + (p8 + p12);
  const q1 = (p1 + p5) + (p9 + p13);
  const q2 = (p2 + p6) + (p10 + p14);
  const q3 = (p3 + p7) + (p11 + p15);
  let s = (q0 + q2) + (q1 + q3);
  for (; i < end; i++) s += x[i];
  return s;
}

export function sum(n: number, x: Float32Array): number {
  if (n < SUM_CHUNKED_FROM) return sumInOrder(x, 0, n);
  let s = 0;
  for (let b = 0; b < n; b += SUM_CHUNK) s += sumInOrder(x, b, Math.min(SUM_CHUNK, n - b));
  return s;
}

export function colSum(M: number, N: number, x: Float32Array, out: Float32Array): void {
  const s = rowBuffer(N);
  s.fill(0, 0, N);
  for (let i = 0; i < M; i++) {
    const o = i * N;
    for (let j = 0; j < N; j++) s[j] += x[o + j];
  }
  for (let j = 0; j < N; j++) out[j] = s[j];
}

export function rowSum(M: number, N: number, x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < M; i++) out[i] = sumInOrder(x, i * N, N);
}
