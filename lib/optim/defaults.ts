// The optimizers' hyperparameters, typed, their checks, and their one set of defaults (PyTorch 2.x's), shared by the classes and fit({ optimizer: 'name' }).
import { hyperChecks, withDefaults, type HyperSpec } from './base';
import { checkOptions } from '../validate';

/** SGD's hyper-parameters: lr, momentum, nesterov, weightDecay. */
export interface SGDHyper {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

/** Adam's and AdamW's hyper-parameters: lr, beta1, beta2, eps, weightDecay. */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** L2 penalty added to the gradient (Adam) or decoupled decay (AdamW). */
  weightDecay: number;
}

/** RMSprop's hyper-parameters: lr, alpha, eps, momentum, weightDecay. */
export interface RMSpropHyper {
  lr: number;
  /** Smoothing constant of the squared-gradient average. */
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
}

/**
 * Defaults of torch.optim (2.x): SGD lr 1e-3; Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8; AdamW the
 * same with weightDecay 0.01; RMSprop lr 0.01, alpha 0.99, eps 1e-8. `new Adam(params)` and
 * fit(model, data, { optimizer: 'adam' }) start from the same values.
 */
export const OPTIMIZER_DEFAULTS: {
  readonly sgd: Readonly<SGDHyper>;
  readonly adam: Readonly<AdamHyper>;
  readonly adamw: Readonly<AdamHyper>;
  readonly rmsprop: Readonly<RMSpropHyper>;
} = Object.freeze({
  sgd: Object.freeze({ lr: 1e-3, momentum: 0, nesterov: false, weightDecay: 0 }),
  adam: Object.freeze({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }),
  adamw: Object.freeze({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }),
  rmsprop: Object.freeze({ lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0 }),
});

/** The names fit accepts for a new optimizer. */
export type OptimizerName = keyof typeof OPTIMIZER_DEFAULTS;

/** How each optimizer's hyperparameters are checked (at construction, by the lr setter, by loadStateDict). */
export const HYPER_SPECS: {
  readonly sgd: HyperSpec<SGDHyper>;
  readonly adam: HyperSpec<AdamHyper>;
  readonly rmsprop: HyperSpec<RMSpropHyper>;
} = {
  sgd: { lr: hyperChecks.nonNegative, momentum: hyperChecks.fraction, nesterov: hyperChecks.flag, weightDecay: hyperChecks.nonNegative },
  adam: { lr: hyperChecks.nonNegative, beta1: hyperChecks.fraction, beta2: hyperChecks.fraction, eps: hyperChecks.positive, weightDecay: hyperChecks.nonNegative },
  rmsprop: { lr: hyperChecks.nonNegative, alpha: hyperChecks.fraction, eps: hyperChecks.positive, weightDecay: hyperChecks.nonNegative, momentum: hyperChecks.fraction },
};

/** A constructor's options (only the spec's keys; undefined keeps a default) over the optimizer's defaults. */
export function hyperFromOptions<H extends { lr: number }>(where: string, defaults: Readonly<H>, spec: HyperSpec<H>, opts: Partial<H>): H {
  return withDefaults(defaults, checkOptions(where, opts, Object.keys(spec)));
}
