// The optimizers' hyperparameters, typed, and their one set of defaults (PyTorch 2.x's), shared by the classes and fit({ optimizer: 'name' }).

export interface SGDHyper {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** L2 penalty added to the gradient (Adam) or decoupled decay (AdamW). */
  weightDecay: number;
}

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
