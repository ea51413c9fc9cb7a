// Fused dense layer act(x W^T + b): one linearForward kernel call forward, one linearBackward backward.
import { getBackend } from '../backend/select';
import type { Activation } from '../backend/contract';
import { record } from '../autograd';
import { Tensor, shapeToString } from '../tensor';

/**
 * y = act(x W^T + b) with W of shape [out, in] (PyTorch layout) and b of shape [out] (or null).
 * x is [..., in]; leading dimensions are flattened into rows. alpha is the leaky-relu slope.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, act: Activation = 'none', alpha = 0.01): Tensor {
  if (weight.ndim !== 2) {
    throw new Error(`linear: weight must be 2-D [out, in], got ${shapeToString(weight.shape)}`);
  }
  const [N, K] = weight.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== K) {
    throw new Error(
      `linear: input features differ from weight: input ${shapeToString(x.shape)} x weight ${shapeToString(weight.shape)} ` +
        `(expected last input dimension ${K})`,
    );
  }
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== N)) {
    throw new Error(`linear: bias shape ${shapeToString(bias.shape)} does not match weight ${shapeToString(weight.shape)} (expected [${N}])`);
  }
  const M = x.size / K;
  const outShape = [...x.shape.slice(0, -1), N];
  const backend = getBackend();
  const y = new Float32Array(M * N);
  const keepPreact = act === 'gelu' || act === 'geluTanh';
  const preact = keepPreact ? new Float32Array(M * N) : null;
  if (M > 0) backend.linearForward(M, N, K, x.data, weight.data, bias ? bias.data : null, act, alpha, y, preact);

  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(new Tensor(y, outShape), act === 'none' ? 'linear' : `linear+${act}`, inputs, (g) => {
    const dZ = new Float32Array(M * N);
    const dX = x.requiresGrad ? new Float32Array(M * K) : null;
    const dW = new Float32Array(N * K);
    const dB = bias && bias.requiresGrad ? new Float32Array(N) : null;
    if (M > 0) backend.linearBackward(M, N, K, x.data, weight.data, y, preact, g, act, alpha, dZ, dX, dW, dB, false);
    return bias ? [dX, weight.requiresGrad ? dW : null, dB] : [dX, weight.requiresGrad ? dW : null];
  });
}
