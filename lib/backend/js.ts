// The pure-TypeScript backend: every kernel of the contract in plain TS (reference, fallback, JS benchmark side).
import type { Activation, Backend, BackendInfo, PlanLayer, UnaryOp } from './contract';
import { ACTIVATION_CODE, FrozenPlanRegistry, UNARY_CODE } from './contract';

// ---------------------------------------------------------------------------------------------
// Argument validation: O(1) per call (label checks excepted), messages start with the kernel name.
// ---------------------------------------------------------------------------------------------

/** Integer size >= 1 (matrix dimensions). */
function checkDim(kernel: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0x7fffffff) {
    throw new Error(`${kernel}: ${name} must be an integer >= 1, got ${String(v)}`);
  }
}

/** Integer count >= 0 (flat kernels). */
function checkCount(kernel: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
    throw new Error(`${kernel}: ${name} must be an integer >= 0, got ${String(v)}`);
  }
}

function checkNumber(kernel: string, name: string, v: number): void {
  if (typeof v !== 'number') throw new Error(`${kernel}: ${name} must be a number, got ${typeof v}`);
  if (!Number.isFinite(v)) throw new Error(`${kernel}: ${name} must be a finite number, got ${v}`);
}

/** Any number, Infinity and NaN included (scale factors: x * Infinity is IEEE arithmetic, not an error). */
function checkScalar(kernel: string, name: string, v: number): void {
  if (typeof v !== 'number') throw new Error(`${kernel}: ${name} must be a number, got ${typeof v}`);
}

function checkBool(kernel: string, name: string, v: boolean): void {
  if (typeof v !== 'boolean') throw new Error(`${kernel}: ${name} must be a boolean, got ${typeof v}`);
}

