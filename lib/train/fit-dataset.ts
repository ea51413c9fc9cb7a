// fit / evaluate / predict over a data.Dataset: the streaming epoch driver (batches read as they come, memory bounded by the dataset's buffers), and the entry points that dispatch between it and the in-memory path.
import { Tensor } from '../tensor';
import { noGrad } from '../autograd';
import { clipGradNorm } from '../optim/clip';
import { isDataset, type Dataset } from '../data/dataset';
import { fit as fitArrays, emptyHistory, appendToHistory, outputsSetup, type FitOptions, type LossSetup, type TrainingRunState } from './fit';
import { evaluate as evaluateArrays, predict as predictArrays, evaluatePrepared, type EvaluateOptions, type EvaluateResult, type PredictOptions } from './evaluate';
import { prepareData, preprocessForModel, checkTargetWidth, BatchBuilder, type PreparedData } from './prepared';
import { singleOutputSpecs, outputsLoss, outputsMetrics, type LossWeights, type OutputLossSpec, type OutputMetricSpecs } from './outputs';
import { resolveLoss, type LossFunction } from './loss-spec';
import { makeMetrics, checkMetrics, validationKey, type Metric, type BatchTarget } from './metrics';
import { trainingLoss, type WeightedLoss } from './class-weight';
import { makeProgress } from './progress';
import { makeOptimizer } from './optimizer';
import { checkpointCallback } from '../io/checkpoint';
import { beginStepArena, endStepArena } from '../buffer-pool';
import { stepBuffersReusable } from './step-reuse';
import { collectCallbacks, checkDataValues, checkLabelRange, probeOutputWidth, forwardOne } from './checks';
import { DivergenceMonitor } from './divergence';
import { withHistoryMethods } from './history-csv';
import { reportSetup } from './report';
import { checkOneOf, checkOptions, checkPositiveInt, describe } from '../validate';
import { autocast, PRECISIONS } from '../autocast';
import type { BatchLogs, EpochLogs, FitData, History, TrainableModel, TrainableOptimizer, TrainContext } from './types';
import { PREDICT_BATCH_SIZE } from '../constants';
import { fitInBackground } from './background';
import { distributedStreamRun, type DistributedStreamRun } from '../distributed/fit-hook';

/** fit's options when the data is a data.Dataset. */
export interface FitDatasetOptions extends Omit<FitOptions, 'validationData'> {
  /** Held-out data evaluated after every epoch: in-memory { x, y } or a data.Dataset. */
  validationData?: FitData | Dataset<unknown>;
  /**
   * Batches per epoch. Without it an epoch is one pass over the dataset. With it, the dataset is read
   * on across epochs (an epoch need not be a whole pass) and started again when it ends, so an endless
   * dataset (repeat()) needs it.
   */
  stepsPerEpoch?: number;
  /**
   * Train on a worker thread (lib/train/background) so this thread's event loop stays free: the model
   * here follows training as consistent snapshots of whole steps (for predict / predictAsync), callbacks
   * and progress run here. Options must then be sendable: loss and metrics by name, optimizer by name.
   */
  background?: boolean;
  /** With background: milliseconds between weight refreshes of the model here (default 100). */
  refreshMs?: number;
}

/** fit options that mean something for in-memory arrays only, with what to do for a dataset instead. */
const ARRAY_ONLY: Record<string, string> = {
  shuffle: 'shuffle the dataset itself: dataset.shuffle(bufferSize, { seed })',
  seed: "seed the dataset's shuffle: dataset.shuffle(bufferSize, { seed })",
  validationSplit: 'hold rows out with take() / skip() and pass them as validationData',
  standardize: 'fit a data.preprocessor on a sample and set model.preprocessor (it is applied to every batch)',
  resumeFrom: 'restore with loadCheckpoint and pass initialEpoch and history (a stream has no saved position)',
};

const DATASET_FIT_OPTIONS = [
  'epochs', 'batchSize', 'stepsPerEpoch', 'loss', 'lossWeights', 'optimizer', 'lr', 'classWeight', 'metrics', 'validationData',
  'validationBatchSize', 'callbacks', 'onEpochEnd', 'onBatchEnd', 'signal', 'verbose', 'output', 'initialEpoch',
  'history', 'clipGradNorm', 'checkpointDir', 'report', 'distributed', 'precision',
];

