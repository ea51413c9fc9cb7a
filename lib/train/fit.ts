// fit(): the training loop (shuffled mini-batches, loss, backward, optimizer step, metrics, validation, callbacks).
import { Tensor } from '../tensor';
import { deriveSeed, randomSeed } from '../random';
import { clipGradNorm } from '../optim/clip';
import { permutation } from '../data/split';
import { prepareData, sliceRows, BatchBuilder, type PreparedData, preprocessForModel, checkTargetWidth, type StandardizeOption } from './prepared';
import { resolveLoss, type LossSpec, type LossFunction } from './loss-spec';
import { makeMetrics, checkMetrics, validationKey, type MetricFunction, type MetricName, type Metric, type BatchTarget } from './metrics';
import { singleOutputSpecs, outputsLoss, outputsMetrics, checkOutputMetrics, outputData, outputOf, type OutputLossSpec, type LossWeights, type OutputMetricSpecs } from './outputs';
import { trainingLoss, type ClassWeight, type WeightedLoss } from './class-weight';
import { evaluatePrepared } from './evaluate';
import { makeProgress, ProgressStream } from './progress';
import { makeOptimizer, OptimizerName } from './optimizer';
import { checkpointCallback, readResumeState } from '../io/checkpoint';
import { beginStepArena, endStepArena } from '../buffer-pool';
import { stepBuffersReusable } from './step-reuse';
import {
  forwardOne, collectCallbacks, checkDataValues, checkLabelRange, probeOutput, probeOutputs, probeOutputWidth, majorityShare,
  outputProfile,
} from './checks';
import { DivergenceMonitor, ChanceLevel } from './divergence';
import { distributedRun, type DistributedFitOption, type DistributedRun } from '../distributed/fit-hook';
import { withHistoryMethods } from './history-csv';
import type { ReportOption } from './report-options';
import { checkOptions } from '../validate';
import type { Precision } from '../autocast';
import type {
  BatchLogs, Callback, EpochLogs, FitData, History, TrainableModel, TrainableOptimizer, TrainContext,
} from './types';

/**
 * Options of fit (in-memory data): epochs, batchSize, loss, optimizer, lr, metrics, validation, callbacks, report, and more; each documented below.
 * An unknown key is an error naming the closest one.
 */
export interface FitOptions {
  /** Last epoch index + 1 (with initialEpoch, epochs initialEpoch..epochs-1 run). Default 1. */
  epochs?: number;
  /** Rows per training step. Default 32. */
  batchSize?: number;
  /** Reshuffle the rows every epoch (seeded). Default true. */
  shuffle?: boolean;
  /** Seed of the shuffle; the same seed (and the same initial weights) gives the same trained weights. */
  seed?: number;
  /**
   * 'crossEntropy' (default for integer labels), 'mse' (default for float targets), 'bceWithLogits', 'huber', 'l1', or a function.
   * For a model with several outputs (y an array or a record, one target per output): one spec for every
   * output, or one per output (an array, or a record by output name); the trained loss is their weighted sum.
   */
  loss?: OutputLossSpec;
  /** Several outputs: the weight of each output's loss in the sum (an array, or a record by output name; default 1 each). */
  lossWeights?: LossWeights;
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
  metrics?: OutputMetricSpecs;
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
  /**
   * Precision of the matrix products while training: 'fp32' (default) or 'bf16', mixed precision as
   * autocast('bf16') gives it: nn.Linear's forward and both backward products (and matmul) multiply
   * bf16-rounded operands and sum in float32 (AVX512-BF16 where the CPU has it), while the weights (the
   * master copy), gradients, optimizer state and elementwise ops stay float32. No loss scaling is
   * needed: bf16 has float32's exponent range. Validation in fit runs in the same precision.
   */
  precision?: Precision;
  /** Save a resumable checkpoint (model, optimizer, epoch, history, seed) here after every epoch (lib/io/checkpoint). */
  checkpointDir?: string;
  /** Continue from a checkpointDir: restores weights, optimizer state, epoch (initialEpoch), history and seed. */
  resumeFrom?: string;
  /**
   * Data-parallel training over the processes of myelin.distributed.init() (true), a given group, or
   * { group, bucketBytes, logAllRanks, checkpointAllRanks }: rank 0's weights are broadcast, each rank
   * trains on its share of every epoch (distributed.DistributedSampler), gradients are all-reduced
   * while backward runs, and only rank 0 logs and writes checkpointDir. docs/scale-out.md.
   */
  distributed?: DistributedFitOption;
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
  /**
   * Write a training report when training ends: one self-contained HTML file (inline SVG charts, no
   * scripts, no network) with the loss and metric curves, the learning-rate schedule, a confusion matrix
   * (labels) or predicted-vs-true scatter (float targets), the model summary, the data, the settings,
   * the machine and the time taken. A path ('run.html'), or { path, title, dataName, notes,
   * evaluationData } (see docs/reports.md). Written atomically.
   */
  report?: ReportOption;
}

