// clipGradNorm: rescales all gradients together so their global L2 norm is at most maxNorm.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { scratch } from '../ops/scratch';
import { checkTensorList, invalid } from '../validate';

/**
 * Computes the L2 norm of all gradients taken together (parameters without a gradient are
 * skipped); if it exceeds maxNorm, scales every gradient by maxNorm / (norm + 1e-6) (PyTorch).
 * Returns the norm before clipping.
 * @param params the parameters whose gradients are clipped (e.g. model.parameters()).
 * @param maxNorm the largest global L2 norm allowed, > 0.
 * @returns the global norm before clipping.
 * @throws Error when params is not a list of Tensors or maxNorm is not a positive number.
 * @example
 * ```ts
 * loss.backward(); optim.clipGradNorm(model.parameters(), 1.0); opt.step();
 * ```
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const list = checkTensorList('clipGradNorm', 'params', params);
  // Infinity is accepted (no clipping, the norm is still returned).
  if (typeof maxNorm !== 'number' || !(maxNorm > 0)) invalid('clipGradNorm', 'maxNorm', 'a positive number', maxNorm);
  const backend = getBackend();
  const grads: Float32Array[] = [];
  for (const p of list) if (p.grad) grads.push(p.grad.data);
  let sq = 0;
  for (const g of grads) {
    if (g.length === 0) continue;
    const view = scratch(g.length);
    backend.unary('square', g.length, g, view);
    sq += backend.sum(g.length, view);
  }
  const norm = Math.sqrt(sq);
  if (norm > maxNorm) {
    const factor = maxNorm / (norm + 1e-6);
    for (const g of grads) if (g.length > 0) backend.scale(g.length, g, factor, g);
  }
  return norm;
}
