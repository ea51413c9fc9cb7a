// myelin's public API: everything users import, re-exported from the modules that implement it.
export { Tensor, tensor, zeros, ones, full, eye, randn, rand, arange, shapeToString, type NestedArray, type NumericArray, type TensorOptions, type RandomOptions } from './tensor';
export { IntTensor, intTensor, type IndexLike } from './int-tensor';
export { noGrad, isGradEnabled, trainingStep } from './autograd';
export { autocast, currentPrecision, type Precision } from './autocast';
export { info, setBackend, availableBackends, type BackendName, type SelectedBackendInfo } from './backend/select';
export { Rng, manualSeed } from './random';
export * as ops from './ops';
// The ops PyTorch users call as torch.matmul(a, b), torch.where(...), etc., also at the top level.
export {
  matmul, add, sub, mul, div, neg, exp, log, sqrt, pow, abs, clamp, sum, mean, max, min, argmax, argmin,
  eq, ne, lt, le, gt, ge, where, reshape, flatten, transpose, concat, stack, squeeze, unsqueeze, narrow, indexSelect,
  relu, sigmoid, tanh, softmax, logSoftmax,
  permute, gather, embedding, maskedFill, triu, tril, cumsum, bmm, topk, multinomial,
} from './ops';
export * as nn from './nn';
export * as optim from './optim';
export * as data from './data';
export { fit, evaluate, predict, Trainer, type BackgroundFitOptions, historyToCsv, type ReportOption, type ReportSettings, callbacks, earlyStopping, lrScheduler, cosineDecay, metrics, type FitOptions, type FitDatasetOptions, type FitData, type History, type TrainingWarning, type Callback, type EpochLogs, type TrainContext, type EvaluateResult } from './train';
export * as onnx from './io/onnx';
export * as io from './io';
export { save, load, loadCheckpoint, type SaveOptions, type LoadOptions, type Checkpoint } from './io';
export { predictAsync, batcher, type PredictAsyncOptions, type BatcherOptions } from './serve';
export * as serve from './serve';
export { predictFile, mergeShards, type PredictFileOptions, type PredictFileResult, type MergeResult } from './batch';
export * as batch from './batch';
export { quantize, QuantizedLinear, QuantizedConv2d, type QuantizeOptions, type QuantDtype } from './quant';
export * as distributed from './distributed';
export { generate, sampleLogits, contextLength, type GenerateOptions, type GenerateResult } from './generate';
