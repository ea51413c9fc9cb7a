// The nn namespace: layers, Sequential, fromConfig, initialisers and losses.
export { Module, type ModuleOutput } from './module';
// model.predict / predictClasses / predictAsync are installed by serve (Module does not import serve).
import '../serve/methods';
export type { PredictOptions } from '../serve/run';
export { Linear, Dense, type LinearOptions, type LinearInit } from './linear';
export { ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, type GELUOptions } from './activations';
export { Dropout, type DropoutOptions } from './dropout';
export { Flatten } from './flatten';
export { Sequential, type SequentialOptions } from './sequential';
export { fromConfig } from './from-config';
export { type LayerConfig } from './config';
export { register, layerTypes, keyRules, type LayerDefinition, type KeyRule, type OnnxExportContext, type InferenceRole } from './registry';
export { kaimingNormal, glorotUniform, uniformFill, initForActivation, type InitScheme } from './init';
export { crossEntropy, mseLoss, bceWithLogits, huberLoss, l1Loss, type Reduction, type LossOptions, type CrossEntropyOptions, type BceWithLogitsOptions } from './losses';
export { LayerNorm, type LayerNormOptions } from './layer-norm';
export { Embedding, type EmbeddingOptions } from './embedding';
export {
  LearnedPositionalEncoding, SinusoidalPositionalEncoding, sinusoidalTable,
  type LearnedPositionalEncodingOptions, type SinusoidalPositionalEncodingOptions,
} from './positional';
export { MultiheadAttention, type MultiheadAttentionOptions, type AttendOptions, type AttentionCache } from './multihead-attention';
export { DecoderBlock, type DecoderBlockOptions } from './decoder-block';
export { TransformerEncoderLayer, TransformerEncoder, type TransformerEncoderLayerOptions, type TransformerEncoderOptions, type EncodeOptions } from './transformer-encoder';
export { LSTM } from './lstm';
export { GRU } from './gru';
export type { RecurrentOptions, RecurrentResult } from './recurrent';
export { Conv1d, Conv2d, type Conv1dLayerOptions, type Conv2dLayerOptions, type ConvInit } from './conv';
export { MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool2d, type Pool1dLayerOptions, type Pool2dLayerOptions } from './pool';
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './batch-norm';
export { GroupNorm, type GroupNormOptions } from './group-norm';
export { Dropout2d } from './dropout2d';
export { Upsample, type UpsampleOptions } from './upsample';
export { Identity } from './identity';
export { ResidualBlock, type ResidualBlockOptions } from './residual-block';
export { Graph, GRAPH_OPS, type GraphOptions, type GraphNode, type GraphConfig, type GraphAttr } from './graph';
