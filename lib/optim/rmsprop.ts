// RMSprop (PyTorch semantics, not centered), with optional momentum, via the fused rmspropStep kernel.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { Optimizer } from './base';
import { HYPER_SPECS, OPTIMIZER_DEFAULTS, hyperFromOptions, type RMSpropHyper } from './defaults';

/** Each defaults to OPTIMIZER_DEFAULTS.rmsprop (lr 0.01, alpha 0.99, eps 1e-8, weightDecay 0, momentum 0). */
export type RMSpropOptions = Partial<RMSpropHyper>;

/** The RMSprop optimizer (as torch.optim.RMSprop; default lr 1e-2, alpha 0.99). */
export class RMSprop extends Optimizer<RMSpropHyper> {
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
