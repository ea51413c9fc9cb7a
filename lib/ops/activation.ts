// Activation ops (relu, leakyRelu, sigmoid, tanh, gelu) and row softmax / log-softmax, with backward rules.
import { getBackend } from '../backend/select';
import { ACTIVATION_CODE, type Activation } from '../backend/contract';
import { record } from '../autograd';
import { Tensor, shapeToString } from '../tensor-core';
import { gradBuffer, outputBuffer } from '../buffer-pool';
import { checkNumber, checkOneOf, checkTensor } from '../validate';
import { alongAxis } from './seq';

/**
 * y = act(x) elementwise through the activation kernel (the op behind relu, sigmoid, tanh, gelu, leakyRelu;
 * differentiable).
 * @param x a Tensor of any shape.
 * @param act the activation: 'none' (a copy), 'relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu' (exact) or
 * 'geluTanh' (tanh approximation).
 * @param alpha the negative slope of 'leakyRelu' (default 0.01; ignored by the others).
 * @returns a Tensor of x's shape.
 * @throws Error when x is not a Tensor, act is not a known activation, or alpha (for 'leakyRelu') is not a finite number.
 * @example ops.activate(tensor([-2, 3]), 'leakyRelu', 0.1) // [-0.2, 3]
 */
export function activate(x: Tensor, act: Activation, alpha = 0.01): Tensor {
  return activation('activate', x, act, alpha);
}

/** activate() with errors named after the caller (relu, gelu, ...). */
function activation(op: string, x: Tensor, act: Activation, alpha: number): Tensor {
  checkTensor(op, 'input', x);
  if (!Object.prototype.hasOwnProperty.call(ACTIVATION_CODE, act)) checkOneOf(op, 'act', act, Object.keys(ACTIVATION_CODE));
  if (act === 'leakyRelu') checkNumber(op, 'negative slope', alpha);
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
  }, act === 'leakyRelu' ? { alpha } : undefined);
}

/**
 * max(0, x) elementwise (differentiable; the gradient is 0 where x <= 0).
 * @example relu(tensor([-1, 2])) // [0, 2]
 * @param x the input tensor.
 * @throws Error when x is not a Tensor.
 */
export function relu(x: Tensor): Tensor {
  return activation('relu', x, 'relu', 0.01);
}

/**
 * Leaky ReLU elementwise: x where x > 0, negativeSlope * x elsewhere (differentiable).
 * @param x a Tensor of any shape.
 * @param negativeSlope the slope for x <= 0 (default 0.01).
 * @returns a Tensor of x's shape.
 * @throws Error when x is not a Tensor or negativeSlope is not a finite number.
 * @example ops.leakyRelu(tensor([-1, 2]), 0.2) // [-0.2, 2]
 */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  checkNumber('leakyRelu', 'negativeSlope', negativeSlope);
  return activation('leakyRelu', x, 'leakyRelu', negativeSlope);
}

/**
 * 1 / (1 + exp(-x)) elementwise, in (0, 1) (differentiable).
 * @param x the input tensor.
 * @throws Error when x is not a Tensor.
 * @example sigmoid(tensor([0])) // [0.5]
 */
export function sigmoid(x: Tensor): Tensor {
  return activation('sigmoid', x, 'sigmoid', 0.01);
}

/**
 * The hyperbolic tangent elementwise, in (-1, 1) (differentiable).
 * @param x the input tensor.
 * @throws Error when x is not a Tensor.
 * @example tanh(tensor([0])) // [0]
 */
export function tanh(x: Tensor): Tensor {
  return activation('tanh', x, 'tanh', 0.01);
}

/**
 * GELU elementwise, x * Phi(x) (Phi the standard normal CDF): the exact erf form, or with approximate 'tanh'
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch. Differentiable.
 * @param x a Tensor of any shape.
 * @param approximate 'none' (exact, default) or 'tanh'.
 * @returns a Tensor of x's shape.
 * @throws Error when x is not a Tensor or approximate is neither 'none' nor 'tanh'.
 * @example ops.gelu(tensor([0, 1])) // [0, 0.8413]
 */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') checkOneOf('gelu', 'approximate', approximate, ['none', 'tanh']);
  return activation('gelu', x, approximate === 'tanh' ? 'geluTanh' : 'gelu', 0.01);
}

/** Rows and row length of x for a softmax over its last axis. */
function rowsAndCols(op: string, x: Tensor): [number, number] {
  checkTensor(op, 'input', x);
  if (x.ndim < 1) throw new Error(`${op}: expected at least a 1-D tensor, got shape ${shapeToString(x.shape)}`);
  const N = x.shape[x.ndim - 1];
  return [N === 0 ? 0 : x.size / N, N];
}

/** Row-wise softmax or log-softmax over the last dimension, with its backward kernel. */
function rowSoftmax(op: 'softmax' | 'logSoftmax', x: Tensor): Tensor {
  const [M, N] = rowsAndCols(op, x);
  const backend = getBackend();
  const y = outputBuffer(x.size);
  if (x.size > 0) backend[op](M, N, x.data, y);
  const backwardKernel = op === 'softmax' ? backend.softmaxBackward : backend.logSoftmaxBackward;
  return record(new Tensor(y, x.shape), op, [x], (g) => {
    const dx = gradBuffer(g.length);
    if (g.length > 0) backwardKernel.call(backend, M, N, y, g, dx);
    return [dx];
  });
}

/**
 * Softmax over `axis` (default the last): another axis is moved last, computed, and moved back.
 * @param x the input tensor.
 * @param axis the axis normalised (default the last; negative counts from the end).
 * @throws Error when x is not a Tensor of at least 1 dimension or axis is out of range.
 * @example softmax(tensor([[1, 1]])) // [[0.5, 0.5]]
 */
export function softmax(x: Tensor, axis?: number): Tensor {
  if (axis !== undefined && x instanceof Tensor && axis !== -1 && axis !== x.ndim - 1) return alongAxis('softmax', x, axis, (t) => softmax(t));
  return rowSoftmax('softmax', x);
}

/**
 * Log-softmax over `axis` (default the last; stable: x - max - log(sum(exp(x - max)))).
 * @param x the input tensor.
 * @param axis the axis normalised (default the last; negative counts from the end).
 * @throws Error when x is not a Tensor of at least 1 dimension or axis is out of range.
 * @example logSoftmax(tensor([[0, 0]])) // [[-0.693..., -0.693...]]
 */
export function logSoftmax(x: Tensor, axis?: number): Tensor {
  if (axis !== undefined && x instanceof Tensor && axis !== -1 && axis !== x.ndim - 1) return alongAxis('logSoftmax', x, axis, (t) => logSoftmax(t));
  return rowSoftmax('logSoftmax', x);
}
