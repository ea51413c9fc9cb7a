// fit(): the training loop (shuffled mini-batches, loss, backward, optimizer step, metrics, validation, callbacks).
import type { Tensor } from '../tensor';
import { deriveSeed, randomSeed } from '../random';
import { clipGradNorm } from '../optim/clip';
import { permutation } from '../data/split';
import { prepareData, sliceRows, BatchBuilder, PreparedData, preprocessForModel, checkTargetWidth, StandardizeOption } from './prepared';
import { resolveLoss, defaultLossName, LossSpec } from './losses';
import { makeMetrics, checkMetrics, validationKey, MetricFunction, MetricName } from './metrics';
import { trainingLoss, type ClassWeight } from './class-weight';
import { evaluatePrepared } from './evaluate';
import { makeProgress, ProgressStream } from './progress';
import { makeOptimizer, OptimizerName } from './optimizer';
import { checkpointCallback, readResumeState } from '../io/checkpoint';
import { beginStepArena, endStepArena } from '../buffer-pool';
import { stepBuffersReusable } from './step-reuse';
import {
  collectCallbacks, checkDataValues, checkLabelRange, probeOutput, probeOutputWidth, majorityShare,
  outputProfile,
} from './checks';
import { DivergenceMonitor, ChanceLevel } from './divergence';
import { checkOptions } from '../validate';
import type {
  BatchLogs, Callback, EpochLogs, FitData, History, TrainableModel, TrainableOptimizer, TrainContext,
} from './types';

export interface FitOptions {
  /** Last epoch index + 1 (with initialEpoch, epochs initialEpoch..epochs-1 run). Default 1. */
  epochs?: number;
  /** Rows per training step. Default 32. */
  batchSize?: number;
  /** Reshuffle the rows every epoch (seeded). Default true. */
  shuffle?: boolean;
  /** Seed of the shuffle; the same seed (and the same initial weights) gives the same trained weights. */
  seed?: number;
  /** 'crossEntropy' (default for integer labels), 'mse' (default for float targets), 'bceWithLogits', 'huber', 'l1', or a function. */
  loss?: LossSpec;
  /** An optimizer instance, or a name ('adam' default, 'sgd', 'adamw', 'rmsprop') built with `lr`. */
  optimizer?: TrainableOptimizer | OptimizerName;
  /** Learning rate for a named optimizer. Default: the class's (optim.OPTIMIZER_DEFAULTS: 1e-3, rmsprop 1e-2). An error with an optimizer instance (give it the lr). */
  lr?: number;
  /**
   * Per-class weights of the training loss ('crossEntropy' or 'bceWithLogits', integer labels):
   * { class: weight } (missing classes weigh 1), one weight per class, or 'balanced'
   * (n / (classes * count of the class), scikit-learn's rule). The training loss becomes the
   * class-weighted mean sum(w l) / sum(w); validation loss and metrics stay unweighted.
   */
  classWeight?: ClassWeight;
  /**
   * Default ['accuracy'] for integer labels, [] for float targets; the loss is always logged. Names:
   * 'accuracy', 'precision', 'recall', 'f1' (binary: class 1; else macro), 'precisionMacro',
   * 'recallMacro', 'f1Macro', 'auc' (binary), 'mae', 'mse', 'rmse', 'r2', each computed over
   * every row of the epoch; or { name, fn(pred, target) } averaged over batches.
   */
  metrics?: ReadonlyArray<MetricName | 'loss' | MetricFunction>;
  /** Held-out data evaluated after every epoch (valLoss, valAccuracy...). */
  validationData?: FitData;
  /** Fraction of rows held out for validation: the LAST rows, taken before shuffling (as Keras does). */
  validationSplit?: number;
  /** Rows per validation forward pass. Default max(batchSize, 256). */
  validationBatchSize?: number;
  callbacks?: Callback | Callback[];
  /** Shorthand for a callback with only onEpochEnd. */
  onEpochEnd?: Callback['onEpochEnd'];
  /** Shorthand for a callback with only onBatchEnd. */
  onBatchEnd?: Callback['onBatchEnd'];
  /**
   * Stops training at the next batch boundary. fit then resolves (does not reject) with the history
   * of the completed epochs and history.aborted = true, like Keras's stop_training.
   */
  signal?: AbortSignal;
  /**
   * 0 silent, 1 (default) progress bar on a TTY / one line per epoch otherwise, 2 one line per epoch.
   * Divergence warnings (history.warnings) are printed unless verbose is 0.
   */
  verbose?: 0 | 1 | 2;
  /** Where progress goes. Default process.stdout. Warnings go here too (default process.stderr). */
  output?: ProgressStream;
  /** 0-based epoch to start at, for resuming (the shuffle of epoch e depends only on seed and e). */
  initialEpoch?: number;
  /** A History to append to (e.g. restored from a checkpoint); default a fresh one. */
  history?: History;
  /** Clip the global L2 norm of all gradients to this value before each step. */
  clipGradNorm?: number;
  /** Save a resumable checkpoint (model, optimizer, epoch, history, seed) here after every epoch (lib/io/checkpoint). */
  checkpointDir?: string;
  /** Continue from a checkpointDir: restores weights, optimizer state, epoch (initialEpoch), history and seed. */
  resumeFrom?: string;
  /**
   * Fit a data.Preprocessor on the training rows (before a validationSplit's rows) and store it in
   * model.preprocessor: true standardises the features per column and float regression targets; an
   * object gives the Preprocessor options ({ standardize, targetScale, scale }). Training, validation,
   * evaluate, predict and save/load then use it. Without this option a model that already has a
   * preprocessor trains on data transformed by it.
   */
  standardize?: StandardizeOption;
  /**
   * Transforms each training batch's input before the forward pass (validation data is not transformed),
   * e.g. data.imageAugmenter({ padding: 4, flip: true, seed }); it gets the batch's epoch and index.
   */
  transform?: (input: Tensor, at: { epoch: number; batch: number }) => Tensor;
}