/**
 * Trains `model` on in-memory { x, y } (see the in-memory fit) or on a data.Dataset of rows or batches
 * (streamed: each epoch reads the dataset's batches as they come; a dataset of rows is batched with
 * batchSize). Resolves with the History.
 * @param model the model to train (any nn.Module); its weights change in place.
 * @param data in-memory { x, y } (x a Tensor [n, ...] or a flat Float32Array with features; y integer labels
 *   or float targets), or a data.Dataset.
 * @param options see FitOptions: epochs (default 1), batchSize (32), optimizer ('adam'), lr (the optimizer's
 *   default, 1e-3 for Adam), loss (crossEntropy for labels, mse for targets), metrics, validation, callbacks,
 *   report (an HTML training report), ...
 * @returns the History: loss, metrics and their val* twins per epoch, lr, seconds, stopReason, warnings;
 *   history.toCsv() gives it as CSV.
 * @throws Error (a rejected Promise) naming the option, row or value: an unknown option, bad data (NaN,
 *   labels out of range, rows of the wrong width), a loss that becomes NaN or infinite (with the epoch and batch).
 * @example
 * const digits = data.loadDigits({ seed: 1 });
 * const model = new nn.Sequential(new nn.Linear(64, 32), new nn.ReLU(), new nn.Linear(32, 10), { seed: 1 });
 * const history = await fit(model, digits.train, { epochs: 10, validationSplit: 0.1, report: 'run.html' });
 */