/** buf must be a Float32Array with at least `need` elements; `expr` (with `sizes`) says where `need` comes from. */
function checkF32(
  kernel: string, name: string, buf: Float32Array, need: number, expr: string, sizes = '',
): void {
  if (!(buf instanceof Float32Array)) {
    throw new Error(`${kernel}: ${name} must be a Float32Array, got ${describe(buf)}`);
  }
  if (buf.length < need) {
    throw new Error(
      `${kernel}: ${name} has ${buf.length} elements, expected ${expr} = ${need}${sizes === '' ? '' : ` (${sizes})`}`,
    );
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

function checkAct(kernel: string, act: Activation): void {
  if (typeof act !== 'string' || !Object.prototype.hasOwnProperty.call(ACTIVATION_CODE, act)) {
    throw new Error(
      `${kernel}: unknown activation '${String(act)}' (expected one of ${Object.keys(ACTIVATION_CODE).join(', ')})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Scalar math: erfc (for exact gelu), sigmoid, gelu variants and their derivatives.
// ---------------------------------------------------------------------------------------------

/**
 * Complementary error function. Chebyshev-fitted form erfc(z) = t exp(-z^2 + P(t)), t = 1/(1+z/2)
 * (Press et al., Numerical Recipes, "erfcc"): fractional error < 1.2e-7 for every z, including
 * the far tails, which keeps gelu accurate in relative terms for large negative inputs.
 */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t * (1.00002368 +
    t * (0.37409196 +
    t * (0.09678418 +
    t * (-0.18628806 +
    t * (0.27886807 +
    t * (-1.13520398 +
    t * (1.48851587 +
    t * (-0.82215223 +
    t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_C = 0.044715;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Standard normal CDF, relative accuracy ~1e-7 on both tails. */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT2);
}

function gelu(x: number): number {
  if (x === Infinity) return x;
  if (x === -Infinity) return -0;
  return x * normalCdf(x);
}

function geluGrad(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  return normalCdf(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

// 0.5 x (1 + tanh(u)) == x * sigmoid(2u): the sigmoid form keeps the negative tail accurate.
function geluTanh(x: number): number {
  if (x === Infinity) return x;
  if (x === -Infinity) return -0;
  const u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
  return x * sigmoid(2 * u);
}

function geluTanhGrad(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  const x2 = x * x;
  const u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x2 * x);
  const s = sigmoid(2 * u);
  const du = SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * x2);
  const d = s + x * 2 * s * (1 - s) * du;
  // x*0 at huge |x| where s(1-s) underflows: the limit (a NaN input stays NaN)
  return d === d || x !== x ? d : x > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Scratch buffers (grown on demand, reused across calls; kernels are synchronous so never shared).
// ---------------------------------------------------------------------------------------------

let packScratch = new Float32Array(4096);
function packBuffer(n: number): Float32Array {
  if (packScratch.length < n) packScratch = new Float32Array(Math.max(n, packScratch.length * 2));
  return packScratch;
}

let rowScratch = new Float64Array(1024);
function rowBuffer(n: number): Float64Array {
  if (rowScratch.length < n) rowScratch = new Float64Array(Math.max(n, rowScratch.length * 2));
  return rowScratch;
}

// ---------------------------------------------------------------------------------------------
// GEMM core
// ---------------------------------------------------------------------------------------------

/** dst[c * rows + r] = src[r * cols + c]: a rows x cols matrix transposed into cols x rows, in tiles. */
function transposeInto(rows: number, cols: number, src: Float32Array, dst: Float32Array): void {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(r0 + T, rows);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(c0 + T, cols);
      for (let r = r0; r < r1; r++) {
        const so = r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[so + c];
      }
    }
  }
}

/**
 * C[M,N] = alpha * A[M,K] * Bt[N,K]^T + beta * C, with A and Bt both row-major, so every output
 * is a dot product of two contiguous rows. Register-blocked 2 rows of A x 4 rows of Bt (8 float64
 * accumulators), with Bt split into column blocks that stay in cache. Sums run in float64 and
 * are rounded once. beta == 0: C is not read.
 */
function gemmDot(
  M: number, N: number, K: number, alpha: number, A: Float32Array, aOff: number,
  Bt: Float32Array, beta: number, C: Float32Array,
): void {
  const NB = Math.max(4, Math.min(N, ((16384 / K) | 0) & ~3)); // ~64 KB of Bt per block
  const readC = beta !== 0;
  for (let j0 = 0; j0 < N; j0 += NB) {
    const j1 = Math.min(j0 + NB, N);
    let i = 0;
    for (; i + 1 < M; i += 2) {
      const a0 = aOff + i * K;
      const a1 = a0 + K;
      const c0 = i * N;
      const c1 = c0 + N;
      let j = j0;
      for (; j + 3 < j1; j += 4) {
        const b0 = j * K;
        const b1 = b0 + K;
        const b2 = b1 + K;
        const b3 = b2 + K;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        for (let k = 0; k < K; k++) {
          const x0 = A[a0 + k];
          const x1 = A[a1 + k];
          const y0 = Bt[b0 + k];
          const y1 = Bt[b1 + k];
          const y2 = Bt[b2 + k];
          const y3 = Bt[b3 + k];
          s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
          s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        }
        if (readC) {
          C[c0 + j] = alpha * s00 + beta * C[c0 + j];
          C[c0 + j + 1] = alpha * s01 + beta * C[c0 + j + 1];
          C[c0 + j + 2] = alpha * s02 + beta * C[c0 + j + 2];
          C[c0 + j + 3] = alpha * s03 + beta * C[c0 + j + 3];
          C[c1 + j] = alpha * s10 + beta * C[c1 + j];
          C[c1 + j + 1] = alpha * s11 + beta * C[c1 + j + 1];
          C[c1 + j + 2] = alpha * s12 + beta * C[c1 + j + 2];
          C[c1 + j + 3] = alpha * s13 + beta * C[c1 + j + 3];
        } else {
          C[c0 + j] = alpha * s00;
          C[c0 + j + 1] = alpha * s01;
          C[c0 + j + 2] = alpha * s02;
          C[c0 + j + 3] = alpha * s03;
          C[c1 + j] = alpha * s10;
          C[c1 + j + 1] = alpha * s11;
          C[c1 + j + 2] = alpha * s12;
          C[c1 + j + 3] = alpha * s13;
        }
      }
      for (; j < j1; j++) {
        const b0 = j * K;
        let s0 = 0, s1 = 0;
        for (let k = 0; k < K; k++) {
          const y = Bt[b0 + k];
          s0 += A[a0 + k] * y;
          s1 += A[a1 + k] * y;
        }
        C[c0 + j] = readC ? alpha * s0 + beta * C[c0 + j] : alpha * s0;
        C[c1 + j] = readC ? alpha * s1 + beta * C[c1 + j] : alpha * s1;
      }
    }
    if (i < M) {
      const a0 = aOff + i * K;
      const c0 = i * N;
      let j = j0;
      for (; j + 3 < j1; j += 4) {
        const b0 = j * K;
        const b1 = b0 + K;
        const b2 = b1 + K;
        const b3 = b2 + K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < K; k++) {
          const x = A[a0 + k];
          s0 += x * Bt[b0 + k]; s1 += x * Bt[b1 + k]; s2 += x * Bt[b2 + k]; s3 += x * Bt[b3 + k];
        }
        if (readC) {
          C[c0 + j] = alpha * s0 + beta * C[c0 + j];
          C[c0 + j + 1] = alpha * s1 + beta * C[c0 + j + 1];
          C[c0 + j + 2] = alpha * s2 + beta * C[c0 + j + 2];
          C[c0 + j + 3] = alpha * s3 + beta * C[c0 + j + 3];
        } else {
          C[c0 + j] = alpha * s0;
          C[c0 + j + 1] = alpha * s1;
          C[c0 + j + 2] = alpha * s2;
          C[c0 + j + 3] = alpha * s3;
        }
      }
      for (; j < j1; j++) {
        const b0 = j * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += A[a0 + k] * Bt[b0 + k];
        C[c0 + j] = readC ? alpha * s + beta * C[c0 + j] : alpha * s;
      }
    }
  }
}

/**
 * Small-M path without packing: C = alpha * op(A) * B + beta * C for B stored K x N, as row
 * updates (i-k-j order) into a float64 row accumulator. op(A)[i,k] = A[i*sai + k*sak].
 */
function gemmRowUpdate(
  M: number, N: number, K: number, alpha: number, A: Float32Array, sai: number, sak: number,
  B: Float32Array, beta: number, C: Float32Array,
): void {
  const acc = rowBuffer(N);
  for (let i = 0; i < M; i++) {
    acc.fill(0, 0, N);
    const ai = i * sai;
    for (let k = 0; k < K; k++) {
      const a = A[ai + k * sak];
      const bo = k * N;
      for (let j = 0; j < N; j++) acc[j] += a * B[bo + j];
    }
    const co = i * N;
    if (beta === 0) for (let j = 0; j < N; j++) C[co + j] = alpha * acc[j];
    else for (let j = 0; j < N; j++) C[co + j] = alpha * acc[j] + beta * C[co + j];
  }
}

/** The gemm kernel body after validation. */
function gemmCore(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, B: Float32Array, beta: number, C: Float32Array,
): void {
  if (alpha === 0) {
    // BLAS semantics: A and B are not read; C = beta * C (C not read when beta == 0).
    const mn = M * N;
    if (beta === 0) C.fill(0, 0, mn);
    else if (beta !== 1) for (let i = 0; i < mn; i++) C[i] = beta * C[i];
    return;
  }
  if (!transB && M < 4) {
    // Packing B would cost as much as the product itself.
    gemmRowUpdate(M, N, K, alpha, A, transA ? 1 : K, transA ? M : 1, B, beta, C);
    return;
  }
  // Dot-product form needs op(A) as M x K rows and op(B)^T as N x K rows.
  let a = A;
  let bt = B;
  if (transA && !transB) {
    // Pack both into one scratch: A^T (M x K) then B^T (N x K).
    const buf = packBuffer(M * K + N * K);
    transposeInto(K, M, A, buf);
    transposeInto(K, N, B, buf.subarray(M * K));
    gemmDot(M, N, K, alpha, buf, 0, buf.subarray(M * K), beta, C);
    return;
  }
  if (transA) {
    a = packBuffer(M * K);
    transposeInto(K, M, A, a);
  } else if (!transB) {
    bt = packBuffer(N * K);
    transposeInto(K, N, B, bt);
  }
  gemmDot(M, N, K, alpha, a, 0, bt, beta, C);
}

// ---------------------------------------------------------------------------------------------
// Sums in the order of the C++ kernels (native/kernels/elementwise.h), so both backends give the
// same float64 sum bit for bit, cancellations included.
// ---------------------------------------------------------------------------------------------

/** From this many elements the C++ sum works in chunks (kParallelThreshold), each SUM_CHUNK long. */
const SUM_CHUNKED_FROM = 65536;
const SUM_CHUNK = 16384;

/** x[off, off + n) summed in float64: 16 interleaved partial sums, combined like AVX2 lanes, then the tail. */
function sumInOrder(x: Float32Array, off: number, n: number): number {
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

// ---------------------------------------------------------------------------------------------
// Activations (loops with the switch hoisted out)
// ---------------------------------------------------------------------------------------------

function actForward(act: Activation, n: number, x: Float32Array, out: Float32Array, alpha: number): void {
  switch (act) {
    case 'none':
      if (out !== x) for (let i = 0; i < n; i++) out[i] = x[i];
      return;
    case 'relu':
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v < 0 ? 0 : v; // NaN passes through
      }
      return;
    case 'leakyRelu':
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v > 0 ? v : alpha * v;
      }
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) out[i] = sigmoid(x[i]);
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) out[i] = gelu(x[i]);
      return;
    case 'geluTanh':
      for (let i = 0; i < n; i++) out[i] = geluTanh(x[i]);
      return;
  }
}

function actBackward(
  act: Activation, n: number, x: Float32Array | null, y: Float32Array | null, dy: Float32Array,
  dx: Float32Array, alpha: number,
): void {
  switch (act) {
    case 'none':
      if (dx !== dy) for (let i = 0; i < n; i++) dx[i] = dy[i];
      return;
    case 'relu': {
      const yy = y as Float32Array;
      for (let i = 0; i < n; i++) dx[i] = yy[i] > 0 ? dy[i] : 0;
      return;
    }
    case 'leakyRelu': {
      const yy = y as Float32Array;
      for (let i = 0; i < n; i++) dx[i] = yy[i] > 0 ? dy[i] : alpha * dy[i];
      return;
    }
    case 'sigmoid': {
      const yy = y as Float32Array;
      for (let i = 0; i < n; i++) {
        const s = yy[i];
        dx[i] = dy[i] * s * (1 - s);
      }
      return;
    }
    case 'tanh': {
      const yy = y as Float32Array;
      for (let i = 0; i < n; i++) {
        const t = yy[i];
        dx[i] = dy[i] * (1 - t * t);
      }
      return;
    }
    case 'gelu': {
      const xx = x as Float32Array;
      // The derivative is a float32 value in C++ (gelu'(-20) ~ -1e-86 underflows to 0): round it first.
      for (let i = 0; i < n; i++) dx[i] = dy[i] * Math.fround(geluGrad(xx[i]));
      return;
    }
    case 'geluTanh': {
      const xx = x as Float32Array;
      for (let i = 0; i < n; i++) dx[i] = dy[i] * Math.fround(geluTanhGrad(xx[i]));
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax family (one row at a time; exponentials kept in a float64 row buffer)
// ---------------------------------------------------------------------------------------------

function softmaxRows(M: number, N: number, x: Float32Array, out: Float32Array, xOff: number, outOff: number): void {
  const e = rowBuffer(N);
  for (let i = 0; i < M; i++) {
    const xo = xOff + i * N;
    const oo = outOff + i * N;
    const mx = rowMax(x, xo, N);
    let s = 0;
    for (let j = 0; j < N; j++) {
      const v = Math.exp(x[xo + j] - mx);
      e[j] = v;
      s += v;
    }
    const inv = 1 / s;
    for (let j = 0; j < N; j++) out[oo + j] = e[j] * inv;
  }
}

/** Max of x[off, off + N) (NaN when the row holds a NaN). */
function rowMax(x: Float32Array, off: number, N: number): number {
  let mx = -Infinity;
  for (let j = 0; j < N; j++) {
    const v = x[off + j];
    if (v > mx || v !== v) mx = v;
  }
  return mx;
}

/**
 * log(sum_j exp(x[off + j] - mx)): with mx the row max, the log-softmax is (x - mx) - this, kept in
 * that form (as in C++) because mx + log(sum) would lose log(sum) next to a huge mx (3e38). NaN
 * when mx is NaN or +-Infinity (exp(inf - inf)), which makes the whole row NaN.
 */
function rowLogSumShifted(x: Float32Array, off: number, N: number, mx: number): number {
  let s = 0;
  for (let j = 0; j < N; j++) s += Math.exp(x[off + j] - mx);
  return Math.log(s);
}

// ---------------------------------------------------------------------------------------------
// forwardAsync helpers
// ---------------------------------------------------------------------------------------------

/** Multiply-adds per slice between event-loop turns (a few milliseconds of JS). */
const ASYNC_SLICE_MACS = 1 << 21;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One dense layer on `rows` rows: out = act(X W^T + bias), all row-major with the given offsets. */
function denseRows(
  rows: number, L: PlanLayer, X: Float32Array, xOff: number, out: Float32Array, outOff: number,
): void {
  const { N, K, W, bias } = L;
  const view = outOff === 0 ? out : out.subarray(outOff, outOff + rows * N);
  gemmDot(rows, N, K, 1, X, xOff, W, 0, view);
  const n = rows * N;
  if (bias !== null) {
    for (let i = 0; i < rows; i++) {
      const o = i * N;
      for (let j = 0; j < N; j++) view[o + j] += bias[j];
    }
  }
  actForward(L.act, n, view, view, L.alpha);
}

// ---------------------------------------------------------------------------------------------
// The backend
// ---------------------------------------------------------------------------------------------

function binaryCheck(kernel: string, n: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  checkCount(kernel, 'n', n);
  checkF32(kernel, 'a', a, n, 'n');
  checkF32(kernel, 'b', b, n, 'n');
  checkF32(kernel, 'out', out, n, 'n');
}

export const jsBackend: Backend = {
  name: 'js',

  info(): BackendInfo {
    return { backend: 'js', simd: 'none', threads: 1 };
  },

  gemm(transA, transB, M, N, K, alpha, A, B, beta, C) {
    const k = 'gemm';
    checkBool(k, 'transA', transA);
    checkBool(k, 'transB', transB);
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkDim(k, 'K', K);
    checkNumber(k, 'alpha', alpha);
    checkNumber(k, 'beta', beta);
    checkF32(k, 'A', A, M * K, 'M*K', `M=${M}, K=${K}`);
    checkF32(k, 'B', B, K * N, 'K*N', `K=${K}, N=${N}`);
    checkF32(k, 'C', C, M * N, 'M*N', `M=${M}, N=${N}`);
    gemmCore(transA, transB, M, N, K, alpha, A, B, beta, C);
  },

  linearForward(M, N, K, X, W, bias, act, alpha, out, preact) {
    const k = 'linearForward';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkDim(k, 'K', K);
    checkF32(k, 'X', X, M * K, 'M*K', `M=${M}, K=${K}`);
    checkF32(k, 'W', W, N * K, 'N*K', `N=${N}, K=${K}`);
    if (bias !== null) checkF32(k, 'bias', bias, N, 'N', `N=${N}`);
    checkAct(k, act);
    checkNumber(k, 'alpha', alpha);
    checkF32(k, 'out', out, M * N, 'M*N', `M=${M}, N=${N}`);
    if (preact !== null) checkF32(k, 'preact', preact, M * N, 'M*N', `M=${M}, N=${N}`);
    gemmDot(M, N, K, 1, X, 0, W, 0, out);
    if (bias !== null) {
      for (let i = 0; i < M; i++) {
        const o = i * N;
        for (let j = 0; j < N; j++) out[o + j] += bias[j];
      }
    }
    const mn = M * N;
    if (preact !== null) for (let i = 0; i < mn; i++) preact[i] = out[i];
    actForward(act, mn, out, out, alpha);
  },

  linearBackward(M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, accumulate) {
    const k = 'linearBackward';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkDim(k, 'K', K);
    const mn = `M=${M}, N=${N}`;
    checkF32(k, 'X', X, M * K, 'M*K', `M=${M}, K=${K}`);
    checkF32(k, 'W', W, N * K, 'N*K', `N=${N}, K=${K}`);
    checkAct(k, act);
    const usesPreact = act === 'gelu' || act === 'geluTanh';
    if (usesPreact) {
      if (preact === null) throw new Error(`${k}: preact is required for activation '${act}'`);
      checkF32(k, 'preact', preact, M * N, 'M*N', mn);
    } else if (preact !== null) {
      checkF32(k, 'preact', preact, M * N, 'M*N', mn);
    }
    checkF32(k, 'Y', Y, M * N, 'M*N', mn);
    checkF32(k, 'dY', dY, M * N, 'M*N', mn);
    checkNumber(k, 'alpha', alpha);
    checkF32(k, 'dZ', dZ, M * N, 'M*N', mn);
    if (dX !== null) checkF32(k, 'dX', dX, M * K, 'M*K', `M=${M}, K=${K}`);
    checkF32(k, 'dW', dW, N * K, 'N*K', `N=${N}, K=${K}`);
    if (dB !== null) checkF32(k, 'dB', dB, N, 'N', `N=${N}`);
    checkBool(k, 'accumulate', accumulate);

    actBackward(act, M * N, preact, Y, dY, dZ, alpha);
    const beta = accumulate ? 1 : 0;
    if (dX !== null) gemmCore(false, false, M, K, N, 1, dZ, W, beta, dX); // dX = dZ * W
    gemmCore(true, false, N, K, M, 1, dZ, X, beta, dW); // dW = dZ^T * X
    if (dB !== null) {
      const s = rowBuffer(N);
      s.fill(0, 0, N);
      for (let i = 0; i < M; i++) {
        const o = i * N;
        for (let j = 0; j < N; j++) s[j] += dZ[o + j];
      }
      if (accumulate) for (let j = 0; j < N; j++) dB[j] += s[j];
      else for (let j = 0; j < N; j++) dB[j] = s[j];
    }
  },

  addBias(M, N, x, bias, out) {
    const k = 'addBias';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkF32(k, 'x', x, M * N, 'M*N', `M=${M}, N=${N}`);
    checkF32(k, 'bias', bias, N, 'N', `N=${N}`);
    checkF32(k, 'out', out, M * N, 'M*N', `M=${M}, N=${N}`);
    for (let i = 0; i < M; i++) {
      const o = i * N;
      for (let j = 0; j < N; j++) out[o + j] = x[o + j] + bias[j];
    }
  },

  colSum(M, N, x, out) {
    const k = 'colSum';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkF32(k, 'x', x, M * N, 'M*N', `M=${M}, N=${N}`);
    checkF32(k, 'out', out, N, 'N', `N=${N}`);
    const s = rowBuffer(N);
    s.fill(0, 0, N);
    for (let i = 0; i < M; i++) {
      const o = i * N;
      for (let j = 0; j < N; j++) s[j] += x[o + j];
    }
    for (let j = 0; j < N; j++) out[j] = s[j];
  },

  rowSum(M, N, x, out) {
    const k = 'rowSum';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkF32(k, 'x', x, M * N, 'M*N', `M=${M}, N=${N}`);
    checkF32(k, 'out', out, M, 'M', `M=${M}`);
    for (let i = 0; i < M; i++) out[i] = sumInOrder(x, i * N, N);
  },

  add(n, a, b, out) {
    binaryCheck('add', n, a, b, out);
    for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
  },

  sub(n, a, b, out) {
    binaryCheck('sub', n, a, b, out);
    for (let i = 0; i < n; i++) out[i] = a[i] - b[i];
  },

  mul(n, a, b, out) {
    binaryCheck('mul', n, a, b, out);
    for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
  },

  div(n, a, b, out) {
    binaryCheck('div', n, a, b, out);
    for (let i = 0; i < n; i++) out[i] = a[i] / b[i];
  },

  scale(n, a, s, out) {
    const k = 'scale';
    checkCount(k, 'n', n);
    checkF32(k, 'a', a, n, 'n');
    checkScalar(k, 's', s);
    checkF32(k, 'out', out, n, 'n');
    const sf = Math.fround(s);
    for (let i = 0; i < n; i++) out[i] = sf * a[i];
  },

  axpy(n, alpha, x, y) {
    const k = 'axpy';
    checkCount(k, 'n', n);
    checkScalar(k, 'alpha', alpha);
    checkF32(k, 'x', x, n, 'n');
    checkF32(k, 'y', y, n, 'n');
    const af = Math.fround(alpha); // the scalar crosses as a float32, as in C++
    for (let i = 0; i < n; i++) y[i] += af * x[i];
  },

  unary(op, n, x, out) {
    const k = 'unary';
    if (typeof op !== 'string' || !Object.prototype.hasOwnProperty.call(UNARY_CODE, op)) {
      throw new Error(`${k}: unknown op '${String(op)}' (expected one of ${Object.keys(UNARY_CODE).join(', ')})`);
    }
    checkCount(k, 'n', n);
    checkF32(k, 'x', x, n, 'n');
    checkF32(k, 'out', out, n, 'n');
    unaryLoop(op, n, x, out);
  },

  sum(n, x) {
    const k = 'sum';
    checkCount(k, 'n', n);
    checkF32(k, 'x', x, n, 'n');
    if (n < SUM_CHUNKED_FROM) return sumInOrder(x, 0, n);
    let s = 0;
    for (let b = 0; b < n; b += SUM_CHUNK) s += sumInOrder(x, b, Math.min(SUM_CHUNK, n - b));
    return s;
  },

  activationForward(act, n, x, out, alpha) {
    const k = 'activationForward';
    checkAct(k, act);
    checkCount(k, 'n', n);
    checkF32(k, 'x', x, n, 'n');
    checkF32(k, 'out', out, n, 'n');
    checkNumber(k, 'alpha', alpha);
    actForward(act, n, x, out, alpha);
  },

  activationBackward(act, n, x, y, dy, dx, alpha) {
    const k = 'activationBackward';
    checkAct(k, act);
    checkCount(k, 'n', n);
    checkF32(k, 'x', x, n, 'n');
    checkF32(k, 'y', y, n, 'n');
    checkF32(k, 'dy', dy, n, 'n');
    checkF32(k, 'dx', dx, n, 'n');
    checkNumber(k, 'alpha', alpha);
    actBackward(act, n, x, y, dy, dx, alpha);
  },

  softmax(M, N, x, out) {
    const k = 'softmax';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkF32(k, 'x', x, M * N, 'M*N', `M=${M}, N=${N}`);
    checkF32(k, 'out', out, M * N, 'M*N', `M=${M}, N=${N}`);
    softmaxRows(M, N, x, out, 0, 0);
  },

  logSoftmax(M, N, x, out) {
    const k = 'logSoftmax';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkF32(k, 'x', x, M * N, 'M*N', `M=${M}, N=${N}`);
    checkF32(k, 'out', out, M * N, 'M*N', `M=${M}, N=${N}`);
    for (let i = 0; i < M; i++) {
      const o = i * N;
      const mx = rowMax(x, o, N);
      const ls = rowLogSumShifted(x, o, N, mx);
      for (let j = 0; j < N; j++) out[o + j] = (x[o + j] - mx) - ls;
    }
  },

  softmaxBackward(M, N, y, dy, dx) {
    const k = 'softmaxBackward';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkF32(k, 'y', y, M * N, 'M*N', `M=${M}, N=${N}`);
    checkF32(k, 'dy', dy, M * N, 'M*N', `M=${M}, N=${N}`);
    checkF32(k, 'dx', dx, M * N, 'M*N', `M=${M}, N=${N}`);
    for (let i = 0; i < M; i++) {
      const o = i * N;
      let dot = 0;
      for (let j = 0; j < N; j++) dot += dy[o + j] * y[o + j];
      for (let j = 0; j < N; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
    }
  },

  logSoftmaxBackward(M, N, y, dy, dx) {
    const k = 'logSoftmaxBackward';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkF32(k, 'y', y, M * N, 'M*N', `M=${M}, N=${N}`);
    checkF32(k, 'dy', dy, M * N, 'M*N', `M=${M}, N=${N}`);
    checkF32(k, 'dx', dx, M * N, 'M*N', `M=${M}, N=${N}`);
    for (let i = 0; i < M; i++) {
      const o = i * N;
      let s = 0;
      for (let j = 0; j < N; j++) s += dy[o + j];
      for (let j = 0; j < N; j++) dx[o + j] = dy[o + j] - Math.exp(y[o + j]) * s;
    }
  },

  softmaxCrossEntropy(M, N, logits, labels, grad, losses) {
    const k = 'softmaxCrossEntropy';
    checkDim(k, 'M', M);
    checkDim(k, 'N', N);
    checkF32(k, 'logits', logits, M * N, 'M*N', `M=${M}, N=${N}`);
    if (!(labels instanceof Int32Array)) {
      throw new Error(`${k}: labels must be an Int32Array, got ${describe(labels)}`);
    }
    if (labels.length < M) throw new Error(`${k}: labels has ${labels.length} elements, expected M = ${M}`);
    if (grad !== null) checkF32(k, 'grad', grad, M * N, 'M*N', `M=${M}, N=${N}`);
    if (losses !== null) checkF32(k, 'losses', losses, M, 'M', `M=${M}`);
    for (let i = 0; i < M; i++) {
      const c = labels[i];
      if (c < 0 || c >= N) throw new Error(`${k}: label ${c} at row ${i} is out of range [0, ${N})`);
    }
    let total = 0;
    const invM = 1 / M;
    for (let i = 0; i < M; i++) {
      const o = i * N;
      const mx = rowMax(logits, o, N);
      const ls = rowLogSumShifted(logits, o, N, mx);
      const c = labels[i];
      const loss = ls - (logits[o + c] - mx);
      total += loss;
      if (losses !== null) losses[i] = loss;
      if (grad !== null) {
        for (let j = 0; j < N; j++) grad[o + j] = Math.exp(logits[o + j] - mx - ls) * invM;
        grad[o + c] = (Math.exp(logits[o + c] - mx - ls) - 1) * invM;
      }
    }
    return total / M;
  },

  mseLoss(n, pred, target) {
    const k = 'mseLoss';
    checkCount(k, 'n', n);
    checkF32(k, 'pred', pred, n, 'n');
    checkF32(k, 'target', target, n, 'n');
    let s = 0;
    for (let i = 0; i < n; i++) {
      const d = pred[i] - target[i];
      s += d * d;
    }
    return s / n;
  },

  mseBackward(n, pred, target, grad) {
    const k = 'mseBackward';
    checkCount(k, 'n', n);
    checkF32(k, 'pred', pred, n, 'n');
    checkF32(k, 'target', target, n, 'n');
    checkF32(k, 'grad', grad, n, 'n');
    // float32 arithmetic like C++: the difference is rounded (and may overflow) before scaling.
    const c = Math.fround(2 / n);
    for (let i = 0; i < n; i++) grad[i] = c * Math.fround(pred[i] - target[i]);
  },

  sgdStep(n, param, grad, velocity, lr, momentum, weightDecay, nesterov) {
    const k = 'sgdStep';
    checkCount(k, 'n', n);
    checkF32(k, 'param', param, n, 'n');
    checkF32(k, 'grad', grad, n, 'n');
    checkNumber(k, 'lr', lr);
    checkNumber(k, 'momentum', momentum);
    checkNumber(k, 'weightDecay', weightDecay);
    checkBool(k, 'nesterov', nesterov);
    if (momentum === 0) {
      for (let i = 0; i < n; i++) {
        const g = grad[i] + weightDecay * param[i];
        param[i] -= lr * g;
      }
      return;
    }
    if (velocity === null) throw new Error(`${k}: velocity is required when momentum != 0 (momentum=${momentum})`);
    checkF32(k, 'velocity', velocity, n, 'n');
    for (let i = 0; i < n; i++) {
      const g = grad[i] + weightDecay * param[i];
      const v = Math.fround(momentum * velocity[i] + g);
      velocity[i] = v;
      param[i] -= lr * (nesterov ? g + momentum * v : v);
    }
  },

  adamStep(n, param, grad, m, v, step, lr, beta1, beta2, eps, weightDecay, decoupled) {
    const k = 'adamStep';
    checkCount(k, 'n', n);
    checkF32(k, 'param', param, n, 'n');
    checkF32(k, 'grad', grad, n, 'n');
    checkF32(k, 'm', m, n, 'n');
    checkF32(k, 'v', v, n, 'n');
    checkDim(k, 'step', step);
    checkNumber(k, 'lr', lr);
    checkNumber(k, 'beta1', beta1);
    checkNumber(k, 'beta2', beta2);
    checkNumber(k, 'eps', eps);
    checkNumber(k, 'weightDecay', weightDecay);
    checkBool(k, 'decoupled', decoupled);
    const bc1 = 1 - Math.pow(beta1, step);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
    const stepSize = lr / bc1;
    const decay = decoupled ? 1 - lr * weightDecay : 1;
    const l2 = decoupled ? 0 : weightDecay;
    const c1 = 1 - beta1;
    const c2 = 1 - beta2;
    for (let i = 0; i < n; i++) {
      const p = param[i] * decay;
      const g = grad[i] + l2 * p;
      const mi = Math.fround(beta1 * m[i] + c1 * g);
      const vi = Math.fround(beta2 * v[i] + c2 * g * g);
      m[i] = mi;
      v[i] = vi;
      param[i] = p - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
    }
  },

  rmspropStep(n, param, grad, sq, buf, lr, alpha, eps, weightDecay, momentum) {
    const k = 'rmspropStep';
    checkCount(k, 'n', n);
    checkF32(k, 'param', param, n, 'n');
    checkF32(k, 'grad', grad, n, 'n');
    checkF32(k, 'sq', sq, n, 'n');
    checkNumber(k, 'lr', lr);
    checkNumber(k, 'alpha', alpha);
    checkNumber(k, 'eps', eps);
    checkNumber(k, 'weightDecay', weightDecay);
    checkNumber(k, 'momentum', momentum);
    const c = 1 - alpha;
    if (momentum > 0) {
      if (buf === null) throw new Error(`${k}: buf is required when momentum > 0 (momentum=${momentum})`);
      checkF32(k, 'buf', buf, n, 'n');
      for (let i = 0; i < n; i++) {
        const g = grad[i] + weightDecay * param[i];
        const s = Math.fround(alpha * sq[i] + c * g * g);
        sq[i] = s;
        const b = Math.fround(momentum * buf[i] + g / (Math.sqrt(s) + eps));
        buf[i] = b;
        param[i] -= lr * b;
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const g = grad[i] + weightDecay * param[i];
      const s = Math.fround(alpha * sq[i] + c * g * g);
      sq[i] = s;
      param[i] -= (lr * g) / (Math.sqrt(s) + eps);
    }
  },

  freezePlan(layers) {
    checkPlanLayers('freezePlan', layers);
    return frozenLayers.add(layers, copyLayers(layers));
  },

  forwardAsync(M, layers, X, out, softmax) {
    const k = 'forwardAsync';
    let copy: Float32Array;
    let frozen: PlanLayer[];
    try {
      if (Array.isArray(layers)) {
        checkPlanLayers(k, layers);
        frozen = copyLayers(layers); // plain layers are copied for this call only
      } else {
        frozen = frozenLayers.get(k, layers);
      }
      checkPlanIo(k, M, frozen, X, out, softmax);
      copy = X.slice(0, M * frozen[0].K);
    } catch (err) {
      return Promise.reject(err);
    }
    return runForwardAsync(M, frozen, copy, out, softmax);
  },

  forwardDense(M, layers, X, out, softmax) {
    checkForwardPlan('forwardDense', M, layers, X, out, softmax);
    const maxN = layers.reduce((m, L) => Math.max(m, L.N), 0);
    // Two ping-pong buffers for the intermediates (none for a single layer).
    const ping = layers.length > 1 ? new Float32Array(M * maxN) : out;
    const pong = layers.length > 2 ? new Float32Array(M * maxN) : out;
    let h = X;
    for (let l = 0; l < layers.length; l++) {
      const dst = l === layers.length - 1 ? out : l % 2 === 0 ? ping : pong;
      denseRows(M, layers[l], h, 0, dst, 0);
      h = dst;
    }
    if (softmax) {
      const N = layers[layers.length - 1].N;
      jsBackend.softmax(M, N, out, out);
    }
  },
};

/** Validates an inference plan (forwardAsync / forwardDense); throws naming the kernel and layer. */
function checkForwardPlan(
  k: string, M: number, layers: PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean,
): void {
  checkPlanLayers(k, layers);
  checkPlanIo(k, M, layers, X, out, softmax);
}

/** Validates plan layers: each {N, K, W, bias, act, alpha} with K equal to the previous N. */
function checkPlanLayers(k: string, layers: PlanLayer[]): void {
  if (!Array.isArray(layers) || layers.length === 0) throw new Error(`${k}: layers must be a non-empty array`);
  for (let l = 0; l < layers.length; l++) {
    const L = layers[l];
    const name = `layers[${l}]`;
    if (L === null || typeof L !== 'object') throw new Error(`${k}: ${name} must be an object {N, K, W, bias, act, alpha}`);
    checkDim(k, `${name}.N`, L.N);
    checkDim(k, `${name}.K`, L.K);
    if (l > 0 && L.K !== layers[l - 1].N) {
      throw new Error(`${k}: ${name}.K = ${L.K} does not match layers[${l - 1}].N = ${layers[l - 1].N}`);
    }
    checkF32(k, `${name}.W`, L.W, L.N * L.K, 'N*K', `N=${L.N}, K=${L.K}`);
    if (L.bias !== null) checkF32(k, `${name}.bias`, L.bias, L.N, 'N', `N=${L.N}`);
    checkAct(k, L.act);
    checkNumber(k, `${name}.alpha`, L.alpha);
  }
}

/** Validates the rows, input, output and softmax flag of a (validated) plan. */
function checkPlanIo(k: string, M: number, layers: PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean): void {
  checkDim(k, 'M', M);
  const K0 = layers[0].K;
  const NL = layers[layers.length - 1].N;
  checkF32(k, 'X', X, M * K0, 'M*K', `M=${M}, K=${K0}`);
  checkF32(k, 'out', out, M * NL, 'M*N', `M=${M}, N=${NL}`);
  checkBool(k, 'softmax', softmax);
}

/** The private weight copies behind each FrozenPlan this backend made. */
const frozenLayers = new FrozenPlanRegistry<PlanLayer[]>('js');

/** Private copies of validated layers (weights and bias cut to their exact sizes). */
function copyLayers(layers: PlanLayer[]): PlanLayer[] {
  return layers.map((L) => ({
    N: L.N, K: L.K, W: L.W.slice(0, L.N * L.K), bias: L.bias === null ? null : L.bias.slice(0, L.N), act: L.act, alpha: L.alpha,
  }));
}

function unaryLoop(op: UnaryOp, n: number, x: Float32Array, out: Float32Array): void {
  switch (op) {
    case 'exp':
      for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]);
      return;
    case 'log':
      for (let i = 0; i < n; i++) out[i] = Math.log(x[i]);
      return;
    case 'sqrt':
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]);
      return;
    case 'neg':
      for (let i = 0; i < n; i++) out[i] = -x[i];
      return;
    case 'abs':
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]);
      return;
    case 'square':
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = v * v;
      }
      return;
    case 'reciprocal':
      for (let i = 0; i < n; i++) out[i] = 1 / x[i];
      return;
  }
}

/**
 * The layer stack on row chunks: each chunk of rows goes through every layer (its own scratch,
 * allocated per call), with an event-loop turn after each layer-chunk of about ASYNC_SLICE_MACS work.
 * Reads only the private copies it is given (X and the frozen layers); the result goes into a
 * private buffer and is copied into out at the end, if out's buffer is still attached.
 */
async function runForwardAsync(
  M: number, layers: PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean,
): Promise<void> {
  let maxWidth = 0;
  let maxMacsPerRow = 0;
  for (const L of layers) {
    maxWidth = Math.max(maxWidth, L.N);
    maxMacsPerRow = Math.max(maxMacsPerRow, L.N * L.K);
  }
  const chunk = Math.max(1, Math.min(M, Math.floor(ASYNC_SLICE_MACS / maxMacsPerRow)));
  const bufA = new Float32Array(chunk * maxWidth);
  const bufB = new Float32Array(chunk * maxWidth);
  const last = layers.length - 1;
  const NL = layers[last].N;
  const result = new Float32Array(M * NL);
  for (let r0 = 0; r0 < M; r0 += chunk) {
    const rows = Math.min(chunk, M - r0);
    let src = X;
    let srcOff = r0 * layers[0].K;
    for (let l = 0; l <= last; l++) {
      await yieldToEventLoop();
      const L = layers[l];
      if (l === last) {
        denseRows(rows, L, src, srcOff, result, r0 * NL);
      } else {
        const dst = src === bufA ? bufB : bufA;
        denseRows(rows, L, src, srcOff, dst, 0);
        src = dst;
        srcOff = 0;
      }
    }
    if (softmax) softmaxRows(rows, NL, result, result, r0 * NL, r0 * NL);
  }
  if (out.length < M * NL) {
    throw new Error('forwardAsync: out was detached (its ArrayBuffer transferred) before the result was ready');
  }
  out.set(result);
}
