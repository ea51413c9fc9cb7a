// Serving: non-blocking inference (predictAsync), dynamic batching of concurrent calls (batcher), and the dense-layer plans they run.
export { predict, predictClasses, PREDICT_BATCH_SIZE } from './run';
export type { PredictOptions, PredictableModel } from './run';
export type { ModelInput } from './inputs';
import './methods';
export { predictAsync } from './predict';
export type { PredictAsyncOptions } from './predict';
export { batcher, Batcher, BATCHER_DEFAULTS } from './batcher';
export type { BatcherOptions, BatchedPredictOptions, BatcherStats } from './batcher';
export { shapeInput } from './input';
export type { InputShapeOptions } from './input';
export { buildPlan } from './plan';
export type { InferencePlan, PlannableModel } from './plan';
