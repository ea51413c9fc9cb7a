// TypeScript twins of the matrix-product kernels: gemm (a dot-product form over packed rows) and the fused dense layer (linearForward/Backward).
import type { Activation } from '../kernel-table';
import { activationBackward, activationForward } from './activation';
import { packBuffer, rowBuffer } from './scratch';

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

/** C[o..o+3] = alpha * s + beta * C[o..o+3] (C not read when beta == 0). */
function store4(C: Float32Array, o: number, alpha: number, beta: number, s0: number, s1: number, s2: number, s3: number): void {
  if (beta !== 0) {
    C[o] = alpha * s0 + beta * C[o];
    C[o + 1] = alpha * s1 + beta * C[o + 1];
    C[o + 2] = alpha * s2 + beta * C[o + 2];
    C[o + 3] = alpha * s3 + beta * C[o + 3];
  } else {
    C[o] = alpha * s0;
    C[o + 1] = alpha * s1;
    C[o + 2] = alpha * s2;
    C[o + 3] = alpha * s3;
  }
}

/**
 * C[M,N] = alpha * A[M,K] * Bt[N,K]^T + beta * C, with A and Bt both row-major, so every output
 * is a dot product of two contiguous rows. Register-blocked 2 rows of A x 4 rows of Bt (8 float64
 * accumulators), with Bt split into column blocks that stay in cache. Sums run in float64 and
 * are rounded once. beta == 0: C is not read.
 */
export function gemmDot(
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
        const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K; // four rows of Bt
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
        store4(C, c0 + j, alpha, beta, s00, s01, s02, s03);
        store4(C, c1 + j, alpha, beta, s10, s11, s12, s13);
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
        const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K; // four rows of Bt
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < K; k++) {
          const x = A[a0 + k];
          s0 += x * Bt[b0 + k]; s1 += x * Bt[b1 + k]; s2 += x * Bt[b2 + k]; s3 += x * Bt[b3 + k];
        }
        store4(C, c0 + j, alpha, beta, s0, s1, s2, s3);
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

/** C = alpha * op(A) * op(B) + beta * C on validated arguments (the kernel gemm). */
export function gemm(
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

/** out = act(X W^T + bias), and preact = X W^T + bias when asked for. */
export function linearForward(
  M: number, N: number, K: number, X: Float32Array, W: Float32Array, bias: Float32Array | null,
  act: Activation, alpha: number, out: Float32Array, preact: Float32Array | null,
): void {
  gemmDot(M, N, K, 1, X, 0, W, 0, out);
  if (bias !== null) {
    for (let i = 0; i < M; i++) {
      const o = i * N;
      for (let j = 0; j < N; j++) out[o + j] += bias[j];
    }
  }
  const mn = M * N;
  if (preact !== null) for (let i = 0; i < mn; i++) preact[i] = out[i];
  activationForward(act, mn, out, out, alpha);
}

/** dZ = dY * act'(.), then dX = dZ W, dW = dZ^T X, dB = column sums of dZ (dW, dB added to with accumulate, dX with accumulateX). */
export function linearBackward(
  M: number, N: number, K: number, X: Float32Array, W: Float32Array, Y: Float32Array,
  preact: Float32Array | null, dY: Float32Array, act: Activation, alpha: number, dZ: Float32Array,
  dX: Float32Array | null, dW: Float32Array, dB: Float32Array | null, accumulate: boolean, accumulateX: boolean,
): void {
  linearBackwardOf((_n, x) => x, M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, accumulate, accumulateX);
}

/** linearBackward with each product's operands (dZ, W, X) passed through `operand` first (the bf16 twin rounds them); dB sums dZ itself. */
export function linearBackwardOf(
  operand: (n: number, x: Float32Array) => Float32Array,
  M: number, N: number, K: number, X: Float32Array, W: Float32Array, Y: Float32Array,
  preact: Float32Array | null, dY: Float32Array, act: Activation, alpha: number, dZ: Float32Array,
  dX: Float32Array | null, dW: Float32Array, dB: Float32Array | null, accumulate: boolean, accumulateX: boolean,
): void {
  activationBackward(act, M * N, preact, Y, dY, dZ, alpha);
  const beta = accumulate ? 1 : 0;
  const dz = operand(M * N, dZ);
  if (dX !== null) gemm(false, false, M, K, N, 1, dz, operand(N * K, W), accumulateX ? 1 : 0, dX); // dX = dZ * W
  gemm(true, false, N, K, M, 1, dz, operand(M * K, X), beta, dW); // dW = dZ^T * X
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
}