/** Every key FitOptions has: any other key is an error naming the closest one (`{ epoch: 3 }` used to train 1 epoch). */
const FIT_OPTIONS = [
  'epochs', 'batchSize', 'shuffle', 'seed', 'loss', 'lossWeights', 'optimizer', 'lr', 'classWeight', 'metrics', 'validationData',
  'validationSplit', 'validationBatchSize', 'callbacks', 'onEpochEnd', 'onBatchEnd', 'signal', 'verbose', 'output',
  'initialEpoch', 'history', 'clipGradNorm', 'precision', 'checkpointDir', 'resumeFrom', 'standardize', 'transform', 'report', 'distributed',
] as const satisfies readonly (keyof FitOptions)[];
// Compile-time check that FIT_OPTIONS lists every key of FitOptions.
const fitOptionsListed: Exclude<keyof FitOptions, (typeof FIT_OPTIONS)[number]> extends never ? true : never = true;
void fitOptionsListed;

/** An empty History. */
export function emptyHistory(): History {
  return withHistoryMethods({
    epoch: [], loss: [], accuracy: [], valLoss: [], valAccuracy: [], lr: [], seconds: [], metrics: {},
    stopReason: null, aborted: false, warnings: [],
  } as Omit<History, 'toCsv'> as History);
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

/** fit's scalar settings, checked. */
interface FitSettings {
  epochs: number;
  batchSize: number;
  initialEpoch: number;
  shuffle: boolean;
  seed: number;
  verbose: 0 | 1 | 2;
  resume: ReturnType<typeof readResumeState> | null;
}

/** Step 1: the options' scalar settings (and the checkpoint to resume from). */
function resolveSettings(model: TrainableModel, options: FitOptions): FitSettings {
  const epochs = options.epochs ?? 1;
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`fit: epochs must be a non-negative integer, got ${epochs}`);
  const batchSize = positiveInt('batchSize', options.batchSize ?? 32);
  const resume = options.resumeFrom !== undefined ? readResumeState(options.resumeFrom, model) : null;
  const initialEpoch = options.initialEpoch ?? resume?.epoch ?? 0;
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0) {
    throw new Error(`fit: initialEpoch must be a non-negative integer, got ${initialEpoch}`);
  }
  const verbose = options.verbose ?? 1;
  const transform = options.transform;
  if (transform !== undefined && typeof transform !== 'function') throw new Error(`fit: transform must be a function (input, { epoch, batch }) => Tensor, got ${typeof transform}`);
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new Error(`fit: verbose must be 0, 1 or 2, got ${verbose}`);
  return { epochs, batchSize, initialEpoch, shuffle: options.shuffle ?? true, seed: options.seed ?? resume?.seed ?? randomSeed(), verbose, resume };
}

/** Two prepared datasets have the same inputs (names and row sizes) and the same kind of y. */
function sameRows(a: PreparedData, b: PreparedData): boolean {
  const ia = a.inputs ?? [a];
  const ib = b.inputs ?? [b];
  return a.inputForm === b.inputForm && ia.length === ib.length &&
    ia.every((c, i) => c.rowSize === ib[i].rowSize && (a.inputs === null || (c as { name: string }).name === (ib[i] as { name: string }).name)) &&
    (a.labels === null) === (b.labels === null);
}

