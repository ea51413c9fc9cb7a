// SGD with momentum, Nesterov and weight decay (PyTorch semantics), via the fused sgdStep kernel.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { Optimizer, hyperChecks, type HyperSpec } from './optimizer';
import { argumentError, checkOptions } from '../validate';

export interface SGDOptions {
  /** Learning rate (default 0.01). */
  lr?: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

const SGD_SPEC: HyperSpec = {
  lr: hyperChecks.nonNegative,
  momentum: hyperChecks.fraction,
  nesterov: hyperChecks.flag,
  weightDecay: hyperChecks.nonNegative,
};

export class SGD extends Optimizer {
  constructor(params: Iterable<Tensor>, opts: SGDOptions = {}) {
    const o = checkOptions('SGD', opts, Object.keys(SGD_SPEC));
    super(params, { lr: o.lr ?? 0.01, momentum: o.momentum ?? 0, nesterov: o.nesterov ?? false, weightDecay: o.weightDecay ?? 0 }, SGD_SPEC);
  }

  protected override checkHyperTogether(where: string, h: Record<string, number | boolean>): void {
    if (h.nesterov === true && h.momentum === 0) throw argumentError(where, 'nesterov needs a momentum > 0');
  }

  protected override updateParam(i: number, p: Tensor, grad: Float32Array): void {
    const h = this.hyper;
    const momentum = h.momentum as number;
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
    getBackend().sgdStep({
      n: p.size, param: p.data, grad, velocity, lr: h.lr as number, momentum,
      weightDecay: h.weightDecay as number, nesterov: h.nesterov as boolean,
    });
  }

  protected override stateBuffers(): string[] {
    return ['velocity'];
  }
}
