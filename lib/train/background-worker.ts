// The background training worker: rebuilds the model from its config and weights, runs fit, publishes the weights after every step and talks to the main thread (lib/train/background).
import { parentPort, workerData } from 'worker_threads';
import { fromConfig } from '../nn/from-config';
import { Preprocessor } from '../data/preprocess';
import { Dataset } from '../data/dataset';
import { fit } from './fit-dataset';
import { WeightSlots } from './weight-slots';
import { ABORT_WORD, contextFields, fromWire, type BackgroundWorkerData, type MainMessage, type WireData, type WorkerMessage } from './background-wire';
import type { Callback, FitData, History, TrainContext } from './types';
import type { FitDatasetOptions } from './fit-dataset';

const port = parentPort!;
const init = workerData as BackgroundWorkerData;
const post = (m: WorkerMessage): void => port.postMessage(m);

let nextAsk = 0;
const waiting = new Map<number, (m: Extract<MainMessage, { t: 'reply' }>) => void>();
const controller = new AbortController();

/** The large arrays of the data, filled piece by piece; `arrived` resolves when every element came. */
const big = init.chunked.map((c) => (c.kind === 'int32' ? new Int32Array(c.length) : new Float32Array(c.length)));
let missing = big.reduce((s, a) => s + a.length, 0);
let allArrived: () => void = () => {};
const arrived = new Promise<void>((resolve) => { allArrived = resolve; if (missing === 0) resolve(); });

port.on('message', (m: MainMessage) => {
  if (m.t === 'abort') { controller.abort(); return; }
  if (m.t === 'chunk') {
    big[m.index].set(m.data, m.offset);
    missing -= m.data.length;
    if (missing === 0) allArrived();
    return;
  }
  const w = waiting.get(m.ask);
  if (w !== undefined) { waiting.delete(m.ask); w(m); }
});

/** Posts a message that waits for the main thread's reply. */
type Asking = Extract<WorkerMessage, { ask: number }>;
type WithoutAsk<M> = M extends unknown ? Omit<M, 'ask'> : never;
function ask(m: WithoutAsk<Asking>): Promise<Extract<MainMessage, { t: 'reply' }>> {
  const id = nextAsk++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    post({ ...m, ask: id } as Asking);
  });
}

/** A dataset whose elements the main thread reads from the user's dataset (one pass per iteration). */
function remoteDataset(id: number, batched: boolean): Dataset<unknown> {
  return new Dataset<unknown>(async function* remotePass() {
    const opened = await ask({ t: 'open', dataset: id });
    if (opened.error !== undefined) throw new Error(opened.error);
    let finished = false;
    try {
      for (;;) {
        const r = await ask({ t: 'next', dataset: id });
        if (r.error !== undefined) { finished = true; throw new Error(r.error); }
        if (r.done === true) { finished = true; return; }
        yield fromWire(r.element);
      }
    } finally {
      if (!finished) await ask({ t: 'close', dataset: id });
    }
  }, { batched });
}

function dataOf(d: WireData): FitData | Dataset<unknown> {
  return d.kind === 'dataset' ? remoteDataset(d.id, d.batched) : fromWire(d.value, big) as FitData;
}

async function main(): Promise<void> {
  await arrived;
  const model = fromConfig(init.config);
  const live = model.stateDict();
  model.loadStateDict(Object.fromEntries(init.names.map((n, i) => [n, init.state[i]])));
  if (init.preprocessor !== null) model.preprocessor = Preprocessor.fromJSON(init.preprocessor, 'background fit');
  const arrays = init.names.map((n) => live[n].data);
  const slots = new WeightSlots(init.slots);
  let step = 0;
  slots.publish(arrays, step);
  let lastPost = performance.now();

  const apply = (ctx: TrainContext, r: Extract<MainMessage, { t: 'reply' }>): void => {
    if (r.ctx === undefined) return;
    ctx.optimizer.lr = r.ctx.lr;
    ctx.stopTraining = r.ctx.stopTraining;
    ctx.stopReason = r.ctx.stopReason;
  };
  const bridge: Callback = {
    onTrainBegin: async (ctx) => apply(ctx, await ask({ t: 'trainBegin', ctx: contextFields(ctx) })),
    onEpochBegin: async (epoch, ctx) => apply(ctx, await ask({ t: 'epochBegin', epoch, ctx: contextFields(ctx) })),
    onBatchEnd: (batch, logs, ctx) => {
      step++;
      slots.publish(arrays, step);
      if (Atomics.load(slots.control, ABORT_WORD) !== 0) controller.abort();
      const now = performance.now();
      if (init.batchEvents) post({ t: 'batch', batch, logs, step, ctx: contextFields(ctx) });
      else if (now - lastPost >= init.tickMs) post({ t: 'tick', step });
      else return;
      lastPost = now;
    },
    onEpochEnd: async (epoch, logs, ctx) => {
      apply(ctx, await ask({ t: 'epochEnd', epoch, logs, history: ctx.history, ctx: contextFields(ctx) }));
    },
  };
  const options: FitDatasetOptions = {
    ...(fromWire(init.options) as FitDatasetOptions),
    callbacks: [bridge],
    signal: controller.signal,
  };
  if (init.output !== null) {
    options.output = { write: (text: string) => { post({ t: 'out', text }); return true; }, isTTY: init.output.isTTY, columns: init.output.columns };
  }
  if (init.validation !== null) (options as { validationData?: unknown }).validationData = dataOf(init.validation);
  if (Atomics.load(slots.control, ABORT_WORD) !== 0) controller.abort();
  const history: History = await fit(model, dataOf(init.data), options);
  post({ t: 'done', history, preprocessor: model.preprocessor === null ? null : model.preprocessor.toJSON(), step });
}

main().catch((e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  post({ t: 'error', message: err.message, stack: err.stack });
});
