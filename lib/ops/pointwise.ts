// Piecewise-linear unary ops: abs (on the backend's abs kernel) and clamp, with backward rules.
import { getBackend } from '../backend/select';
import { isTracing, record } from '../autograd';
import { Tensor } from '../tensor-core';
import { argumentError, checkNumber, checkTensor, describe } from '../validate';

/**
 * |x|. The gradient is sign(x) (0 at 0, like PyTorch).
 * @param x the input tensor.
 * @throws Error when x is not a Tensor.
 * @example abs(tensor([-1, 2])) // [1, 2]
 */
export function abs(x: Tensor): Tensor {
  checkTensor('abs', 'input', x);
  const out = new Float32Array(x.size);
  getBackend().unary('abs', x.size, x.data, out);
  return record(new Tensor(out, x.shape), 'abs', [x], (g) => {
    const d = x.data;
    const dx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) dx[i] = d[i] > 0 ? g[i] : d[i] < 0 ? -g[i] : 0;
    return [dx];
  });
}

/** A clamp bound: a finite number, or undefined/null for none. */
function bound(name: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  return checkNumber('clamp', name, v);
}

/**
 * Limits every element to [min, max] (either bound may be omitted with null/undefined, not both).
 * As in PyTorch, min > max gives max everywhere, NaN stays NaN, and the gradient passes where
 * min <= x <= max and is 0 elsewhere.
 * @param x the input tensor.
 * @param min the lower bound (null or undefined: none).
 * @param max the upper bound (null or undefined: none).
 * @throws Error when x is not a Tensor, a bound is not a number, or neither bound is given.
 * @example clamp(tensor([-2, 0.5, 3]), 0, 1) // [0, 0.5, 1]
 */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  checkTensor('clamp', 'input', x);
  const lo = bound('min', min);
  const hi = bound('max', max);
  if (lo === null && hi === null) {
    throw argumentError('clamp', `needs min or max (or both), got min ${describe(min)} and max ${describe(max)}`);
  }
  const lower = lo ?? -Infinity;
  const upper = hi ?? Infinity;
  const d = x.data;
  const out = new Float32Array(x.size);
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    out[i] = v < lower ? (lower > upper ? upper : lower) : v > upper ? upper : v;
  }
  return record(new Tensor(out, x.shape), 'clamp', [x], (g) => {
    const dx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) if (d[i] >= lower && d[i] <= upper) dx[i] = g[i];
    return [dx];
  }, isTracing() ? { min: lo, max: hi } : undefined);
}
