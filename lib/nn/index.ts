// The nn namespace: layers, Sequential, fromConfig, initialisers and losses.
export { Module, type PredictOptions, type FusableActivation } from './module';
export { Linear, Dense, type LinearOptions } from './linear';
export { ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, type GELUOptions } from './activations';
export { Dropout, type DropoutOptions } from './dropout';
export { Flatten } from './flatten';
export { Sequential, type SequentialOptions } from './sequential';
export { fromConfig } from './from-config';
export { type LayerConfig, LAYER_TYPES } from './config';
export { kaimingNormal, glorotUniform, initForActivation, type InitScheme } from './init';
export { crossEntropy, mseLoss, bceWithLogits, huberLoss, l1Loss, type Reduction, type LossOptions, type CrossEntropyOptions, type BceWithLogitsOptions } from './losses';
