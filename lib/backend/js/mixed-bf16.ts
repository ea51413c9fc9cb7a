// TypeScript twins of the bf16 mixed-precision products: the operands rounded to bfloat16 (bf16Bits' rule), then the float32-contract kernels (float64 sums).
import type { Activation } from '../kernel-table';
import { gemm, linearBackwardOf, linearForward } from './gemm';
import { bf16Bits, bf16Value } from './quant';

/** The first n values of x rounded to bfloat16 (nearest even, denormals to signed zero), as float32. */
export function roundToBf16(n: number, x: Float32Array): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = bf16Value(bf16Bits(x[i]));
  return out;
}

/** gemm on bf16-rounded A and B. */
export function gemmMixedBf16(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, B: Float32Array, beta: number, C: Float32Array,
): void {
  gemm(transA, transB, M, N, K, alpha, roundToBf16(M * K, A), roundToBf16(K * N, B), beta, C);
}

/** linearForward with X and W rounded to bfloat16. */
export function linearForwardMixedBf16(
  M: number, N: number, K: number, X: Float32Array, W: Float32Array, bias: Float32Array | null,
  act: Activation, alpha: number, out: Float32Array, preact: Float32Array | null,
): void {
  linearForward(M, N, K, roundToBf16(M * K, X), roundToBf16(N * K, W), bias, act, alpha, out, preact);
}

/** linearBackward with dX = bf16(dZ) bf16(W) and dW = bf16(dZ)^T bf16(X); dZ and dB stay float32. */
export function linearBackwardMixedBf16(
  M: number, N: number, K: number, X: Float32Array, W: Float32Array, Y: Float32Array,
  preact: Float32Array | null, dY: Float32Array, act: Activation, alpha: number, dZ: Float32Array,
  dX: Float32Array | null, dW: Float32Array, dB: Float32Array | null, accumulate: boolean, accumulateX: boolean,
): void {
  linearBackwardOf(roundToBf16, M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, accumulate, accumulateX);
}