export function fit(model: TrainableModel, data: FitData | Dataset<unknown>, options: FitDatasetOptions = {}): Promise<History> {
  if (options !== null && typeof options === 'object' && options.report !== undefined) {
    // A training report: a recording callback added to the run, the HTML file written when it ends.
    let setup: ReturnType<typeof reportSetup>;
    try {
      setup = reportSetup(model, data, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return fitWithoutReport(model, data, setup.options).then((history) => setup.finish(history));
  }
  return fitWithoutReport(model, data, options);
}

function fitWithoutReport(model: TrainableModel, data: FitData | Dataset<unknown>, options: FitDatasetOptions): Promise<History> {
  if (options !== null && typeof options === 'object' && options.precision !== undefined && options.background !== true) {
    // The whole run (steps and validation) in the precision's autocast scope; a background run passes it to its worker.
    const { precision, ...rest } = options;
    try {
      checkOneOf('fit', 'precision', precision, PRECISIONS);
    } catch (err) {
      return Promise.reject(err);
    }
    return autocast(precision, () => fitWithoutReport(model, data, rest));
  }
  if (options !== null && typeof options === 'object' && (options.background !== undefined || options.refreshMs !== undefined)) {
    const { background = false, ...rest } = options;
    if (background !== true && background !== false) return Promise.reject(new Error(`fit: background must be true or false, got ${describe(background)}`));
    if (background) return fitInBackground(model, data, rest);
    if (rest.refreshMs !== undefined) return Promise.reject(new Error('fit: refreshMs applies to background training (background: true)'));
    options = rest;
  }
  if (isDataset(data)) return fitDataset(model, data, options);
  if (options !== null && typeof options === 'object' && options.stepsPerEpoch !== undefined) {
    return Promise.reject(new Error('fit: stepsPerEpoch is for a data.Dataset; with in-memory data an epoch is one pass over the rows'));
  }
  return fitArrays(model, data, options as unknown as FitOptions);
}

/** evaluate's options for a data.Dataset (as fit's: with several outputs, loss, lossWeights and metrics per output). */
export interface EvaluateDatasetOptions {
  /** Rows per batch for a dataset of rows (default PREDICT_BATCH_SIZE, 1024, as predict); an error for a dataset of batches. */
  batchSize?: number;
  loss?: OutputLossSpec;
  lossWeights?: LossWeights;
  metrics?: OutputMetricSpecs;
}

/**
 * Mean loss and metrics over in-memory { x, y } (synchronous) or a data.Dataset (a Promise), in eval mode
 * without gradients.
 * @param options batchSize (default 1024), loss (default as fit: crossEntropy for labels, mse for targets)
 *   and metrics (default ['accuracy'] for labels).
 * @returns { loss, accuracy, ...each metric asked for }.
 * @throws Error naming the option or the row for an unknown option or bad data.
 * @example evaluate(model, digits.test) // { loss: 0.17..., accuracy: 0.97... }
 */
export function evaluate(model: TrainableModel, data: Dataset<unknown>, options?: EvaluateDatasetOptions): Promise<EvaluateResult>;
export function evaluate(model: TrainableModel, data: FitData, options?: EvaluateOptions): EvaluateResult;
export function evaluate(model: TrainableModel, data: FitData | Dataset<unknown>, options: EvaluateOptions | EvaluateDatasetOptions = {}): EvaluateResult | Promise<EvaluateResult> {
  if (!isDataset(data)) return evaluateArrays(model, data, options as EvaluateOptions);
  return (async () => {
    const opts = checkOptions('evaluate', options as EvaluateDatasetOptions, ['batchSize', 'loss', 'lossWeights', 'metrics']);
    const batchSize = checkPositiveInt('evaluate', 'batchSize', opts.batchSize ?? PREDICT_BATCH_SIZE);
    const stream = new BatchStream(model, batchesOf(data, batchSize, opts.batchSize, 'evaluate'), 'evaluate', undefined);
    const first = await stream.first();
    if (first.outputs) {
      const loss = outputsLoss('evaluate', first, opts.loss, opts.lossWeights);
      return evaluateStream(model, stream, loss.fn as unknown as LossFunction, outputsMetrics('evaluate', first, opts.metrics, loss.specs));
    }
    const { lossName, metricSpecs } = singleOutputSpecs('evaluate', first, opts.loss, opts.lossWeights, opts.metrics);
    return evaluateStream(model, stream, resolveLoss(lossName, first, 'evaluate'), makeMetrics(metricSpecs, lossName));
  })();
}

/**
 * Model outputs for every row of x (a Tensor or flat Float32Array, synchronous) or of a data.Dataset's elements (a Promise of one Tensor).
 * @param model - the trained model (an nn.Module); run in eval mode without gradients, its training mode restored after.
 * @param x - rows to predict: a Tensor [rows, ...features], a flat Float32Array (with options.features or options.rows), or a data.Dataset whose elements are `{ x }` batches.
 * @param options - batchSize (rows per forward pass, default 1024), and for a flat Float32Array features or rows.
 * @returns the model's outputs for every row, [rows, ...outputs]: a Tensor, or a Promise of one for a Dataset.
 * @throws Error for an unknown option, a batchSize that is not a positive integer, a dataset element that is not `{ x }` with x a Tensor or Float32Array, a flat Float32Array element without features (or n), a dataset that yields no rows, or an explicit batchSize with an already batched dataset.
 * @example
 * ```ts
 * const y = predict(model, randn([8, 4])); // Tensor [8, outputs]
 * ```
 */
export function predict(model: TrainableModel, x: Dataset<unknown>, options?: PredictOptions): Promise<Tensor>;
export function predict(model: TrainableModel, x: Tensor | Float32Array, options?: PredictOptions & { features?: number }): Tensor;
export function predict(model: TrainableModel, x: Tensor | Float32Array | Dataset<unknown>, options: PredictOptions & { features?: number } = {}): Tensor | Promise<Tensor> {
  if (!isDataset(x)) return predictArrays(model, x, options) as Tensor;
  return (async () => {
    options = checkOptions('predict', options, ['batchSize']);
    const batchSize = checkPositiveInt('predict', 'batchSize', options.batchSize ?? PREDICT_BATCH_SIZE);
    const parts: Tensor[] = [];
    let index = 0;
    for await (const e of batchesOf(x, batchSize, options.batchSize, 'predict')) {
      const el = e as { x?: unknown; n?: number; features?: number };
      if (el === null || typeof el !== 'object' || !(el.x instanceof Tensor || el.x instanceof Float32Array)) {
        throw new Error(`predict: dataset element ${index} must be { x } with x a Tensor or a Float32Array, got ${describe(el?.x ?? el)}`);
      }
      const features = el.x instanceof Float32Array ? el.features ?? (el.n !== undefined ? el.x.length / el.n : undefined) : undefined;
      if (el.x instanceof Float32Array && features === undefined) throw new Error(`predict: dataset element ${index}: a flat Float32Array x needs features (or n)`);
      parts.push(predictArrays(model, el.x, { batchSize, features }) as Tensor);
      index++;
    }
    if (parts.length === 0) throw new Error('predict: the dataset yielded no rows');
    const rows = parts.reduce((s, p) => s + p.shape[0], 0);
    const out = new Float32Array(parts.reduce((s, p) => s + p.size, 0));
    let off = 0;
    for (const p of parts) { out.set(p.data, off); off += p.size; }
    return new Tensor(out, [rows, ...parts[0].shape.slice(1)]);
  })();
}

/** The dataset as batches: a dataset of rows is batched with batchSize; a batched one refuses an explicit batchSize. */
function batchesOf(ds: Dataset<unknown>, batchSize: number, given: number | undefined, op: string): Dataset<unknown> {
  if (!ds.batched) return (ds as Dataset<never>).batch(batchSize) as Dataset<unknown>;
  if (given !== undefined) throw new Error(`${op}: batchSize applies to a dataset of rows; this dataset yields batches (their size is set where they are made, e.g. .batch(n))`);
  return ds;
}

/**
 * Reads a batched dataset for fit / evaluate: each element becomes checked PreparedData (the model's
 * preprocessor applied); one iterator carries over between epochs when stepsPerEpoch is set.
 */
class BatchStream {
  private it: AsyncIterator<unknown> | null = null;
  private peeked: PreparedData | null = null;
  /** Elements read so far (for error messages). */
  private index = 0;

  constructor(private readonly model: TrainableModel, private readonly ds: Dataset<unknown>, private readonly op: string, private readonly stepsPerEpoch: number | undefined) {}

  private prepare(e: unknown): PreparedData {
    const what = `dataset element ${this.index++}`;
    if (e === null || typeof e !== 'object' || (e as { y?: unknown }).y === undefined) {
      throw new Error(`${this.op}: ${what} must be a batch { x, y } (y: labels or targets), got ${describe(e)}`);
    }
    const d = preprocessForModel(this.model, e as FitData, prepareData(e as FitData, this.op, what), this.op);
    checkDataValues(this.op, what, d);
    return d;
  }

  /** The first batch (read ahead, then given again by next()). */
  async first(): Promise<PreparedData> {
    const d = await this.next();
    if (d === null) throw new Error(`${this.op}: the dataset yielded no batches`);
    this.peeked = d;
    return d;
  }

  /** The next batch, or null at the end of a pass (without stepsPerEpoch). */
  async next(): Promise<PreparedData | null> {
    if (this.peeked !== null) {
      const d = this.peeked;
      this.peeked = null;
      return d;
    }
    for (let fresh = false; ; fresh = true) {
      this.it ??= this.ds[Symbol.asyncIterator]();
      const r = await this.it.next();
      if (!r.done) return this.prepare(r.value);
      this.it = null;
      if (this.stepsPerEpoch === undefined) return null;
      if (fresh) throw new Error(`${this.op}: the dataset yielded no batches when read again`);
    }
  }

  /** Stops reading (closes the source: file handles, parse threads). */
  async close(): Promise<void> {
    const it = this.it;
    this.it = null;
    this.peeked = null;
    await it?.return?.();
  }
}

/** Loss and metrics over a stream of batches, in eval mode without gradients; restores the mode. */
async function evaluateStream(model: TrainableModel, stream: BatchStream, lossFn: LossFunction, metrics: Metric[]): Promise<EvaluateResult> {
  const wasTraining = (model as { training?: boolean }).training;
  model.eval();
  try {
    for (const m of metrics) m.reset();
    let lossSum = 0;
    let n = 0;
    for (let d = await stream.next(); d !== null; d = await stream.next()) {
      const b = d;
      lossSum += noGrad(() => {
        const { pred, target } = forwardBatch(model, b, 'evaluate');
        const loss = lossFn(pred, target).item() * b.n;
        for (const m of metrics) m.update(pred, target, b.n);
        return loss;
      });
      n += b.n;
    }
    if (n === 0) throw new Error('evaluate: no rows to evaluate');
    const out: EvaluateResult = { loss: lossSum / n };
    for (const m of metrics) out[m.name] = m.result();
    return out;
  } finally {
    await stream.close();
    if (wasTraining === true) model.train();
  }
}

/**
 * The model's output on a whole batch and the batch's targets: one input or several (x an array or a
 * record of tensors), one output or several (y an array or a record). Views of the batch: no copy.
 */
function forwardBatch(model: TrainableModel, d: PreparedData, op: string): { pred: Tensor; target: BatchTarget } {
  const parts = new BatchBuilder(d, 0); // without an order the rows are views, so no row buffers are needed
  const args = parts.args(null, 0, d.n);
  const target = parts.targets(null, 0, d.n) as BatchTarget;
  if (d.outputs) return { pred: model.forward(...args) as Tensor, target };
  return { pred: forwardOne(op, model, args), target };
}

/** A distributed step's part: the batch weight and whether this rank has a batch for the next step. */
interface DistributedStep { run: DistributedStreamRun; weight: number; hasNext: boolean }

/**
 * One optimisation step on a batch (the same sequence as fit's: zeroGrad, forward, loss, backward, clip,
 * step, metrics); returns the loss. Distributed: backward through the gradient all-reduce; d null is a
 * rank whose share of the epoch has run out (an empty step: it joins the all-reduce with weight 0).
 */
function trainStep(
  model: TrainableModel, optimizer: TrainableOptimizer, params: Tensor[], loss: WeightedLoss, metrics: Metric[],
  d: PreparedData | null, clip: number | undefined, reuse: boolean, where: string, dist: DistributedStep | null = null,
): number {
  if (reuse) beginStepArena();
  try {
    optimizer.zeroGrad();
    const out = d === null ? null : forwardBatch(model, d, 'fit');
    const l = out === null ? null : loss.fn(out.pred, out.target);
    if (l !== null && l.size !== 1) throw new Error(`fit: the loss must be a scalar, got shape [${l.shape.join(',')}]`);
    const value = l === null ? 0 : l.item();
    if (!Number.isFinite(value)) {
      throw new Error(`fit: loss is ${value} at ${where} (try a lower learning rate, clipGradNorm, or check the data for NaN/inf)`);
    }
    if (dist !== null) dist.run.reducer.backward(l === null ? null : () => l.backward(), dist.weight, [dist.hasNext ? 1 : 0]);
    else l?.backward();
    if (clip !== undefined) clipGradNorm(params, clip);
    optimizer.step();
    if (out !== null && d !== null) for (const m of metrics) m.update(out.pred, out.target, d.n);
    return value;
  } finally {
    if (reuse) endStepArena();
  }
}

/** fit's settings for a dataset, checked. */
interface StreamSettings { epochs: number; batchSize: number; steps: number | undefined; initialEpoch: number; verbose: 0 | 1 | 2 }

function checkStreamOptions(options: FitDatasetOptions): StreamSettings {
  if (options !== null && typeof options === 'object') {
    for (const [key, hint] of Object.entries(ARRAY_ONLY)) {
      if ((options as Record<string, unknown>)[key] !== undefined) throw new Error(`fit: option '${key}' is for in-memory data, not a data.Dataset: ${hint}`);
    }
  }
  checkOptions('fit', options, DATASET_FIT_OPTIONS);
  const epochs = options.epochs ?? 1;
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`fit: epochs must be a non-negative integer, got ${epochs}`);
  const batchSize = checkPositiveInt('fit', 'batchSize', options.batchSize ?? 32);
  const steps = options.stepsPerEpoch === undefined ? undefined : checkPositiveInt('fit', 'stepsPerEpoch', options.stepsPerEpoch);
  const initialEpoch = options.initialEpoch ?? 0;
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0) throw new Error(`fit: initialEpoch must be a non-negative integer, got ${initialEpoch}`);
  const verbose = options.verbose ?? 1;
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new Error(`fit: verbose must be 0, 1 or 2, got ${verbose}`);
  if (options.clipGradNorm !== undefined && !(options.clipGradNorm > 0)) throw new Error(`fit: clipGradNorm must be positive, got ${options.clipGradNorm}`);
  if (options.classWeight === 'balanced') throw new Error("fit: classWeight 'balanced' needs the class counts of the whole data, which a stream does not have: give the weights ({ class: weight } or one per class)");
  return { epochs, batchSize, steps, initialEpoch, verbose };
}