function rowsText(d: PreparedData): string {
  const shapes = d.inputs === null ? `[${d.rowShape.join(',')}]` : d.inputs.map((c) => `${c.name} [${c.rowShape.join(',')}]`).join(', ');
  return `${shapes} (${d.labels ? 'labels' : 'targets'})`;
}

/** Step 2: the data checked, preprocessed and split into training and validation rows. */
function prepareFitData(model: TrainableModel, data: FitData, options: FitOptions): { all: PreparedData; train: PreparedData; val: PreparedData | null } {
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
    if (!sameRows(val, train)) {
      throw new Error(`fit: validationData rows ${rowsText(val)} do not match the training rows ${rowsText(train)}`);
    }
  }
  if (train.n === 0) throw new Error('fit: no training rows');
  return { all, train, val };
}

/** What every training run holds, in memory (fit) or streamed (fitDataset): the loss, metrics, optimizer, callbacks and progress. */
export interface TrainingRunState {
  model: TrainableModel;
  lossFn: LossFunction;
  trainLoss: WeightedLoss;
  metrics: Metric[];
  valMetrics: Metric[];
  params: Tensor[];
  optimizer: TrainableOptimizer;
  callbacks: Callback[];
  history: History;
  monitor: DivergenceMonitor;
  ctx: TrainContext;
  progress: ReturnType<typeof makeProgress>;
}

/** Everything a training run holds: the data and the shared run state. */
interface FitRun extends TrainingRunState {
  options: FitOptions;
  settings: FitSettings;
  train: PreparedData;
  val: PreparedData | null;
  batches: BatchBuilder;
  stepsPerEpoch: number;
  reuseStepBuffers: boolean;
  /** Several outputs: forward's array / record goes to the loss and metrics as it is. */
  multi: boolean;
  /** Data-parallel training (fit's distributed option), else null. */
  dist: DistributedRun | null;
}

/** The loss and metrics of one output's training: what prepareRun needs from them. */
export interface LossSetup {
  lossName: LossSpec;
  lossFn: LossFunction;
  metrics: Metric[];
  valMetrics: Metric[];
  metricSpecs: ReadonlyArray<MetricName | 'loss' | MetricFunction>;
}

/** One output: the loss (a name or a function) and the metrics (accuracy by default for labels). */
function singleOutputLoss(options: FitOptions, train: PreparedData): LossSetup {
  const { lossName, metricSpecs } = singleOutputSpecs('fit', train, options.loss, options.lossWeights, options.metrics);
  return {
    lossName, lossFn: resolveLoss(lossName, train, 'fit'), metricSpecs,
    metrics: makeMetrics(metricSpecs, lossName), valMetrics: makeMetrics(metricSpecs, lossName),
  };
}

/** Several outputs: the weighted sum of per-output losses, per-output metrics; checked against a probe of the model. */
export function outputsSetup(model: TrainableModel, options: FitOptions, all: PreparedData, train: PreparedData, val: PreparedData | null, batchSize: number): LossSetup {
  if (options.classWeight !== undefined) throw new Error('fit: classWeight weighs one output\'s classes; y gives several outputs (weigh them with lossWeights)');
  const loss = outputsLoss('fit', train, options.loss, options.lossWeights);
  const metrics = outputsMetrics('fit', train, options.metrics, loss.specs);
  const probe = probeOutputs(model, all, batchSize);
  const widths = (train.outputs ?? []).map((o, i) => {
    const out = outputOf('fit', train, probe, o, i);
    const width = out.ndim === 0 ? 1 : out.shape[out.ndim - 1];
    const label = train.outputForm === 'array' ? `data (output ${o.name})` : `data (output '${o.name}')`;
    checkTargetWidth('fit', label, outputData(all, (all.outputs ?? [])[i]), width, loss.specs[i]);
    const valData = val !== null && options.validationData !== undefined && val.outputs ? outputData(val, val.outputs[i]) : null;
    labelChecks(model, outputData(all, (all.outputs ?? [])[i]), valData, loss.specs[i], width, label);
    return width;
  });
  checkOutputMetrics(metrics, widths);
  return {
    lossName: loss.specs[0], lossFn: loss.fn as unknown as LossFunction, metricSpecs: [],
    metrics, valMetrics: outputsMetrics('fit', train, options.metrics, loss.specs),
  };
}

