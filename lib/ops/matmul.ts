// Matrix product (2-D and batched over leading dimensions) via the gemm kernel, with its backward rule.
import { record } from '../autograd';
import { Tensor, shapeToString, sizeOf } from '../tensor-core';
import { checkTensor } from '../validate';
import { batchedMatmul } from './seq';
import { currentPrecision } from '../autocast';
import { gemmBlock } from './gemm-block';

/**
 * a @ b. Shapes: [M,K] x [K,N] -> [M,N]; [...B,M,K] x [...B,K,N] -> [...B,M,N] (same batch dims);
 * [...B,M,K] x [K,N] -> [...B,M,N]; [M,K] x [...B,K,N] -> [...B,M,N].
 * @param a the left operand, [M, K] or [...B, M, K].
 * @param b the right operand, [K, N] or [...B, K, N].
 * @returns the product, [M, N] or [...B, M, N].
 * @throws Error when an operand is not a Tensor, is not 2-D or batched (>= 2-D), the inner dimensions differ, or the shapes fit none of the forms above.
 * @example matmul(tensor([[1, 2], [3, 4]]), tensor([[1], [1]])) // [[3], [7]]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', 'first operand', a);
  checkTensor('matmul', 'second operand', b);
  if (a.ndim < 2 || b.ndim < 2) {
    throw new Error(
      `matmul: expected 2-D or batched (>= 2-D) tensors, got ${shapeToString(a.shape)} x ${shapeToString(b.shape)}`,
    );
  }
  const M = a.shape[a.ndim - 2];
  const K = a.shape[a.ndim - 1];
  const K2 = b.shape[b.ndim - 2];
  const N = b.shape[b.ndim - 1];
  if (K !== K2) {
    throw new Error(`matmul: inner dimensions differ: ${shapeToString(a.shape)} x ${shapeToString(b.shape)}`);
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  // Batch dims that differ broadcast (one GEMM per batch of the broadcast shape).
  if (aBatch.length > 0 && bBatch.length > 0 && shapeToString(aBatch) !== shapeToString(bBatch)) return batchedMatmul('matmul', a, b);
  const batchShape = aBatch.length > 0 ? aBatch : bBatch;
  const batch = sizeOf(batchShape);
  // Under autocast('bf16') the product and its gradients multiply in bf16 (the backward keeps the forward's precision).
  const bf16 = currentPrecision() === 'bf16';
  const out = new Float32Array(batch * M * N);
  const aStride = aBatch.length > 0 ? M * K : 0;
  const bStride = bBatch.length > 0 ? K * N : 0;

  if (bStride === 0) {
    // a's rows (over every batch) times one shared b: a single [batch*M, K] x [K, N] product.
    gemmBlock(bf16, false, false, batch * M, N, K, a.data, b.data, 0, out);
  } else {
    for (let i = 0; i < batch; i++) {
      gemmBlock(
        bf16, false, false, M, N, K,
        a.data.subarray(i * aStride, i * aStride + M * K),
        b.data.subarray(i * bStride, i * bStride + K * N),
        0, out.subarray(i * M * N, (i + 1) * M * N),
      );
    }
  }

  return record(new Tensor(out, [...batchShape, M, N]), 'matmul', [a, b], (g) => {
    let ga: Float32Array | null = null;
    let gb: Float32Array | null = null;
    if (a.requiresGrad) {
      // dA = dC * B^T
      ga = new Float32Array(a.size);
      if (bStride === 0) {
        gemmBlock(bf16, false, true, batch * M, K, N, g, b.data, 0, ga);
      } else {
        for (let i = 0; i < batch; i++) {
          gemmBlock(
            bf16, false, true, M, K, N,
            g.subarray(i * M * N, (i + 1) * M * N),
            b.data.subarray(i * bStride, i * bStride + K * N),
            aStride === 0 ? 1 : 0, ga.subarray(i * aStride, i * aStride + M * K),
          );
        }
      }
    }
    if (b.requiresGrad) {
      // dB = A^T * dC
      gb = new Float32Array(b.size);
      if (bStride === 0) {
        gemmBlock(bf16, true, false, K, N, batch * M, a.data, g, 0, gb);
      } else {
        for (let i = 0; i < batch; i++) {
          gemmBlock(
            bf16, true, false, K, N, M,
            a.data.subarray(i * aStride, i * aStride + M * K),
            g.subarray(i * M * N, (i + 1) * M * N),
            0, gb.subarray(i * bStride, i * bStride + K * N),
          );
        }
      }
    }
    return [ga, gb];
  });
}