/** Everything one streaming fit works with, set up from the first batch. */
interface StreamRun extends TrainingRunState {
  options: FitDatasetOptions;
  settings: StreamSettings;
  stream: BatchStream;
  /** In-memory validation rows, or null (validationData absent or a dataset). */
  val: PreparedData | null;
  reuse: boolean;
  /** Checks a batch's labels against the loss's classes. */
  checkLabels(d: PreparedData, what: string): void;
  /** Data-parallel training (fit's distributed option), else null. */
  dist: DistributedStreamRun | null;
  /**
   * Distributed: this rank's next batch read ahead (null once its share of the pass has run out), and
   * whether a pass is under way (primed); kept across epochs, since with stepsPerEpoch an epoch need not end a pass.
   */
  cursor: { ahead: PreparedData | null; primed: boolean };
}

/** Reads the first batch and sets up loss, metrics, optimizer, callbacks and checks from it (the model runs once on it). */
async function prepareStreamRun(
  model: TrainableModel, options: FitDatasetOptions, settings: StreamSettings, stream: BatchStream, progress: StreamRun['progress'], dist: DistributedStreamRun | null,
): Promise<StreamRun> {
  const first = await stream.first();
  const valData = options.validationData;
  let val: PreparedData | null = null;
  if (valData !== undefined && !isDataset(valData)) {
    val = preprocessForModel(model, valData, prepareData(valData, 'fit', 'validationData'), 'fit');
    checkDataValues('fit', 'validationData', val);
  }
  const params = dist?.reducer.params ?? model.parameters();
  const optimizer = makeOptimizer(options.optimizer ?? 'adam', params, options.lr);
  const callbacks = collectCallbacks('fit', options.callbacks, options.onEpochEnd, options.onBatchEnd);
  let setup: LossSetup;
  let trainLoss: WeightedLoss;
  let checkLabels = (_d: PreparedData, _what: string): void => { /* several outputs: checked on the first batch */ };
  if (first.outputs) {
    // Several outputs: fit's checks of the outputs against the first batch (and in-memory validation rows).
    setup = outputsSetup(model, options as FitOptions, first, first, val, settings.batchSize);
    trainLoss = { fn: setup.lossFn, batchWeight: (_t, rows) => rows };
  } else {
    const { lossName, metricSpecs } = singleOutputSpecs('fit', first, options.loss, options.lossWeights, options.metrics);
    setup = { lossName, lossFn: resolveLoss(lossName, first, 'fit'), metricSpecs, metrics: makeMetrics(metricSpecs, lossName), valMetrics: makeMetrics(metricSpecs, lossName) };
    const classes = probeOutputWidth('fit', 'dataset element 0', model, first, settings.batchSize);
    checkTargetWidth('fit', 'dataset element 0', first, classes, lossName);
    const labelLimit = lossName === 'crossEntropy' ? classes : lossName === 'bceWithLogits' ? 2 : 0;
    checkLabels = (d: PreparedData, what: string): void => {
      if (labelLimit > 0 && d.labels !== null) checkLabelRange('fit', what, d.labels, labelLimit, `for loss '${String(lossName)}' (a model with ${classes} outputs)`);
    };
    if (val !== null) checkLabels(val, 'validationData');
    checkMetrics(setup.metrics, classes, first.labels !== null);
    trainLoss = trainingLoss('fit', lossName, setup.lossFn, options.classWeight, first.labels, classes);
  }
  const { lossFn, metrics, valMetrics, lossName, metricSpecs } = setup;
  if (options.checkpointDir !== undefined && (dist?.writesCheckpoints ?? true)) {
    dist?.recordWorldSize(options.checkpointDir);
    callbacks.push(checkpointCallback(options.checkpointDir));
  }
  const history = withHistoryMethods(options.history ?? emptyHistory());
  history.stopReason = null;
  history.aborted = false;
  if (!Array.isArray(history.warnings)) history.warnings = [];
  const ctx: TrainContext = {
    model, optimizer, history, epoch: settings.initialEpoch, epochs: settings.epochs, initialEpoch: settings.initialEpoch, batchSize: first.n,
    samples: 0, stepsPerEpoch: settings.steps ?? 0, seed: 0, stopTraining: false, stopReason: null,
  };
  return {
    model, options, settings, stream, val, lossFn, trainLoss, metrics, valMetrics, params, optimizer,
    callbacks, history, monitor: new DivergenceMonitor(null), ctx, progress, reuse: stepBuffersReusable(model, optimizer, lossName, metricSpecs), checkLabels, dist, cursor: { ahead: null, primed: false },
  };
}