/** Step 3: loss, metrics, optimizer, callbacks and the checks that run the model once before training. */
function prepareRun(model: TrainableModel, options: FitOptions, settings: FitSettings, data: ReturnType<typeof prepareFitData>): FitRun {
  const { all, train, val } = data;
  const { batchSize, resume } = settings;
  const multi = train.outputs ? outputsSetup(model, options, all, train, val, batchSize) : null;
  const { lossName, lossFn, metrics, valMetrics, metricSpecs } = multi ?? singleOutputLoss(options, train);
  const params = model.parameters();
  const optimizer = makeOptimizer(options.optimizer ?? 'adam', params, options.lr);
  resume?.restoreOptimizer(optimizer);
  const dist = distributedRun(options.distributed, params, train.n, settings.seed, options.seed !== undefined || resume?.seed !== undefined, settings.shuffle);
  if (dist !== null) {
    settings.seed = dist.seed;
    if (!dist.logs) settings.verbose = 0;
    if (options.resumeFrom !== undefined) dist.checkResume(options.resumeFrom);
    if (options.checkpointDir !== undefined && dist.writesCheckpoints) dist.recordWorldSize(options.checkpointDir);
  }
  if (options.clipGradNorm !== undefined && !(options.clipGradNorm > 0)) {
    throw new Error(`fit: clipGradNorm must be positive, got ${options.clipGradNorm}`);
  }
  const callbacks = collectCallbacks('fit', options.callbacks, options.onEpochEnd, options.onBatchEnd);
  let chance: ChanceLevel | null = null;
  let trainLoss: FitRun['trainLoss'];
  if (multi === null) {
    const checked = checkModelAndLabels(model, all, options.validationData !== undefined ? val : null, lossName, batchSize);
    chance = checked.chance;
    checkMetrics(metrics, checked.classes, train.labels !== null);
    trainLoss = trainingLoss('fit', lossName, lossFn, options.classWeight, train.labels, checked.classes);
  } else {
    trainLoss = { fn: lossFn, batchWeight: (_target, rows) => rows };
  }
  if (options.checkpointDir !== undefined && (dist?.writesCheckpoints ?? true)) callbacks.push(checkpointCallback(options.checkpointDir));

  const stepsPerEpoch = dist !== null ? dist.sampler.stepsPerEpoch(batchSize) : Math.ceil(train.n / batchSize);
  const history = withHistoryMethods(options.history ?? resume?.history ?? emptyHistory());
  history.stopReason = null;
  history.aborted = false;
  if (!Array.isArray(history.warnings)) history.warnings = []; // a History saved before warnings existed
  const ctx: TrainContext = {
    model, optimizer, history, epoch: settings.initialEpoch, epochs: settings.epochs, initialEpoch: settings.initialEpoch, batchSize,
    samples: train.n, stepsPerEpoch, seed: settings.seed, stopTraining: false, stopReason: null,
  };
  return {
    model, options, settings, train, val, lossFn, trainLoss, metrics, valMetrics, params, optimizer, callbacks, history, multi: multi !== null,
    monitor: new DivergenceMonitor(chance), ctx, progress: makeProgress(settings.verbose, options.output ?? process.stdout),
    batches: new BatchBuilder(train, batchSize), stepsPerEpoch, dist,
    reuseStepBuffers: stepBuffersReusable(model, optimizer, lossName, metricSpecs),
  };
}

/**
 * One training step on rows order[start..end): zeroGrad, forward, loss, backward, clipping, optimizer
 * step, metrics. Returns the batch loss; throws naming the epoch and batch when it is not finite.
 */
