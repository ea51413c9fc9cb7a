// RMSprop (PyTorch semantics, not centered), with optional momentum, via the fused rmspropStep kernel.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { Optimizer } from './base';
import { HYPER_SPECS, OPTIMIZER_DEFAULTS, hyperFromOptions, type RMSpropHyper } from './defaults';

/** Each defaults to OPTIMIZER_DEFAULTS.rmsprop (lr 0.01, alpha 0.99, eps 1e-8, weightDecay 0, momentum 0). */
export type RMSpropOptions = Partial<RMSpropHyper>;

/** The RMSprop optimizer (as torch.optim.RMSprop; default lr 1e-2, alpha 0.99). */
export class RMSprop extends Optimizer<RMSpropHyper> {
  /**
   * Creates the optimizer over `params`.
   * @param params the tensors to update (e.g. model.parameters()), each at most once.
   * @param opts lr (default 0.01, >= 0), alpha (default 0.99, in [0, 1)), eps (default 1e-8, > 0), weightDecay (default 0, >= 0), momentum (default 0, in [0, 1)).
   * @throws Error when params is empty, not a list of Tensors, or holds a tensor twice; for an unknown option or a value out of range.
   * @example
   * ```ts
   * const opt = new optim.RMSprop(model.parameters(), { lr: 1e-3 });
   * ```
   */
  constructor(params: Iterable<Tensor>, opts: RMSpropOptions = {}) {
    super(params, hyperFromOptions('RMSprop', OPTIMIZER_DEFAULTS.rmsprop, HYPER_SPECS.rmsprop, opts), HYPER_SPECS.rmsprop);
  }

  protected override updateParam(i: number, p: Tensor, grad: Float32Array): void {
    const { lr, alpha, eps, weightDecay, momentum } = this.hyper;
    let s = this.state[i];
    if (s === null) {
      s = { sq: new Float32Array(p.size) };
      this.state[i] = s;
    }
    if (momentum > 0 && !(s.buf instanceof Float32Array)) s.buf = new Float32Array(p.size);
    const buf = momentum > 0 ? (s.buf as Float32Array) : null;
    getBackend().rmspropStep({ n: p.size, param: p.data, grad, sq: s.sq as Float32Array, buf, lr, alpha, eps, weightDecay, momentum });
  }

  protected override stateBuffers(): string[] {
    return ['sq', 'buf'];
  }
}
