// Dropout: zero each element with probability p (seeded mask), scale the rest by 1/(1-p); identity in eval.
import { getBackend } from '../backend/select';
import { isTracing, record } from '../autograd';
import { Tensor } from '../tensor-core';
import { Rng, globalGenerator } from '../random';
import { gradBuffer, outputBuffer, privateBuffer, releaseAfterBackward, releasePrivate } from '../buffer-pool';
import { checkBoolean, checkNumber, checkTensor, invalid } from '../validate';

/**
 * Inverted dropout: zeroes each element with probability p and scales the others by 1 / (1 - p), so the
 * expected value is unchanged. With training false (or p = 0) returns x itself; p = 1 gives zeros.
 * @param x a Tensor of any shape.
 * @param p the drop probability, in [0, 1].
 * @param training apply the dropout (default true).
 * @param rng the generator of the mask (default the global generator; see manualSeed).
 * @returns a Tensor of x's shape (x itself when not training or p is 0).
 * @throws Error when x is not a Tensor, p is not in [0, 1], training is not a boolean, or rng is not an Rng.
 * @example ops.dropout(ones([4]), 0.5, true, new Rng(1)) // each value 0 or 2
 */
export function dropout(x: Tensor, p: number, training = true, rng: Rng = globalGenerator()): Tensor {
  checkTensor('dropout', 'input', x);
  checkNumber('dropout', 'p', p, { min: 0, max: 1 });
  checkBoolean('dropout', 'training', training);
  if (!(rng instanceof Rng)) invalid('dropout', 'rng', 'an Rng', rng);
  if (!training || p === 0) return x;
  const n = x.size;
  const mask = privateBuffer(n);
  if (p < 1) {
    const keep = 1 / (1 - p);
    for (let i = 0; i < n; i++) mask[i] = rng.next() >= p ? keep : 0;
  } else {
    mask.fill(0);
  }
  const out = outputBuffer(n);
  const backend = getBackend();
  if (n > 0) backend.mul(n, x.data, mask, out);
  const y = record(new Tensor(out, x.shape), 'dropout', [x], (g) => {
    const dx = gradBuffer(n);
    if (n > 0) backend.mul(n, g, mask, dx);
    releaseAfterBackward(mask);
    return [dx];
  }, isTracing() ? { p } : undefined);
  if (y._node === null) releasePrivate(mask);
  return y;
}
