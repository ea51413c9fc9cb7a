// Dropout: zero each element with probability p (seeded mask), scale the rest by 1/(1-p); identity in eval.
import { getBackend } from '../backend/select';
import { record } from '../autograd';
import { Tensor } from '../tensor';
import { Rng, globalGenerator } from '../random';

/** Inverted dropout. With training false (or p = 0) returns x unchanged. */
export function dropout(x: Tensor, p: number, training = true, rng: Rng = globalGenerator()): Tensor {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
    throw new Error(`dropout: p must be in [0, 1], got ${String(p)}`);
  }
  if (!training || p === 0) return x;
  const n = x.size;
  const mask = new Float32Array(n);
  if (p < 1) {
    const keep = 1 / (1 - p);
    for (let i = 0; i < n; i++) mask[i] = rng.next() >= p ? keep : 0;
  }
  const out = new Float32Array(n);
  const backend = getBackend();
  backend.mul(n, x.data, mask, out);
  return record(new Tensor(out, x.shape), 'dropout', [x], (g) => {
    const dx = new Float32Array(n);
    backend.mul(n, g, mask, dx);
    return [dx];
  });
}
