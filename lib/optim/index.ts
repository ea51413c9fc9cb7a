// The optim namespace: optimizers, learning-rate schedules and gradient clipping.
export { Optimizer, type BaseHyper, type OptimizerStateDict, type ParamState } from './base';
export { OPTIMIZER_DEFAULTS, type AdamHyper, type OptimizerName, type RMSpropHyper, type SGDHyper } from './defaults';
export { SGD, type SGDOptions } from './sgd';
export { Adam, AdamW, type AdamOptions } from './adam';
export { RMSprop, type RMSpropOptions } from './rmsprop';
export { LRSchedule, StepLR, ExponentialLR, CosineAnnealingLR, LinearWarmup, type HasLearningRate } from './schedules';
export { clipGradNorm } from './clip';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from './plateau';
export { OneCycleLR, type OneCycleLROptions } from './one-cycle';
