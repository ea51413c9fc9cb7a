// Every op (differentiable ones with their backward rules; argmax/argmin and the comparisons carry no gradient), re-exported in one place.
// Loading lib/tensor.ts installs the Tensor methods (t.add, ...) on the ops' results (no cycle: it imports the op files, not this index).
import '../tensor';
export { add, sub, mul, div, neg, exp, log, sqrt, pow } from './elementwise';
export { matmul } from './matmul';
export { linear } from './linear';
export { activate, relu, leakyRelu, sigmoid, tanh, gelu, softmax, logSoftmax } from './activation';
export { sum, mean, max } from './reduce';
export { reshape, flatten, transpose, concat, slice, indexRows } from './shape';
export { dropout } from './dropout';
export { broadcastShapes } from './broadcast';
export { min, argmax, argmin } from './reduce';
export { abs, clamp } from './pointwise';
export { eq, ne, lt, le, gt, ge, where } from './compare';
export { squeeze, unsqueeze, stack, narrow, indexSelect } from './view';
export {
  permute, swapAxes, gather, embedding, maskedFill, triu, tril, causalMask, cumsum, bmm, topk, multinomial,
  type EmbeddingOpOptions, type TopkOptions, type MultinomialOptions,
} from './seq';
export { conv1d, conv2d } from './conv';
export { scaledDotProductAttention, selfAttentionPacked, type ScaledDotProductAttentionOptions, type SelfAttentionPackedOptions } from './attention';
export type { Conv1dOptions, Conv2dOptions, Size2 } from './conv';
export { maxPool1d, maxPool2d, avgPool1d, avgPool2d, adaptiveAvgPool2d } from './pool';
export type { Pool1dOptions, Pool2dOptions } from './pool';
export { batchNorm, groupNorm, type BatchNormOptions, type RunningStats } from './norm';
export { upsampleNearest } from './upsample';
export { lstmLayer, gruLayer, type RecurrentWeights } from './recurrent';
