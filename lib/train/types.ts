// Shared types of the training loop: the model/optimizer shapes fit() needs, History, callbacks, logs.
import type { Tensor } from '../tensor';
import type { ModuleOutput } from '../nn/module';

/** What fit/evaluate need from a model (nn.Module provides all of it). forward takes the input(s) as fit's x gives them. */
export interface TrainableModel {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  forward(...inputs: any[]): ModuleOutput;
  parameters(): Tensor[];
  train(mode?: boolean): unknown;
  eval(): unknown;
  stateDict(): Record<string, Tensor>;
  loadStateDict(sd: Record<string, Tensor | Float32Array>): void;
}

/** What fit needs from an optimizer (every optim.* class provides it). */
export interface TrainableOptimizer {
  zeroGrad(): void;
  step(): void;
  /** The current learning rate; lrScheduler writes it at the start of each epoch. */
  lr: number;
}

/**
 * Training data: x is [n, ...features] (a Tensor, or a flat Float32Array with `features` or n from y),
 * y is n integer class labels (Int32Array / number[]) or float targets (Tensor / Float32Array, n rows).
 * Objects returned by the data loaders (with n and features) can be passed as they are.
 */
export interface FitData {
  /** One input, or several: an array of Tensors (forward(a, b)) or a record of named Tensors (forward({ a, b })), n rows each. */
  x: Tensor | Float32Array | Tensor[] | { [name: string]: Tensor };
  y: Int32Array | number[] | Tensor | Float32Array;
  /** Rows; needed only when x and y are both flat Float32Arrays with several targets per row. */
  n?: number;
  /** Values per row of x; with a flat Float32Array x, the batch input shape is [rows, features]. */
  features?: number;
}

/** Per-epoch record of training. Epoch numbers are 0-based indices (like Keras's history.epoch). */
export interface History {
  epoch: number[];
  loss: number[];
  /** Training accuracy per epoch (present when the accuracy metric is on). */
  accuracy: number[];
  valLoss: number[];
  valAccuracy: number[];
  /** Learning rate used in each epoch. */
  lr: number[];
  /** Seconds each epoch took (training plus validation). */
  seconds: number[];
  /** Other metrics by name, e.g. { mae: [...], valMae: [...] }. */
  metrics: Record<string, number[]>;
  /** Why training ended before `epochs`: an earlyStopping callback, the AbortSignal, or ctx.stopTraining. */
  stopReason: 'earlyStopping' | 'aborted' | 'stopped' | null;
  /** True when the AbortSignal ended training (the epoch in progress is not recorded). */
  aborted: boolean;
  /** Signs that training went wrong without a NaN: an exploding loss, accuracy stuck at chance (lib/train/divergence). */
  warnings: TrainingWarning[];
  /**
   * The History as CSV: a header, then one line per epoch (epoch, loss, accuracy, valLoss, valAccuracy,
   * other metrics, lr, seconds; columns with no values left out). Not enumerable: JSON leaves it out.
   */
  toCsv(): string;
}

/** A problem fit noticed during training that did not stop it. */
export interface TrainingWarning {
  /** 0-based epoch at whose end it was raised. */
  epoch: number;
  /** 'lossExploded': the loss grew over 100x; 'accuracyAtChance': accuracy at chance level and loss no better than a guess. */
  code: 'lossExploded' | 'accuracyAtChance';
  message: string;
}

/** Values logged at the end of an epoch: loss, metrics, their val* twins, lr and seconds. */
export interface EpochLogs {
  loss: number;
  lr: number;
  seconds: number;
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  [metric: string]: number | undefined;
}

/** Values logged after each training batch. */
export interface BatchLogs {
  loss: number;
  /** Rows in this batch. */
  size: number;
  accuracy?: number;
  [metric: string]: number | undefined;
}

/** Training state shared with callbacks; set stopTraining = true to end after the current epoch. */
export interface TrainContext {
  model: TrainableModel;
  optimizer: TrainableOptimizer;
  history: History;
  /** Current 0-based epoch index. */
  epoch: number;
  /** Total epochs requested (epoch indices run initialEpoch .. epochs-1). */
  epochs: number;
  initialEpoch: number;
  batchSize: number;
  /** Training rows per epoch (after any validationSplit) and batches per epoch. */
  samples: number;
  stepsPerEpoch: number;
  /** The shuffle seed fit used (so a resumed run can reproduce the batch order). */
  seed: number;
  stopTraining: boolean;
  /** Which callback asked to stop (read by fit to fill history.stopReason). */
  stopReason: 'earlyStopping' | 'stopped' | null;
}

/** Hooks called by fit. Every hook may be async; fit awaits it before continuing. */
export interface Callback {
  onTrainBegin?(ctx: TrainContext): void | Promise<void>;
  onEpochBegin?(epoch: number, ctx: TrainContext): void | Promise<void>;
  /** batch is the 0-based index within the epoch. */
  onBatchEnd?(batch: number, logs: BatchLogs, ctx: TrainContext): void | Promise<void>;
  /** Called after validation, with the epoch's logs already appended to ctx.history. */
  onEpochEnd?(epoch: number, logs: EpochLogs, ctx: TrainContext): void | Promise<void>;
  /** Called once when training ends normally, early, or by abort (not when fit throws). */
  onTrainEnd?(ctx: TrainContext): void | Promise<void>;
}