/** Every key FitOptions has: any other key is an error naming the closest one (`{ epoch: 3 }` used to train 1 epoch). */
const FIT_OPTIONS = [
  'epochs', 'batchSize', 'shuffle', 'seed', 'loss', 'optimizer', 'lr', 'classWeight', 'metrics', 'validationData',
  'validationSplit', 'validationBatchSize', 'callbacks', 'onEpochEnd', 'onBatchEnd', 'signal', 'verbose', 'output',
  'initialEpoch', 'history', 'clipGradNorm', 'checkpointDir', 'resumeFrom', 'standardize', 'transform',
] as const satisfies readonly (keyof FitOptions)[];
// Compile-time check that FIT_OPTIONS lists every key of FitOptions.
const fitOptionsListed: Exclude<keyof FitOptions, (typeof FIT_OPTIONS)[number]> extends never ? true : never = true;
void fitOptionsListed;

/** An empty History. */
export function emptyHistory(): History {
  return {
    epoch: [], loss: [], accuracy: [], valLoss: [], valAccuracy: [], lr: [], seconds: [], metrics: {},
    stopReason: null, aborted: false, warnings: [],
  };
}

/**
 * Rows validationSplit holds out of n: floor(n * fraction), the last rows. Throws when that leaves
 * no validation or no training row. The CLI reports its counts from here.
 */
export function validationSplitRows(n: number, fraction: number): number {
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
    throw new Error(`fit: validationSplit must be a number in (0, 1), got ${String(fraction)}`);
  }
  const nVal = Math.floor(n * fraction);
  if (nVal < 1 || nVal >= n) {
    throw new Error(`fit: validationSplit ${fraction} of ${n} rows leaves ${nVal} validation and ${n - nVal} training rows`);
  }
  return nVal;
}

