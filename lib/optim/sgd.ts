// SGD with momentum, Nesterov and weight decay (PyTorch semantics), via the fused sgdStep kernel.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { Optimizer, checkNonNegative, checkFraction } from './optimizer';

export interface SGDOptions {
  /** Learning rate (default 0.01). */
  lr?: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export class SGD extends Optimizer {
  constructor(params: Iterable<Tensor>, opts: SGDOptions = {}) {
    const momentum = checkFraction('SGD', 'momentum', opts.momentum ?? 0);
    const nesterov = opts.nesterov ?? false;
    if (nesterov && momentum === 0) throw new Error('SGD: nesterov needs a momentum > 0');
    super(params, {
      lr: opts.lr ?? 0.01,
      momentum,
      nesterov,
      weightDecay: checkNonNegative('SGD', 'weightDecay', opts.weightDecay ?? 0),
    });
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
