// Background training: fit run on a worker thread (lib/train/background-worker) while this thread stays free; the model here follows the trained weights as consistent snapshots.
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { isDataset, type Dataset } from '../data/dataset';
import { Preprocessor, preprocessorOf } from '../data/preprocess';
import { describe } from '../validate';
import { WeightSlots } from './weight-slots';
import { ABORT_WORD, CHUNK_BYTES, chunkedLayout, toWire, type BackgroundWorkerData, type ContextFields, type MainMessage, type WireData, type WorkerMessage } from './background-wire';
import { collectCallbacks } from './checks';
import { emptyHistory } from './fit';
import type { FitOptions } from './fit';
import type { Callback, FitData, History, TrainableModel, TrainableOptimizer, TrainContext } from './types';
import type { LayerConfig } from '../nn/config';
import type { Tensor } from '../tensor';


/** Options of a background fit: fit's, less what cannot cross to another thread. */
export type BackgroundFitOptions = Omit<FitOptions, 'validationData'> & {
  /** In-memory { x, y } or a data.Dataset (read on this thread). */
  validationData?: FitData | Dataset<unknown>;
  /** As fit's for a data.Dataset: batches per epoch. */
  stepsPerEpoch?: number;
  /**
   * Milliseconds between weight refreshes of the model on this thread when no callback needs every
   * batch (default 100). Each refresh copies one whole step's weights.
   */
  refreshMs?: number;
};

/** Options whose value is a function or an object living on this thread: they cannot go to the worker. */
const NOT_SENT = ['callbacks', 'onEpochEnd', 'onBatchEnd', 'signal', 'output', 'refreshMs'];

/** The compiled worker script (dist/train/background-worker.js); null when running from TypeScript sources. */
export function backgroundWorkerScript(): string | null {
  const file = path.join(__dirname, 'background-worker.js');
  return fs.existsSync(file) ? file : null;
}

interface ModuleLike extends TrainableModel {
  toConfig(): LayerConfig;
}

function checkSendable(options: BackgroundFitOptions): void {
  const o = options as Record<string, unknown>;
  const fnKeys = ['loss', 'transform'].filter((k) => typeof o[k] === 'function');
  if (Array.isArray(o.loss) ? o.loss.some((l) => typeof l === 'function') : false) fnKeys.push('loss');
  if (fnKeys.length > 0) {
    throw new Error(`fit: background: option '${fnKeys[0]}' is a function, which cannot run on the training thread (give a loss by name, or train in the foreground)`);
  }
  const metrics = Array.isArray(o.metrics) ? o.metrics : o.metrics !== null && typeof o.metrics === 'object' ? Object.values(o.metrics) : [];
  if (metrics.flat().some((m) => m !== null && typeof m === 'object')) {
    throw new Error('fit: background: metric functions ({ name, fn }) cannot run on the training thread; give metrics by name');
  }
  if (o.optimizer !== undefined && typeof o.optimizer !== 'string') {
    throw new Error(`fit: background: give the optimizer by name ('adam', 'sgd', 'adamw', 'rmsprop') with lr; an optimizer instance (${describe(o.optimizer)}) lives on this thread`);
  }
  if (o.refreshMs !== undefined && !(typeof o.refreshMs === 'number' && o.refreshMs >= 0 && Number.isFinite(o.refreshMs))) {
    throw new Error(`fit: background: refreshMs must be a non-negative number of milliseconds, got ${describe(o.refreshMs)}`);
  }
}

/**
 * Training on a worker thread. The model given stays on this thread and follows training: its weights
 * are replaced by the latest published step (whole steps only, never a mix of two) before every
 * callback, every refreshMs while training runs, on snapshot(), and at the end. predict and
 * predictAsync on it therefore always compute with one step's weights. Callbacks and progress run
 * here; an AbortSignal (or abort()) stops training at the next batch; errors on the training thread
 * reject `done` with their message.
 */