export function appendToHistory(h: History, epoch: number, logs: EpochLogs): void {
  h.epoch.push(epoch);
  for (const [k, v] of Object.entries(logs)) {
    if (v === undefined) continue;
    if (k === 'loss' || k === 'accuracy' || k === 'valLoss' || k === 'valAccuracy' || k === 'lr' || k === 'seconds') {
      h[k].push(v);
    } else {
      (h.metrics[k] ??= []).push(v);
    }
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`fit: ${name} must be a positive integer, got ${v}`);
  return v;
}

/** Resolves after pending I/O and timers get a turn (so a server or a progress bar stays responsive). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Trains `model` on `data` and resolves with the History. Each epoch: the training rows are shuffled
 * (seeded), split into batches; per batch: zeroGrad, forward, loss, backward, optimizer.step; then
 * validation and callbacks. Throws if the loss becomes NaN or infinite, naming the epoch and batch.
 */
export async function fit(model: TrainableModel, data: FitData, options: FitOptions = {}): Promise<History> {
  options = checkOptions('fit', options, FIT_OPTIONS);
  const epochs = options.epochs ?? 1;
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`fit: epochs must be a non-negative integer, got ${epochs}`);
  const batchSize = positiveInt('batchSize', options.batchSize ?? 32);
  const resume = options.resumeFrom !== undefined ? readResumeState(options.resumeFrom, model) : null;
  const initialEpoch = options.initialEpoch ?? resume?.epoch ?? 0;
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0) {
    throw new Error(`fit: initialEpoch must be a non-negative integer, got ${initialEpoch}`);
  }
  const shuffle = options.shuffle ?? true;
  const seed = options.seed ?? resume?.seed ?? randomSeed();
  const verbose = options.verbose ?? 1;
  const transform = options.transform;
  if (transform !== undefined && typeof transform !== 'function') throw new Error(`fit: transform must be a function (input, { epoch, batch }) => Tensor, got ${typeof transform}`);
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new Error(`fit: verbose must be 0, 1 or 2, got ${verbose}`);

  const raw = prepareData(data, 'fit');
  const trainRows = options.validationSplit !== undefined ? raw.n - validationSplitRows(raw.n, options.validationSplit) : raw.n;
  const all = preprocessForModel(model, data, raw, 'fit', options.standardize, trainRows);
  let train: PreparedData = all;
  let val: PreparedData | null = null;
  if (options.validationData !== undefined && options.validationSplit !== undefined) {
    throw new Error('fit: give either validationData or validationSplit, not both');
  }
  // The whole dataset is checked before the first step, so a bad row fails before any weight changes.
  checkDataValues('fit', 'data', all);
  if (options.validationSplit !== undefined) {
    const nVal = validationSplitRows(all.n, options.validationSplit);
    train = sliceRows(all, 0, all.n - nVal);
    val = sliceRows(all, all.n - nVal, all.n);
  } else if (options.validationData !== undefined) {
    val = preprocessForModel(model, options.validationData, prepareData(options.validationData, 'fit', 'validationData'), 'fit');
    checkDataValues('fit', 'validationData', val);
    if (val.rowSize !== train.rowSize || (val.labels === null) !== (train.labels === null)) {
      throw new Error(
        `fit: validationData rows [${val.rowShape.join(',')}] (${val.labels ? 'labels' : 'targets'}) do not match ` +
          `the training rows [${train.rowShape.join(',')}] (${train.labels ? 'labels' : 'targets'})`,
      );
    }
  }
  if (train.n === 0) throw new Error('fit: no training rows');

  const lossName = options.loss ?? defaultLossName(train);
  const lossFn = resolveLoss(lossName, train, 'fit');
  const metricSpecs = options.metrics ?? (train.labels ? ['accuracy'] : []);
  const metrics = makeMetrics(metricSpecs, lossName);
  const valMetrics = makeMetrics(metricSpecs, lossName);
  const params = model.parameters();
  const optimizer = makeOptimizer(options.optimizer ?? 'adam', params, options.lr);
  resume?.restoreOptimizer(optimizer);
  if (options.clipGradNorm !== undefined && !(options.clipGradNorm > 0)) {
    throw new Error(`fit: clipGradNorm must be positive, got ${options.clipGradNorm}`);
  }

  const callbacks = collectCallbacks('fit', options.callbacks, options.onEpochEnd, options.onBatchEnd);
  const { chance, classes } = checkModelAndLabels(model, all, options.validationData !== undefined ? val : null, lossName, batchSize);
  checkMetrics(metrics, classes, train.labels !== null);
  const trainLoss = trainingLoss('fit', lossName, lossFn, options.classWeight, train.labels, classes);
  if (options.checkpointDir !== undefined) callbacks.push(checkpointCallback(options.checkpointDir));

  const stepsPerEpoch = Math.ceil(train.n / batchSize);
  const history = options.history ?? resume?.history ?? emptyHistory();
  history.stopReason = null;
  history.aborted = false;
  if (!Array.isArray(history.warnings)) history.warnings = []; // a History saved before warnings existed
  const monitor = new DivergenceMonitor(chance);
  const warningStream = options.output ?? process.stderr;
  const ctx: TrainContext = {
    model, optimizer, history, epoch: initialEpoch, epochs, initialEpoch, batchSize,
    samples: train.n, stepsPerEpoch, seed, stopTraining: false, stopReason: null,
  };
  const progress = makeProgress(verbose, options.output ?? process.stdout);
  const signal = options.signal;
  const batches = new BatchBuilder(train, batchSize);
  const wasTraining = (model as { training?: boolean }).training;
  const accuracy = metrics.find((m) => m.name === 'accuracy');
  const reuseStepBuffers = stepBuffersReusable(model, optimizer, lossName, metricSpecs);

  let aborted = false;
  try {
    for (const cb of callbacks) await cb.onTrainBegin?.(ctx);
    epochLoop: for (let epoch = initialEpoch; epoch < epochs; epoch++) {
      if (signal?.aborted) {
        aborted = true;
        break;
      }
      ctx.epoch = epoch;
      for (const cb of callbacks) await cb.onEpochBegin?.(epoch, ctx);
      const started = performance.now();
      const order = shuffle ? permutation(train.n, deriveSeed(seed, epoch)) : null;
      model.train();
      for (const m of metrics) m.reset();
      progress.epochBegin(epoch, epochs, train.n);
      let lossSum = 0; // sum of batch loss x batch weight (its rows, or its class weights)
      let weightSum = 0;
      let seen = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        if (signal?.aborted) {
          aborted = true;
          break epochLoop;
        }
        const start = b * batchSize;
        const end = Math.min(train.n, start + batchSize);
        const rows = end - start;
        const batchInput = batches.input(order, start, end);
        const input = transform === undefined ? batchInput : transform(batchInput, { epoch, batch: b });
        const target = batches.target(order, start, end);
        const weight = trainLoss.batchWeight(target, rows);
        // With reuseStepBuffers, the step's activations and gradients live in pooled buffers that are
        // reclaimed when the step ends: nothing below may keep a tensor of the step past that point.
        if (reuseStepBuffers) beginStepArena();
        let lossValue: number;
        try {
          optimizer.zeroGrad();
          const pred = model.forward(input);
          const loss = trainLoss.fn(pred, target);
          if (loss.size !== 1) {
            throw new Error(`fit: the loss must be a scalar, got shape [${loss.shape.join(',')}]`);
          }
          lossValue = loss.item();
          if (!Number.isFinite(lossValue)) {
            throw new Error(
              `fit: loss is ${lossValue} at epoch ${epoch + 1}/${epochs}, batch ${b + 1}/${stepsPerEpoch} ` +
                '(try a lower learning rate, clipGradNorm, or check the data for NaN/inf)',
            );
          }
          loss.backward();
          if (options.clipGradNorm !== undefined) clipGradNorm(params, options.clipGradNorm);
          optimizer.step();
          for (const m of metrics) m.update(pred, target, rows);
        } finally {
          if (reuseStepBuffers) endStepArena();
        }
        monitor.batch(lossValue);
        lossSum += lossValue * weight;
        weightSum += weight;
        seen += rows;
        progress.batch(seen, lossSum / weightSum, accuracy?.result());
        if (callbacks.length > 0) {
          const batchLogs: BatchLogs = { loss: lossValue, size: rows };
          for (const m of metrics) if (!m.epochOnly) batchLogs[m.name] = m.result();
          for (const cb of callbacks) await cb.onBatchEnd?.(b, batchLogs, ctx);
        }
        await yieldToEventLoop();
      }
      const trainSeconds = (performance.now() - started) / 1000;

      const logs: EpochLogs = { loss: lossSum / weightSum, lr: optimizer.lr, seconds: 0 };
      for (const m of metrics) logs[m.name] = m.result();
      if (val !== null) {
        const vBatch = options.validationBatchSize ?? Math.max(batchSize, 256);
        const v = evaluatePrepared(model, val, lossFn, valMetrics, vBatch);
        logs.valLoss = v.loss;
        for (const m of valMetrics) logs[validationKey(m.name)] = v[m.name];
        model.train();
      }
      logs.seconds = (performance.now() - started) / 1000;
      appendToHistory(history, epoch, logs);
      progress.epochEnd(epoch, epochs, logs, seen / Math.max(trainSeconds, 1e-9));
      for (const w of monitor.epoch(epoch, logs)) {
        history.warnings.push(w);
        if (verbose !== 0) warningStream.write(`warning: ${w.message}\n`);
      }
      for (const cb of callbacks) await cb.onEpochEnd?.(epoch, logs, ctx);
      if (ctx.stopTraining) {
        history.stopReason = ctx.stopReason ?? 'stopped';
        break;
      }
    }
    if (aborted) {
      history.aborted = true;
      history.stopReason = 'aborted';
    }
    progress.close();
    for (const cb of callbacks) await cb.onTrainEnd?.(ctx);
    return history;
  } finally {
    progress.close();
    if (wasTraining === false) model.eval();
  }
}

