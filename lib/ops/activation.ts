// Activation ops (relu, leakyRelu, sigmoid, tanh, gelu) and row softmax / log-softmax, with backward rules.
import { getBackend } from '../backend/select';
import type { Activation } from '../backend/contract';
import { record } from '../autograd';
import { Tensor, shapeToString } from '../tensor';
import { gradBuffer, outputBuffer } from '../buffer-pool';

/** y = act(x) through the activation kernel; backward through activationBackward. */
export function activate(x: Tensor, act: Activation, alpha = 0.01): Tensor {
  const backend = getBackend();
  const n = x.size;
  const y = outputBuffer(n);
  if (act === 'none') y.set(x.data);
  else if (n > 0) backend.activationForward(act, n, x.data, y, alpha);
  return record(new Tensor(y, x.shape), act, [x], (g) => {
    if (act === 'none') return [g];
    const dx = gradBuffer(n);
    if (n > 0) backend.activationBackward(act, n, x.data, y, g, dx, alpha);
    return [dx];
  });
}

export function relu(x: Tensor): Tensor {
  return activate(x, 'relu');
}

/** x > 0 ? x : negativeSlope * x */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return activate(x, 'leakyRelu', negativeSlope);
}

export function sigmoid(x: Tensor): Tensor {
  return activate(x, 'sigmoid');
}

export function tanh(x: Tensor): Tensor {
  return activate(x, 'tanh');
}

/** GELU: exact (erf) form, or the tanh approximation with approximate = 'tanh'. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  }
  return activate(x, approximate === 'tanh' ? 'geluTanh' : 'gelu');
}

function rowsAndCols(op: string, x: Tensor): [number, number] {
  if (x.ndim < 1) throw new Error(`${op}: expected at least a 1-D tensor, got shape ${shapeToString(x.shape)}`);
  const N = x.shape[x.ndim - 1];
  return [N === 0 ? 0 : x.size / N, N];
}

/** Softmax over the last dimension. */
export function softmax(x: Tensor): Tensor {
  const backend = getBackend();
  const [M, N] = rowsAndCols('softmax', x);
  const y = outputBuffer(x.size);
  if (x.size > 0) backend.softmax(M, N, x.data, y);
  return record(new Tensor(y, x.shape), 'softmax', [x], (g) => {
    const dx = gradBuffer(g.length);
    if (g.length > 0) backend.softmaxBackward(M, N, y, g, dx);
    return [dx];
  });
}

/** Log-softmax over the last dimension (stable: x - max - log(sum(exp(x - max)))). */
export function logSoftmax(x: Tensor): Tensor {
  const backend = getBackend();
  const [M, N] = rowsAndCols('logSoftmax', x);
  const y = outputBuffer(x.size);
  if (x.size > 0) backend.logSoftmax(M, N, x.data, y);
  return record(new Tensor(y, x.shape), 'logSoftmax', [x], (g) => {
    const dx = gradBuffer(g.length);
    if (g.length > 0) backend.logSoftmaxBackward(M, N, y, g, dx);
    return [dx];
  });
}
