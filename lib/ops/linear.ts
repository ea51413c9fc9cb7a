// Fused dense layer act(x W^T + b): one linearForward kernel call forward, one linearBackward backward.
import { getBackend } from '../backend/select';
import type { Activation } from '../backend/contract';
import { isTracing, needsGrad, record } from '../autograd';
import { Tensor, shapeToString } from '../tensor-core';
import { scratch } from './scratch';
import { gradBuffer, outputBuffer, privateBuffer, releaseAfterBackward } from '../buffer-pool';
import { checkNumber, checkOneOf, checkTensor } from '../validate';
import { ACTIVATION_CODE } from '../backend/contract';
import { currentPrecision } from '../autocast';

/**
 * y = act(x W^T + b) with W of shape [out, in] (PyTorch layout) and b of shape [out] (or null), in one
 * kernel; leading dimensions of x are flattened into rows. Differentiable in x, weight and bias.
 * @param x the input, a Tensor [..., in].
 * @param weight a Tensor [out, in].
 * @param bias a Tensor [out], or null.
 * @param act an activation fused into the kernel: 'none' (default), 'relu', 'leakyRelu', 'sigmoid', 'tanh',
 * 'gelu' or 'geluTanh'.
 * Under autocast('bf16') the products (forward, dX and dW) run with bf16 operands and float32 sums.
 * @param alpha the leaky-relu slope (default 0.01; used with 'leakyRelu' only).
 * @returns a Tensor [..., out].
 * @throws Error when x, weight or bias is not a Tensor, act is unknown, alpha (with 'leakyRelu') is not a finite
 * number, weight is not 2-D, x's last dimension differs from weight's in, or bias is not [out].
 * @example ops.linear(randn([32, 784]), randn([10, 784]), zeros([10]), 'relu').shape // [32, 10]
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, act: Activation = 'none', alpha = 0.01): Tensor {
  checkTensor('linear', 'input', x);
  checkTensor('linear', 'weight', weight);
  if (bias !== null) checkTensor('linear', 'bias (or null)', bias);
  if (!Object.prototype.hasOwnProperty.call(ACTIVATION_CODE, act)) checkOneOf('linear', 'act', act, Object.keys(ACTIVATION_CODE));
  if (act === 'leakyRelu') checkNumber('linear', 'alpha (the leaky slope)', alpha);
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
  // Under autocast('bf16') both directions multiply in bf16 (the backward keeps the forward's precision).
  const bf16 = currentPrecision() === 'bf16';
  const y = outputBuffer(M * N);
  const tracked = needsGrad(x, weight, bias);
  // GELU's backward needs the pre-activation; only kept when a backward pass can come.
  const preact = tracked && (act === 'gelu' || act === 'geluTanh') ? privateBuffer(M * N) : null;
  if (M > 0) {
    const args = { M, N, K, X: x.data, W: weight.data, bias: bias ? bias.data : null, act, alpha, out: y, preact };
    if (bf16) backend.linearForwardMixedBf16(args);
    else backend.linearForward(args);
  }
  const out = new Tensor(y, outShape);
  if (!tracked && !isTracing()) return out;

  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, act === 'none' ? 'linear' : `linear+${act}`, inputs, (g) => {
    // Leaf parameters that already hold a gradient buffer (kept by zeroGrad) receive dW/dB in
    // place (accumulate = true; the other of the two, if it has none, gets a zeroed array, which
    // accumulating into is the same as overwriting). dX is always a fresh array the kernel
    // overwrites (accumulateX = false), so it needs no zero fill.
    const wIntoGrad = intoLeafGrad(weight);
    const bIntoGrad = bias ? intoLeafGrad(bias) : null;
    const accumulate = wIntoGrad !== null || bIntoGrad !== null;
    const fresh = (n: number): Float32Array => (accumulate || M === 0 ? zeroedGradBuffer(n) : gradBuffer(n));
    const dX = x.requiresGrad ? gradBuffer(M * K) : null;
    const dW = wIntoGrad ?? fresh(N * K);
    const dB = bias && bias.requiresGrad ? (bIntoGrad ?? fresh(N)) : null;
    if (M > 0) {
      const args = { M, N, K, X: x.data, W: weight.data, Y: y, preact, dY: g, act, alpha, dZ: scratch(M * N), dX, dW, dB, accumulate, accumulateX: false };
      if (bf16) backend.linearBackwardMixedBf16(args);
      else backend.linearBackward(args);
    }
    releaseAfterBackward(preact);
    const gW = weight.requiresGrad && !wIntoGrad ? dW : null;
    const gB = dB && !bIntoGrad ? dB : null;
    return bias ? [dX, gW, gB] : [dX, gW];
  }, act === 'leakyRelu' ? { alpha } : undefined);
}

/** A gradient array filled with zeros (pooled arrays hold old values). */
export function zeroedGradBuffer(n: number): Float32Array {
  return gradBuffer(n).fill(0);
}

/** The .grad buffer of a leaf parameter to accumulate into directly, or null. */
export function intoLeafGrad(t: Tensor): Float32Array | null {
  if (!t.requiresGrad || t._node !== null || t.grad === null || t.grad.size !== t.size) return null;
  return t.grad.data;
}