/**
 * Runs the model once on the first batch (so a shape mismatch fails before the first step), checks
 * every label (training and validation) against what the loss accepts, and returns the model's
 * output width and the chance level for the divergence monitor (classification with crossEntropy only).
 */
function checkModelAndLabels(
  model: TrainableModel, train: PreparedData, val: PreparedData | null, lossName: unknown, batchSize: number,
): { chance: ChanceLevel | null; classes: number } {
  const classes = probeOutputWidth('fit', 'data', model, train, batchSize);
  checkTargetWidth('fit', 'data', train, classes, lossName);
  return { chance: labelChecks(model, train, val, lossName, classes), classes };
}

/** Checks every label against the loss's classes; returns the chance level for crossEntropy (null otherwise). */
function labelChecks(
  model: TrainableModel, train: PreparedData, val: PreparedData | null, lossName: unknown, classes: number,
): ChanceLevel | null {
  if (train.labels === null) return null;
  const all: [string, Int32Array][] = [['data', train.labels]];
  if (val !== null && val.labels !== null) all.push(['validationData', val.labels]);
  if (lossName === 'crossEntropy') {
    for (const [what, labels] of all) {
      checkLabelRange('fit', what, labels, classes, `for a model with ${classes} outputs (loss 'crossEntropy')`);
    }
    return {
      majorityShare: majorityShare(train.labels),
      profile: () => outputProfile(probeOutput(model, train, 512)),
    };
  }
  if (lossName === 'bceWithLogits') {
    for (const [what, labels] of all) checkLabelRange('fit', what, labels, 2, "(0 or 1) for loss 'bceWithLogits'");
  }
  return null;
}
