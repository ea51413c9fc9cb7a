// Adam and AdamW (decoupled weight decay), PyTorch semantics, via the fused adamStep kernel.
import { getBackend } from '../backend/select';
import type { Tensor } from '../tensor';
import { Optimizer, withDefaults } from './base';
import { HYPER_SPECS, OPTIMIZER_DEFAULTS, type AdamHyper } from './defaults';
import { argumentError, checkOptions, invalid } from '../validate';

/**
 * Each defaults to OPTIMIZER_DEFAULTS.adam (lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-8, weightDecay 0)
 * or, for AdamW, OPTIMIZER_DEFAULTS.adamw (weightDecay 0.01).
 */
export interface AdamOptions extends Partial<AdamHyper> {
  /** Also accepted as a pair, PyTorch style. */
  betas?: [number, number];
}

/** Adam's starting hyperparameters from its options (checked by HYPER_SPECS.adam in the Optimizer constructor). */
function adamHyper(op: string, opts: AdamOptions, defaults: Readonly<AdamHyper>): AdamHyper {
  const { betas, ...o } = checkOptions(op, opts, ['lr', 'beta1', 'beta2', 'betas', 'eps', 'weightDecay']);
  if (betas !== undefined) {
    if (o.beta1 !== undefined || o.beta2 !== undefined) throw argumentError(op, 'give betas or beta1/beta2, not both');
    if (!Array.isArray(betas) || betas.length !== 2) invalid(op, 'betas', 'a pair [beta1, beta2]', betas);
    [o.beta1, o.beta2] = betas;
  }
  return withDefaults(defaults, o);
}

/**
 * The Adam optimizer (as torch.optim.Adam; default lr 1e-3, betas 0.9 / 0.999, eps 1e-8); weightDecay adds L2 to the gradient.
 * @example const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
 */
export class Adam extends Optimizer<AdamHyper> {
  protected readonly decoupled: boolean = false;

  /**
   * Creates the optimizer over `params`.
   * @param params the tensors to update (e.g. model.parameters()), each at most once.
   * @param opts lr (default 1e-3, >= 0), beta1 (0.9) and beta2 (0.999) in [0, 1) (or betas: [beta1, beta2]), eps (1e-8, > 0), weightDecay (0, >= 0).
   * @param defaults the values options fall back to (OPTIMIZER_DEFAULTS.adam; AdamW passes OPTIMIZER_DEFAULTS.adamw).
   * @throws Error when params is empty, not a list of Tensors, or holds a tensor twice; for an unknown option, a value out of range, both betas and beta1/beta2, or betas that are not a pair.
   * @example
   * ```ts
   * const opt = new optim.Adam(model.parameters(), { lr: 3e-4, betas: [0.9, 0.98] });
   * ```
   */
  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}, defaults: Readonly<AdamHyper> = OPTIMIZER_DEFAULTS.adam) {
    super(params, adamHyper(new.target.name, opts, defaults), HYPER_SPECS.adam);
  }

  protected override updateParam(i: number, p: Tensor, grad: Float32Array): void {
    let s = this.state[i];
    if (s === null) {
      s = { step: 0, m: new Float32Array(p.size), v: new Float32Array(p.size) };
      this.state[i] = s;
    }
    const step = (s.step as number) + 1;
    s.step = step;
    const { lr, beta1, beta2, eps, weightDecay } = this.hyper;
    getBackend().adamStep({
      n: p.size, param: p.data, grad, m: s.m as Float32Array, v: s.v as Float32Array, step,
      lr, beta1, beta2, eps, weightDecay, decoupled: this.decoupled,
    });
  }

  protected override stateBuffers(): string[] {
    return ['m', 'v'];
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter); weightDecay defaults to 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  /**
   * Creates the optimizer over `params`.
   * @param params the tensors to update (e.g. model.parameters()), each at most once.
   * @param opts lr (default 1e-3), beta1 (0.9), beta2 (0.999) or betas, eps (1e-8), weightDecay (default 0.01, decoupled from the gradient).
   * @throws Error when params is empty, not a list of Tensors, or holds a tensor twice; for an unknown option, a value out of range, both betas and beta1/beta2, or betas that are not a pair.
   * @example
   * ```ts
   * const opt = new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
   * ```
   */
  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}) {
    super(params, opts, OPTIMIZER_DEFAULTS.adamw);
  }
}