export class Trainer {
  /** Resolves with the History when training ends (as fit's Promise does). */
  readonly done: Promise<History>;
  private readonly slots: WeightSlots;
  private readonly targets: Float32Array[];
  private readonly liveTensors: Tensor[];
  private readonly worker: Worker;
  private readonly ctx: TrainContext;
  private readonly callbacks: Callback[];
  private shownStep = 0;
  private finished = false;
  private readonly iterators = new Map<number, AsyncIterator<unknown>>();
  private readonly datasets: Dataset<unknown>[] = [];
  /** Large arrays of in-memory data: sent to the worker in pieces after it starts. */
  private readonly big: (Float32Array | Int32Array)[] = [];

  /**
   * Starts training on a worker thread (fit(model, data, { background: true }) makes one and returns its done).
   * @param model an nn.Module (rebuilt on the worker from toConfig(); its weights here follow training).
   * @param data `{ x, y }` in memory, or a data.Dataset (read on this thread and sent over).
   * @param options fit's options, less what cannot cross threads: loss, metrics and optimizer by name, no
   * functions; plus stepsPerEpoch (for a Dataset), refreshMs (ms between weight refreshes, default 100), signal
   * (an AbortSignal that stops training), callbacks, onEpochEnd, onBatchEnd and output (run on this thread).
   * @throws Error when options is not an object, the compiled worker script is missing (running from sources
   * without npm run build:ts), the model has no toConfig(), loss or transform is a function, a metric is a
   * function, optimizer is an instance instead of a name, refreshMs is not a non-negative number, data or
   * validationData is neither { x, y } nor a Dataset, or a callback is invalid.
   * @example
   * ```ts
   * const trainer = new Trainer(model, { x, y }, { epochs: 20, lr: 0.01 });
   * const history = await trainer.done;
   * ```
   */
  constructor(private readonly model: TrainableModel, data: FitData | Dataset<unknown>, options: BackgroundFitOptions = {}) {
    if (options === null || typeof options !== 'object') throw new Error(`fit: options must be an object, got ${describe(options)}`);
    const script = backgroundWorkerScript();
    if (script === null) throw new Error('fit: background training runs the compiled worker script (dist/train/background-worker.js), which this copy of myelin does not have: build it with npm run build:ts');
    if (typeof (model as Partial<ModuleLike>).toConfig !== 'function') {
      throw new Error(`fit: background training rebuilds the model on the training thread from toConfig(); ${describe(model)} has none (use an nn.Module)`);
    }
    checkSendable(options);
    this.callbacks = collectCallbacks('fit', options.callbacks, options.onEpochEnd, options.onBatchEnd);
    const state = Object.entries(model.stateDict());
    this.liveTensors = state.map(([, t]) => t);
    this.targets = this.liveTensors.map((t) => t.data);
    this.slots = WeightSlots.create(this.targets.map((a) => a.length));
    const history = options.history ?? emptyHistory();
    const optimizer = { lr: typeof options.lr === 'number' ? options.lr : NaN, zeroGrad: notHere, step: notHere } satisfies TrainableOptimizer;
    this.ctx = {
      model, optimizer, history, epoch: 0, epochs: options.epochs ?? 1, initialEpoch: options.initialEpoch ?? 0,
      batchSize: options.batchSize ?? 32, samples: 0, stepsPerEpoch: 0, seed: (options as FitOptions).seed ?? 0, stopTraining: false, stopReason: null,
    };
    const sent: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) if (!NOT_SENT.includes(k) && k !== 'validationData' && v !== undefined) sent[k] = v;
    const output = options.output ?? process.stdout;
    const verbose = (options as { verbose?: number }).verbose;
    const init: BackgroundWorkerData = {
      config: (model as ModuleLike).toConfig(),
      names: state.map(([n]) => n),
      state: this.targets,
      preprocessor: preprocessorOf(model)?.toJSON() ?? null,
      data: this.wireData(data, 'data'),
      validation: options.validationData === undefined ? null : this.wireData(options.validationData as FitData | Dataset<unknown>, 'validationData'),
      options: toWire(sent) as Record<string, unknown>,
      slots: this.slots.handle,
      batchEvents: this.callbacks.some((c) => c.onBatchEnd !== undefined),
      tickMs: options.refreshMs ?? 100,
      output: verbose === 0 ? null : { isTTY: output.isTTY === true, columns: output.columns },
      chunked: [],
    };
    init.chunked = chunkedLayout(this.big);
    const signal = options.signal;
    if (signal?.aborted) Atomics.store(this.slots.control, ABORT_WORD, 1);
    this.worker = new Worker(script, { workerData: init });
    void this.sendChunks();
    const onAbort = (): void => this.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.done = new Promise<History>((resolve, reject) => {
      const fail = (e: Error): void => {
        if (this.finished) return;
        this.finished = true;
        void this.worker.terminate();
        reject(e);
      };
      // One message at a time, in order: a callback that awaits holds the ones after it.
      let queue = Promise.resolve();
      this.worker.on('message', (m: WorkerMessage) => {
        queue = queue.then(() => (this.finished ? null : this.handle(m, output))).then((h) => {
          if (h === null || this.finished) return;
          this.finished = true;
          void this.worker.terminate();
          resolve(h);
        }, fail);
      });
      this.worker.on('error', (e) => fail(new Error(`fit: the background training thread failed: ${e.message}`)));
      this.worker.on('exit', (code) => fail(new Error(`fit: the background training thread exited (code ${code}) before training ended`)));
    }).finally(() => {
      signal?.removeEventListener('abort', onAbort);
      void this.closeIterators();
    });
  }

  /** The step of the weights the model here holds (0: the initial weights). */
  get step(): number {
    return this.shownStep;
  }

  /**
   * Copies the latest published step's weights into the model (a no-op when it already holds them); returns that step.
   * @example trainer.snapshot(); const y = predict(model, x); // with the latest step's weights
   */
  snapshot(): number {
    if (this.slots.latestStep() <= this.shownStep) return this.shownStep;
    const step = this.slots.read(this.targets);
    if (step > this.shownStep) {
      this.shownStep = step;
      for (const t of this.liveTensors) t._version++; // predictAsync's frozen copy and folded weights are stale
    }
    return this.shownStep;
  }

  /**
   * Stops training at the next batch boundary; `done` resolves with history.aborted = true.
   * @example setTimeout(() => trainer.abort(), 60_000); const history = await trainer.done;
   */
  abort(): void {
    Atomics.store(this.slots.control, ABORT_WORD, 1);
    if (!this.finished) this.worker.postMessage({ t: 'abort' } satisfies MainMessage);
  }

  private wireData(d: FitData | Dataset<unknown>, what: string): WireData {
    if (isDataset(d)) {
      this.datasets.push(d);
      return { kind: 'dataset', id: this.datasets.length - 1, batched: d.batched };
    }
    if (d === null || typeof d !== 'object') throw new Error(`fit: ${what} must be { x, y } or a data.Dataset, got ${describe(d)}`);
    return { kind: 'arrays', value: toWire(d, this.big) };
  }

  /** The large arrays, CHUNK_BYTES at a time, one piece per event-loop turn (each piece a copy whose buffer is transferred). */
  private async sendChunks(): Promise<void> {
    for (let index = 0; index < this.big.length; index++) {
      const a = this.big[index];
      const step = CHUNK_BYTES / a.BYTES_PER_ELEMENT;
      for (let offset = 0; offset < a.length; offset += step) {
        if (this.finished) return;
        const data = a.slice(offset, offset + step);
        this.worker.postMessage({ t: 'chunk', index, offset, data } satisfies MainMessage, [data.buffer as ArrayBuffer]);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  private reply(ask: number, extra: Omit<Extract<MainMessage, { t: 'reply' }>, 't' | 'ask'>): void {
    if (!this.finished) this.worker.postMessage({ t: 'reply', ask, ...extra } satisfies MainMessage);
  }

  private syncContext(f: ContextFields): void {
    const { lr, ...rest } = f;
    Object.assign(this.ctx, rest);
    this.ctx.optimizer.lr = lr;
  }

  private ctxReply(): { lr: number; stopTraining: boolean; stopReason: TrainContext['stopReason'] } {
    return { lr: this.ctx.optimizer.lr, stopTraining: this.ctx.stopTraining, stopReason: this.ctx.stopReason };
  }

  /** One message from the worker; resolves with the History when training is done, else null. */
  private async handle(m: WorkerMessage, output: NonNullable<FitOptions['output']>): Promise<History | null> {
    switch (m.t) {
      case 'out': output.write(m.text); return null;
      case 'tick': this.snapshot(); return null;
      case 'trainBegin':
        this.syncContext(m.ctx);
        this.snapshot();
        for (const cb of this.callbacks) await cb.onTrainBegin?.(this.ctx);
        this.reply(m.ask, { ctx: this.ctxReply() });
        return null;
      case 'epochBegin':
        this.syncContext(m.ctx);
        this.snapshot();
        for (const cb of this.callbacks) await cb.onEpochBegin?.(m.epoch, this.ctx);
        this.reply(m.ask, { ctx: this.ctxReply() });
        return null;
      case 'batch': {
        const { stopTraining, stopReason } = this.ctx;
        this.syncContext(m.ctx);
        Object.assign(this.ctx, { stopTraining: stopTraining || m.ctx.stopTraining, stopReason: stopReason ?? m.ctx.stopReason });
        this.snapshot();
        for (const cb of this.callbacks) await cb.onBatchEnd?.(m.batch, m.logs, this.ctx);
        return null;
      }
      case 'epochEnd': {
        const stop = this.ctx.stopTraining;
        const reason = this.ctx.stopReason;
        this.syncContext(m.ctx);
        if (stop) { this.ctx.stopTraining = true; this.ctx.stopReason = reason; }
        Object.assign(this.ctx.history, m.history);
        this.snapshot();
        for (const cb of this.callbacks) await cb.onEpochEnd?.(m.epoch, m.logs, this.ctx);
        this.reply(m.ask, { ctx: this.ctxReply() });
        return null;
      }
      case 'open': case 'next': case 'close':
        await this.feed(m.t, m.ask, m.dataset);
        return null;
      case 'error': {
        const e = new Error(m.message);
        if (m.stack !== undefined) e.stack = `${m.stack}\n    (on the background training thread)`;
        throw e;
      }
      case 'done': {
        this.snapshot();
        const p = m.preprocessor === null ? null : Preprocessor.fromJSON(m.preprocessor, 'background fit');
        if (p !== null || preprocessorOf(this.model) !== null) (this.model as { preprocessor?: unknown }).preprocessor = p;
        Object.assign(this.ctx.history, m.history);
        for (const cb of this.callbacks) await cb.onTrainEnd?.(this.ctx);
        return this.ctx.history;
      }
    }
  }

  /** A dataset request from the worker: start a pass, read the next element, or stop the pass. */
  private async feed(what: 'open' | 'next' | 'close', ask: number, id: number): Promise<void> {
    const ds = this.datasets[id];
    try {
      if (what === 'open') {
        await this.iterators.get(id)?.return?.();
        this.iterators.set(id, ds[Symbol.asyncIterator]());
        this.reply(ask, {});
      } else if (what === 'close') {
        const it = this.iterators.get(id);
        this.iterators.delete(id);
        await it?.return?.();
        this.reply(ask, {});
      } else {
        const r = await this.iterators.get(id)!.next();
        if (r.done === true) { this.iterators.delete(id); this.reply(ask, { done: true }); } else this.reply(ask, { element: toWire(r.value) });
      }
    } catch (e) {
      this.reply(ask, { error: (e as Error).message ?? String(e) });
    }
  }

  private async closeIterators(): Promise<void> {
    const its = [...this.iterators.values()];
    this.iterators.clear();
    await Promise.all(its.map(async (it) => { try { await it.return?.(); } catch { /* already failing */ } }));
  }
}

function notHere(): never {
  throw new Error('fit: background: the optimizer runs on the training thread; callbacks here may read and set lr only');
}

/** fit(model, data, { background: true }): the Trainer's `done`. */
export function fitInBackground(model: TrainableModel, data: FitData | Dataset<unknown>, options: BackgroundFitOptions): Promise<History> {
  try {
    return new Trainer(model, data, options).done;
  } catch (e) {
    return Promise.reject(e);
  }
}