/** One epoch's batches: steps, progress and onBatchEnd. Returns the epoch's totals, or null when the signal aborted it. */
async function streamEpoch(run: StreamRun, epoch: number): Promise<{ lossSum: number; weightSum: number; seen: number; steps: number } | null> {
  const { settings: { epochs, steps }, metrics, callbacks, ctx, dist } = run;
  const accuracy = metrics.find((m) => m.name === 'accuracy');
  let lossSum = 0; // sum of batch loss x batch weight (its rows, or its class weights)
  let weightSum = 0;
  let seen = 0;
  let b = 0;
  const cursor = run.cursor;
  for (; steps === undefined || b < steps; b++) {
    if (run.options.signal?.aborted) return null;
    let d: PreparedData | null;
    if (dist !== null) {
      // This rank reads one batch ahead; each step's all-reduce sums the ranks' "I have a next batch",
      // so every rank sees the end of a pass after the same step. A pass ends the epoch, or, with
      // stepsPerEpoch, the next step starts a new pass on every rank at once.
      if (!cursor.primed) {
        if (b > 0 && steps === undefined) break;
        cursor.ahead = await run.stream.next();
        cursor.primed = true;
        if (!dist.anyRank(cursor.ahead !== null)) break;
      }
      d = cursor.ahead;
      cursor.ahead = d === null ? null : await run.stream.next(); // null once this rank's share of the pass has run out
    } else {
      d = await run.stream.next();
      if (d === null) break;
    }
    const where = `epoch ${epoch + 1}/${epochs}, batch ${b + 1}${steps === undefined ? '' : `/${steps}`}`;
    if (d === null) {
      // This rank's share has run out before the others': an empty step (weight 0) in their all-reduce.
      trainStep(run.model, run.optimizer, run.params, run.trainLoss, metrics, null, run.options.clipGradNorm, run.reuse, where, { run: dist as DistributedStreamRun, weight: 0, hasNext: false });
      if (!(dist as DistributedStreamRun).anyNext) cursor.primed = false;
      continue;
    }
    run.checkLabels(d, `dataset batch ${b} of epoch ${epoch + 1}`);
    const weight = d.labels !== null && !d.outputs ? run.trainLoss.batchWeight(d.labels, d.n) : d.n;
    const step = dist === null ? null : { run: dist, weight, hasNext: cursor.ahead !== null };
    const lossValue = trainStep(run.model, run.optimizer, run.params, run.trainLoss, metrics, d, run.options.clipGradNorm, run.reuse, where, step);
    if (dist !== null && !dist.anyNext) cursor.primed = false;
    run.monitor.batch(lossValue);
    lossSum += lossValue * weight;
    weightSum += weight;
    seen += d.n;
    run.progress.batch(seen, lossSum / weightSum, accuracy?.result());
    if (callbacks.length > 0) {
      const batchLogs: BatchLogs = { loss: lossValue, size: d.n };
      for (const m of metrics) if (!m.epochOnly) batchLogs[m.name] = m.result();
      for (const cb of callbacks) await cb.onBatchEnd?.(b, batchLogs, ctx);
    }
    await new Promise<void>((resolve) => setImmediate(resolve)); // pending I/O and timers get a turn
  }
  if (b === 0) throw new Error(`fit: the dataset yielded no batches in epoch ${epoch + 1}`);
  return { lossSum, weightSum, seen, steps: b };
}

