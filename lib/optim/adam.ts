// Adam and AdamW (decoupled weight decay), PyTorch semantics, via the fused adamStep kernel.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { Optimizer, hyperChecks, type HyperSpec } from './optimizer';
import { argumentError, checkOptions, invalid } from '../validate';

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  beta1?: number;
  beta2?: number;
  /** Also accepted as a pair, PyTorch style. */
  betas?: [number, number];
  eps?: number;
  /** L2 penalty added to the gradient (Adam) or decoupled decay (AdamW, default 0.01). */
  weightDecay?: number;
}

const ADAM_SPEC: HyperSpec = {
  lr: hyperChecks.nonNegative,
  beta1: hyperChecks.fraction,
  beta2: hyperChecks.fraction,
  eps: hyperChecks.positive,
  weightDecay: hyperChecks.nonNegative,
};

/** Adam's starting hyperparameters from its options (checked by ADAM_SPEC in the Optimizer constructor). */
function adamHyper(op: string, opts: AdamOptions, defaultDecay: number): Record<string, number | boolean> {
  const o = checkOptions(op, opts, ['lr', 'beta1', 'beta2', 'betas', 'eps', 'weightDecay']);
  let beta1 = o.beta1 ?? 0.9;
  let beta2 = o.beta2 ?? 0.999;
  if (o.betas !== undefined) {
    if (o.beta1 !== undefined || o.beta2 !== undefined) throw argumentError(op, 'give betas or beta1/beta2, not both');
    if (!Array.isArray(o.betas) || o.betas.length !== 2) invalid(op, 'betas', 'a pair [beta1, beta2]', o.betas);
    [beta1, beta2] = o.betas;
  }
  return { lr: o.lr ?? 1e-3, beta1, beta2, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? defaultDecay };
}

export class Adam extends Optimizer {
  protected readonly decoupled: boolean = false;

  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}, defaultDecay = 0) {
    super(params, adamHyper(new.target.name, opts, defaultDecay), ADAM_SPEC);
  }

  protected override updateParam(i: number, p: Tensor, grad: Float32Array): void {
    let s = this.state[i];
    if (s === null) {
      s = { step: 0, m: new Float32Array(p.size), v: new Float32Array(p.size) };
      this.state[i] = s;
    }
    const step = (s.step as number) + 1;
    s.step = step;
    const h = this.hyper;
    getBackend().adamStep({
      n: p.size, param: p.data, grad, m: s.m as Float32Array, v: s.v as Float32Array, step,
      lr: h.lr as number, beta1: h.beta1 as number, beta2: h.beta2 as number, eps: h.eps as number,
      weightDecay: h.weightDecay as number, decoupled: this.decoupled,
    });
  }

  protected override stateBuffers(): string[] {
    return ['m', 'v'];
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter); weightDecay defaults to 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}) {
    super(params, opts, 0.01);
  }
}
