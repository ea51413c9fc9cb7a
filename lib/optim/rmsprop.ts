// RMSprop (PyTorch semantics, not centered), with optional momentum, via the fused rmspropStep kernel.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { Optimizer, hyperChecks, type HyperSpec } from './optimizer';
import { checkOptions } from '../validate';

export interface RMSpropOptions {
  /** Learning rate (default 0.01). */
  lr?: number;
  /** Smoothing constant of the squared-gradient average (default 0.99). */
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
}

const RMSPROP_SPEC: HyperSpec = {
  lr: hyperChecks.nonNegative,
  alpha: hyperChecks.fraction,
  eps: hyperChecks.positive,
  weightDecay: hyperChecks.nonNegative,
  momentum: hyperChecks.fraction,
};

export class RMSprop extends Optimizer {
  constructor(params: Iterable<Tensor>, opts: RMSpropOptions = {}) {
    const o = checkOptions('RMSprop', opts, Object.keys(RMSPROP_SPEC));
    super(params, {
      lr: o.lr ?? 0.01,
      alpha: o.alpha ?? 0.99,
      eps: o.eps ?? 1e-8,
      weightDecay: o.weightDecay ?? 0,
      momentum: o.momentum ?? 0,
    }, RMSPROP_SPEC);
  }

  protected override updateParam(i: number, p: Tensor, grad: Float32Array): void {
    const h = this.hyper;
    const momentum = h.momentum as number;
    let s = this.state[i];
    if (s === null) {
      s = { sq: new Float32Array(p.size) };
      this.state[i] = s;
    }
    if (momentum > 0 && !(s.buf instanceof Float32Array)) s.buf = new Float32Array(p.size);
    const buf = momentum > 0 ? (s.buf as Float32Array) : null;
    getBackend().rmspropStep({
      n: p.size, param: p.data, grad, sq: s.sq as Float32Array, buf,
      lr: h.lr as number, alpha: h.alpha as number, eps: h.eps as number, weightDecay: h.weightDecay as number, momentum,
    });
  }

  protected override stateBuffers(): string[] {
    return ['sq', 'buf'];
  }
}