/** The epoch's logs (with validation), history, progress, warnings and onEpochEnd; returns true when a callback asked to stop. */
async function endStreamEpoch(run: StreamRun, epoch: number, totals: { lossSum: number; weightSum: number; seen: number }, started: number, trainSeconds: number): Promise<boolean> {
  const { model, options, history, ctx } = run;
  const logs: EpochLogs = { loss: totals.lossSum / totals.weightSum, lr: run.optimizer.lr, seconds: 0 };
  for (const m of run.metrics) logs[m.name] = m.result();
  const vBatch = options.validationBatchSize ?? Math.max(run.settings.batchSize, 256);
  let v: EvaluateResult | null = null;
  if (run.val !== null) v = evaluatePrepared(model, run.val, run.lossFn, run.valMetrics, vBatch);
  else if (options.validationData !== undefined) {
    const vs = new BatchStream(model, batchesOf(options.validationData as Dataset<unknown>, vBatch, undefined, 'fit'), 'fit', undefined);
    v = await evaluateStream(model, vs, run.lossFn, run.valMetrics);
  }
  if (v !== null) {
    logs.valLoss = v.loss;
    for (const m of run.valMetrics) logs[validationKey(m.name)] = v[m.name];
    model.train();
  }
  logs.seconds = (performance.now() - started) / 1000;
  appendToHistory(history, epoch, logs);
  run.progress.epochEnd(epoch, run.settings.epochs, logs, totals.seen / Math.max(trainSeconds, 1e-9));
  for (const w of run.monitor.epoch(epoch, logs)) {
    history.warnings.push(w);
    if (run.settings.verbose !== 0) (options.output ?? process.stderr).write(`warning: ${w.message}\n`);
  }
  for (const cb of run.callbacks) await cb.onEpochEnd?.(epoch, logs, ctx);
  if (!ctx.stopTraining) return false;
  history.stopReason = ctx.stopReason ?? 'stopped';
  return true;
}

