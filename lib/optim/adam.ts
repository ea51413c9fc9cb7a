// Adam and AdamW (decoupled weight decay), PyTorch semantics, via the fused adamStep kernel.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { Optimizer, checkFraction, checkNonNegative } from './optimizer';

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

function adamHyper(op: string, opts: AdamOptions, defaultDecay: number): Record<string, number | boolean> {
  const beta1 = opts.betas ? opts.betas[0] : (opts.beta1 ?? 0.9);
  const beta2 = opts.betas ? opts.betas[1] : (opts.beta2 ?? 0.999);
  const eps = opts.eps ?? 1e-8;
  if (!(eps > 0)) throw new Error(`${op}: eps must be positive, got ${String(eps)}`);
  return {
    lr: opts.lr ?? 1e-3,
    beta1: checkFraction(op, 'beta1', beta1),
    beta2: checkFraction(op, 'beta2', beta2),
    eps,
    weightDecay: checkNonNegative(op, 'weightDecay', opts.weightDecay ?? defaultDecay),
  };
}

export class Adam extends Optimizer {
  protected readonly decoupled: boolean = false;

  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}, defaultDecay = 0) {
    super(params, adamHyper(new.target.name, opts, defaultDecay));
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