function trainStep(
  run: FitRun, args: Tensor[] | [Record<string, Tensor>] | null, target: BatchTarget | null, rows: number, weight: number, epoch: number, b: number,
): number {
  const { model, optimizer, options } = run;
  // With reuseStepBuffers, the step's activations and gradients live in pooled buffers that are
  // reclaimed when the step ends: nothing below may keep a tensor of the step past that point.
  if (run.reuseStepBuffers) beginStepArena();
  try {
    optimizer.zeroGrad();
    // args null: a distributed rank whose share of the epoch has run out (it joins the all-reduce with weight 0).
    const pred = args === null ? null : run.multi ? (model.forward(...args) as Tensor) : forwardOne('fit', model, args);
    const loss = pred === null ? null : run.trainLoss.fn(pred, target as BatchTarget);
    if (loss !== null && loss.size !== 1) {
      throw new Error(`fit: the loss must be a scalar, got shape [${loss.shape.join(',')}]`);
    }
    const lossValue = loss === null ? 0 : loss.item();
    if (!Number.isFinite(lossValue)) {
      throw new Error(
        `fit: loss is ${lossValue} at epoch ${epoch + 1}/${run.settings.epochs}, batch ${b + 1}/${run.stepsPerEpoch} ` +
          '(try a lower learning rate, clipGradNorm, or check the data for NaN/inf)',
      );
    }
    if (run.dist !== null) run.dist.reducer.backward(loss === null ? null : () => loss.backward(), weight);
    else loss?.backward();
    if (options.clipGradNorm !== undefined) clipGradNorm(run.params, options.clipGradNorm);
    optimizer.step();
    if (pred !== null) for (const m of run.metrics) m.update(pred, target as BatchTarget, rows);
    return lossValue;
  } finally {
    if (run.reuseStepBuffers) endStepArena();
  }
}

/** The batches of one epoch (shuffled, seeded): steps, progress and onBatchEnd. Returns the epoch's totals, or null when aborted. */
async function runEpoch(run: FitRun, epoch: number): Promise<{ lossSum: number; weightSum: number; seen: number } | null> {
  const { settings, train, callbacks, ctx } = run;
  const { batchSize } = settings;
  const signal = run.options.signal;
  const order = run.dist !== null ? run.dist.sampler.indices(epoch) : settings.shuffle ? permutation(train.n, deriveSeed(settings.seed, epoch)) : null;
  const n = order?.length ?? train.n;
  const accuracy = run.metrics.find((m) => m.name === 'accuracy');
  let lossSum = 0; // sum of batch loss x batch weight (its rows, or its class weights)
  let weightSum = 0;
  let seen = 0;
  for (let b = 0; b < run.stepsPerEpoch; b++) {
    if (signal?.aborted) return null;
    const start = b * batchSize;
    const end = Math.min(n, start + batchSize);
    const rows = Math.max(0, end - start);
    if (rows === 0) {
      trainStep(run, null, null, 0, 0, epoch, b);
      continue;
    }
    let args = run.batches.args(order, start, end);
    const transform = run.options.transform;
    if (transform !== undefined) {
      // Augmentation (e.g. data.imageAugmenter): the training batch's input only, never validation data.
      if (args.length !== 1 || !(args[0] instanceof Tensor)) throw new Error('fit: transform takes models with one input (a Tensor); this model takes several');
      args = [transform(args[0], { epoch, batch: b })];
    }
    const target = run.batches.targets(order, start, end) as BatchTarget;
    const weight = run.trainLoss.batchWeight(target, rows);
    const lossValue = trainStep(run, args, target, rows, weight, epoch, b);
    run.monitor.batch(lossValue);
    lossSum += lossValue * weight;
    weightSum += weight;
    seen += rows;
    run.progress.batch(seen, lossSum / weightSum, accuracy?.result());
    if (callbacks.length > 0) {
      const batchLogs: BatchLogs = { loss: lossValue, size: rows };
      for (const m of run.metrics) if (!m.epochOnly) batchLogs[m.name] = m.result();
      for (const cb of callbacks) await cb.onBatchEnd?.(b, batchLogs, ctx);
    }
    await yieldToEventLoop();
  }
  return { lossSum, weightSum, seen };
}