/**
 * The streaming epoch driver behind fit(model, dataset): each epoch reads batches from the dataset
 * (a pass, or stepsPerEpoch batches), runs fit's step on each, then validation and callbacks.
 */
export async function fitDataset(model: TrainableModel, dataset: Dataset<unknown>, options: FitDatasetOptions = {}): Promise<History> {
  const settings = checkStreamOptions(options);
  const dist = distributedStreamRun(options.distributed, model.parameters(), {
    batchSize: settings.batchSize, stepsPerEpoch: settings.steps ?? 0, epochs: settings.epochs, initialEpoch: settings.initialEpoch,
  });
  if (dist !== null && !dist.logs) settings.verbose = 0;
  // Distributed: this rank's batches only (a dataset of rows is filtered by row before batching, so the
  // other ranks' rows are never copied into batches here).
  const source = dist === null ? dataset : dist.shard(dataset, dataset.batched ? 1 : settings.batchSize);
  // Distributed, the stream stops at the end of each pass (streamEpoch starts the next on every rank at once).
  const stream = new BatchStream(model, batchesOf(source, settings.batchSize, options.batchSize, 'fit'), 'fit', dist === null ? settings.steps : undefined);
  const wasTraining = (model as { training?: boolean }).training;
  const progress = makeProgress(settings.verbose, options.output ?? process.stdout);
  try {
    const run = await prepareStreamRun(model, options, settings, stream, progress, dist);
    const { ctx, history, callbacks } = run;
    let aborted = false;
    for (const cb of callbacks) await cb.onTrainBegin?.(ctx);
    for (let epoch = settings.initialEpoch; epoch < settings.epochs; epoch++) {
      if (options.signal?.aborted) { aborted = true; break; }
      ctx.epoch = epoch;
      for (const cb of callbacks) await cb.onEpochBegin?.(epoch, ctx);
      const started = performance.now();
      model.train();
      for (const m of run.metrics) m.reset();
      progress.epochBegin(epoch, settings.epochs, ctx.samples);
      const totals = await streamEpoch(run, epoch);
      if (totals === null) { aborted = true; break; }
      dist?.reduceTotals(totals, model);
      ctx.samples = totals.seen;
      ctx.stepsPerEpoch = totals.steps;
      if (await endStreamEpoch(run, epoch, totals, started, (performance.now() - started) / 1000)) break;
    }
    if (aborted) { history.aborted = true; history.stopReason = 'aborted'; }
    progress.close();
    for (const cb of callbacks) await cb.onTrainEnd?.(ctx);
    return history;
  } finally {
    progress.close();
    await stream.close();
    if (wasTraining === false) model.eval();
  }
}
