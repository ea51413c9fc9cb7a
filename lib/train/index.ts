// The training API: fit, evaluate, predict, callbacks, metrics and progress display.
export { emptyHistory, validationSplitRows } from './fit';
export { historyToCsv } from './history-csv';
export type { ReportOption, ReportSettings } from './report-options';
// fit / evaluate / predict take in-memory data or a data.Dataset (streamed by fit-dataset).
export { fit, evaluate, predict } from './fit-dataset';
export type { FitDatasetOptions, EvaluateDatasetOptions } from './fit-dataset';
// Training on a worker thread (fit's background option, or a Trainer for snapshots and abort).
export { Trainer } from './background';
export type { BackgroundFitOptions } from './background';
export type { FitOptions } from './fit';
export type { EvaluateOptions, EvaluateResult, PredictOptions } from './evaluate';
export * as callbacks from './callbacks';
export { earlyStopping, lrScheduler, cosineDecay } from './callbacks';
export type { EarlyStopping, EarlyStoppingOptions, LrSchedule, SteppedSchedule, CosineDecayOptions } from './callbacks';
export type { LossName, LossFunction, LossSpec } from './loss-spec';
export type { Metric, MetricFunction, MetricName, BatchTarget } from './metrics';
export type { OptimizerName } from './optimizer';
export type { ProgressStream } from './progress';
export type {
  BatchLogs, Callback, EpochLogs, FitData, History, TrainableModel, TrainableOptimizer, TrainContext, TrainingWarning,
} from './types';
export * as metrics from './metric-functions';
export type { ClassWeight } from './class-weight';