/** Validation after an epoch: valLoss and the val* metrics into logs. */
function validate(run: FitRun, logs: EpochLogs): void {
  if (run.val === null) return;
  const vBatch = run.options.validationBatchSize ?? Math.max(run.settings.batchSize, 256);
  const v = evaluatePrepared(run.model, run.val, run.lossFn, run.valMetrics, vBatch);
  logs.valLoss = v.loss;
  for (const m of run.valMetrics) logs[validationKey(m.name)] = v[m.name];
  run.model.train();
}

/** After an epoch: history, progress line, divergence warnings, onEpochEnd. Returns true when a callback stops training. */
async function endEpoch(run: FitRun, epoch: number, logs: EpochLogs, rowsPerSecond: number): Promise<boolean> {
  const { history, settings } = run;
  appendToHistory(history, epoch, logs);
  run.progress.epochEnd(epoch, settings.epochs, logs, rowsPerSecond);
  const warningStream = run.options.output ?? process.stderr;
  for (const w of run.monitor.epoch(epoch, logs)) {
    history.warnings.push(w);
    if (settings.verbose !== 0) warningStream.write(`warning: ${w.message}\n`);
  }
  for (const cb of run.callbacks) await cb.onEpochEnd?.(epoch, logs, run.ctx);
  if (run.ctx.stopTraining) {
    history.stopReason = run.ctx.stopReason ?? 'stopped';
    return true;
  }
  return false;
}

/** The epochs from initialEpoch: each one trained, validated and recorded. Returns true when the AbortSignal ended training. */
async function runEpochs(run: FitRun): Promise<boolean> {
  const { settings, callbacks, ctx, model } = run;
  for (let epoch = settings.initialEpoch; epoch < settings.epochs; epoch++) {
    if (run.options.signal?.aborted) return true;
    ctx.epoch = epoch;
    for (const cb of callbacks) await cb.onEpochBegin?.(epoch, ctx);
    const started = performance.now();
    model.train();
    for (const m of run.metrics) m.reset();
    run.progress.epochBegin(epoch, settings.epochs, run.train.n);
    const totals = await runEpoch(run, epoch);
    if (totals === null) return true;
    run.dist?.reduceTotals(totals, model);
    const trainSeconds = (performance.now() - started) / 1000;
    const logs: EpochLogs = { loss: totals.lossSum / totals.weightSum, lr: run.optimizer.lr, seconds: 0 };
    for (const m of run.metrics) logs[m.name] = m.result();
    validate(run, logs);
    logs.seconds = (performance.now() - started) / 1000;
    if (await endEpoch(run, epoch, logs, totals.seen / Math.max(trainSeconds, 1e-9))) break;
  }
  return false;
}

/**
 * Trains `model` on `data` and resolves with the History. Each epoch: the training rows are shuffled
 * (seeded), split into batches; per batch: zeroGrad, forward, loss, backward, optimizer.step; then
 * validation and callbacks. Throws if the loss becomes NaN or infinite, naming the epoch and batch.
 * data.x may hold several inputs (an array of tensors: forward(a, b); a record: forward({ a, b })).
 */
export async function fit(model: TrainableModel, data: FitData, options: FitOptions = {}): Promise<History> {
  options = checkOptions('fit', options, FIT_OPTIONS);
  const settings = resolveSettings(model, options);
  const run = prepareRun(model, options, settings, prepareFitData(model, data, options));
  const wasTraining = (model as { training?: boolean }).training;
  try {
    for (const cb of run.callbacks) await cb.onTrainBegin?.(run.ctx);
    if (await runEpochs(run)) {
      run.history.aborted = true;
      run.history.stopReason = 'aborted';
    }
    run.progress.close();
    for (const cb of run.callbacks) await cb.onTrainEnd?.(run.ctx);
    return run.history;
  } finally {
    run.progress.close();
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
  model: TrainableModel, train: PreparedData, val: PreparedData | null, lossName: unknown, classes: number, label = 'data',
): ChanceLevel | null {
  if (train.labels === null) return null;
  const all: [string, Int32Array][] = [[label, train.labels]];
  if (val !== null && val.labels !== null) all.push([label === 'data' ? 'validationData' : label.replace(/^data/, 'validationData'), val.labels]);
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
