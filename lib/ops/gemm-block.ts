// One matrix product C (+)= op(A) op(B) through the backend for the ops (matmul, bmm): empty sizes allowed, fp32 or bf16 products.
import { getBackend } from '../backend/select';

/**
 * C = op(A) op(B) + beta C, allowing empty dimensions (the kernels take sizes >= 1): nothing to compute when M or N
 * is 0; with K = 0 the product is zero (C = beta C). bf16: the operands rounded to bfloat16, float32 sums
 * (gemmMixedBf16, for autocast('bf16')).
 */
export function gemmBlock(
  bf16: boolean, transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: Float32Array, B: Float32Array, beta: 0 | 1, C: Float32Array,
): void {
  if (M === 0 || N === 0) return;
  if (K === 0) {
    if (beta === 0) C.fill(0, 0, M * N);
    return;
  }
  const backend = getBackend();
  if (bf16) backend.gemmMixedBf16(transA, transB, M, N, K, 1, A, B, beta, C);
  else backend.gemm(transA, transB, M, N, K, 1, A, B, beta, C);
}
