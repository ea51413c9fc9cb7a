// Dropout: zero each element with probability p (seeded mask), scale the rest by 1/(1-p); identity in eval.
import { getBackend } from '../backend/select';
import { isTracing, record } from '../autograd';
import { Tensor } from '../tensor-core';
import { Rng, globalGenerator } from '../random';
import { gradBuffer, outputBuffer, privateBuffer, releaseAfterBackward, releasePrivate } from '../buffer-pool';
import { checkBoolean, checkNumber, checkTensor, invalid } from '../validate';

/** Inverted dropout. With training false (or p = 0) returns x unchanged. */
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
