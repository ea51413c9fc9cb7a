// SGD with momentum, Nesterov and weight decay (PyTorch semantics), via the fused sgdStep kernel.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { Optimizer } from './base';
import { HYPER_SPECS, OPTIMIZER_DEFAULTS, hyperFromOptions, type SGDHyper } from './defaults';
import { argumentError } from '../validate';

/** Each defaults to OPTIMIZER_DEFAULTS.sgd (lr 1e-3, momentum 0, nesterov false, weightDecay 0). */
export type SGDOptions = Partial<SGDHyper>;

/**
 * Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay (as torch.optim.SGD).
 * @example const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 */
export class SGD extends Optimizer<SGDHyper> {
  /**
   * Creates the optimizer over `params`.
   * @param params the tensors to update (e.g. model.parameters()), each at most once.
   * @param opts lr (default 1e-3, >= 0), momentum (default 0, in [0, 1)), nesterov (default false; needs momentum > 0), weightDecay (default 0, >= 0).
   * @throws Error when params is empty, not a list of Tensors, or holds a tensor twice; for an unknown option, a value out of range, or nesterov without momentum.
   * @example
   * ```ts
   * const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true });
   * ```
   */
  constructor(params: Iterable<Tensor>, opts: SGDOptions = {}) {
    super(params, hyperFromOptions('SGD', OPTIMIZER_DEFAULTS.sgd, HYPER_SPECS.sgd, opts), HYPER_SPECS.sgd);
  }

  protected override checkHyperTogether(where: string, h: SGDHyper): void {
    if (h.nesterov && h.momentum === 0) throw argumentError(where, 'nesterov needs a momentum > 0');
  }

  protected override updateParam(i: number, p: Tensor, grad: Float32Array): void {
    const { lr, momentum, weightDecay, nesterov } = this.hyper;
    let velocity: Float32Array | null = null;
    if (momentum !== 0) {
      let s = this.state[i];
      if (s === null || !(s.velocity instanceof Float32Array)) {
        // PyTorch starts the buffer at the first gradient (v = g); from zero, v = momentum*0 + g is the same.
        s = { velocity: new Float32Array(p.size) };
        this.state[i] = s;
      }
      velocity = s.velocity as Float32Array;
    }
    getBackend().sgdStep({ n: p.size, param: p.data, grad, velocity, lr, momentum, weightDecay, nesterov });
  }

  protected override stateBuffers(): string[] {
    return ['velocity'];
  }
}
