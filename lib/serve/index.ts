// Serving: non-blocking batched inference (predictAsync) and the dense-layer plans it runs.
export { predictAsync } from './predict';
export type { PredictAsyncOptions } from './predict';
export { buildPlan } from './plan';
export type { InferencePlan, PlannableModel } from './plan';
