// predictAsync: non-blocking inference through backend.forwardAsync (a native worker off the main thread); small concurrent calls are batched.
import { getBackend } from '../backend/select';
import type { Backend } from '../backend/contract';
import { Tensor } from '../tensor';
import { Module, type ModuleOutput } from '../nn/module';
import { planModel, runLayers, type ModelPlan } from '../nn/plan';
import { Batcher, raceAbort } from './batcher';
import type { InputShapeOptions } from './input';
import { checkOptions } from './options';
import { UnplannableModelError, type PlannableModel } from './plan';
import { prepareCall, prepareFromModelPlan, type PreparedCall } from './prepare';
import { shapeInput } from './input';
import { inputArgs, isMultiInput, joinOutputs, multiInput, type ModelInput, type MultiInput } from './inputs';
import { forwardBatch, inEvalMode } from './run';
import { frozenPlanFor } from './snapshot';
import { preprocessorOf } from '../data/preprocess';
import { PREDICT_BATCH_SIZE } from '../constants';
import { IntTensor, idsAsFloat } from '../int-tensor';

/** Options of predictAsync: batchSize (rows per forward pass, default 1024), backend, onProgress, batch, signal, copyInput, and features / rows for a flat array. */
export interface PredictAsyncOptions extends InputShapeOptions {
  /** Rows per forwardAsync call (default PREDICT_BATCH_SIZE, 1024, as predict). The event loop runs between batches. */
  batchSize?: number;
  /** Backend to run on (default: the active backend). */
  backend?: Backend;
  /** Called after each batch with the rows done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Let this call share a forwardAsync call with other concurrent calls on the same model
   * (default true; only calls of at most 32 rows join). See serve.batcher for the settings.
   */
  batch?: boolean;
  /** Aborting rejects the promise with signal.reason; no further batches of this call start. */
  signal?: AbortSignal;
  /**
   * Copy x before the call returns (default true), so you may reuse its buffer at once. With false, a call that runs
   * on its own (more than 32 rows, or batch: false) reads x in place on the worker threads (no copy: 0.2-0.25 ms less per 1024 rows of 784 values), and
   * x must not be written, transferred or detached until the promise settles. A call that sees x changed rejects.
   */
  copyInput?: boolean;
}

const OPTION_KINDS = {
  batchSize: 'positive integer', backend: 'backend', onProgress: 'function', features: 'positive integer', rows: 'positive integer',
  batch: 'boolean', signal: 'abort signal', copyInput: 'boolean',
} as const;

type ModelWithPredict = PlannableModel & { predict(x: Tensor | Float32Array, o: { batchSize: number } & InputShapeOptions): Tensor };

/** A model with a synchronous predict (an object that is not an nn.Module but has one). */
function hasPredict(m: PlannableModel): m is ModelWithPredict {
  return typeof (m as { predict?: unknown }).predict === 'function';
}

/** Resolves after pending I/O and timers get a turn. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Several inputs, or a module the planner sees as one layer (your own Module): each batch runs through
 * forward on the main thread (the Sequential chains inside it run their dense segments natively), and
 * the event loop runs between batches.
 */
async function predictThroughForward(
  model: Module, plan: ModelPlan | null, m: MultiInput, batchSize: number, opts: PredictAsyncOptions,
): Promise<ModuleOutput> {
  const parts: ModuleOutput[] = [];
  for (let start = 0; start < Math.max(m.rows, 1); start += batchSize) {
    opts.signal?.throwIfAborted();
    const end = Math.min(m.rows, start + batchSize);
    parts.push(inEvalMode(model, () => forwardBatch(model, plan, inputArgs(m, start, end))));
    opts.onProgress?.(end, m.rows);
    if (end < m.rows) await yieldToEventLoop();
  }
  opts.signal?.throwIfAborted();
  return joinOutputs(parts);
}

/**
 * A chain with layers the planner cannot run natively (LayerNorm, your own layer between Linears): per
 * batch, each dense segment runs through backend.forwardAsync off the main thread, on the segment's weight
 * snapshot taken at the call; the other layers run through their forward on the main thread between them
 * (with the weights as they are when they run).
 */
async function predictSegments(model: Module, plan: ModelPlan, input: Tensor, batchSize: number, opts: PredictAsyncOptions): Promise<Tensor> {
  const backend = opts.backend ?? getBackend();
  const frozen = plan.segments.map((seg) => {
    if (seg.kind !== 'dense') return null;
    const d = seg.inference;
    const sources = d.denseSteps.map((st) => ({ weight: st.layer.weight, bias: st.layer.bias }));
    return frozenPlanFor(d, { layers: d.planLayers(), sources, softmax: d.endsInSoftmax, inFeatures: d.inFeatures, outFeatures: d.outFeatures, flattens: false }, backend);
  });
  const rows = input.ndim === 0 ? 1 : input.shape[0];
  const parts: Tensor[] = [];
  for (let start = 0; start < Math.max(rows, 1); start += batchSize) {
    opts.signal?.throwIfAborted();
    const end = Math.min(rows, start + batchSize);
    let h = input.ndim === 0 || (start === 0 && end === rows) ? input : input.slice(start, end);
    for (let i = 0; i < plan.segments.length; i++) {
      const seg = plan.segments[i];
      const f = frozen[i];
      if (seg.kind === 'ops' || f === null) {
        const x = h;
        h = inEvalMode(model, () => runLayers(plan, seg.from, seg.to, x));
        continue;
      }
      const d = seg.inference;
      if (!(h.ndim === 2 && h.shape[1] === d.inFeatures)) {
        const x = h;
        h = inEvalMode(model, () => runLayers(plan, seg.from, seg.firstLinear, x));
      }
      if (h.ndim === 2 && h.shape[1] === d.inFeatures) {
        const out = new Float32Array(h.shape[0] * d.outFeatures);
        if (h.shape[0] > 0) await backend.forwardAsync(h.shape[0], f, h.data.subarray(0, h.size), out, d.endsInSoftmax);
        h = new Tensor(out, [h.shape[0], d.outFeatures]);
      } else {
        const x = h;
        h = inEvalMode(model, () => runLayers(plan, seg.firstLinear, seg.to, x));
      }
    }
    parts.push(h);
    opts.onProgress?.(end, rows);
  }
  opts.signal?.throwIfAborted();
  return joinOutputs(parts) as Tensor;
}

/**
 * True when a chain's plan has no dense segment (every layer runs through its forward: quantised layers, convolutions):
 * predictAsync then runs each batch as predict does (runPlan: the step arena, no fresh arrays per layer) instead of
 * predictSegments' layer-by-layer path, which was 1.1-1.9x predict's CPU time on quantised models (lib/quant).
 */
function noDenseSegment(plan: ModelPlan): boolean {
  return plan.segments.every((s) => s.kind === 'ops');
}

/** The batcher predictAsync's small calls on each model share (default settings). */
const sharedBatchers = new WeakMap<object, Batcher>();

function sharedBatcher(model: PlannableModel): Batcher {
  let b = sharedBatchers.get(model);
  if (b === undefined) {
    b = new Batcher(model);
    sharedBatchers.set(model, b);
  }
  return b;
}

/** Runs a call in chunks of batchSize rows, one forwardAsync call after another. */
async function runChunked(call: PreparedCall, batchSize: number, opts: PredictAsyncOptions): Promise<Tensor> {
  const { rows: M, K, N } = call;
  // A single chunk: forwardAsync copies the caller's rows when called. Later chunks are sent later, so
  // they are copied now, once, into an array that is ours: each chunk of it is handed over, not copied again.
  // An owned input (copyInput: false) is handed over as it is.
  const input = M <= batchSize || call.owned === true ? call.input : call.input.slice(0, M * K);
  const handOver = input !== call.input || call.owned === true;
  const out = new Float32Array(M * N);
  for (let start = 0; start < M; start += batchSize) {
    opts.signal?.throwIfAborted();
    const rows = Math.min(batchSize, M - start);
    await call.backend.forwardAsync(rows, call.frozen, input.subarray(start * K, (start + rows) * K), out.subarray(start * N, (start + rows) * N), call.softmax, handOver);
    opts.onProgress?.(start + rows, M);
  }
  opts.signal?.throwIfAborted();
  return new Tensor(out, call.outShape);
}

/**
 * Runs inference on `x` without blocking the event loop: a [rows, features] Tensor, or a flat
 * Float32Array with options.features (values per row) or options.rows. The model becomes a plan of
 * fused dense layers, and each batch runs through backend.forwardAsync (on the native backend, in a
 * worker thread of the native pool). The result is computed with the weights as they are at the
 * call: the backend runs on its own copy of them (snapshot.ts), made again only when a weight
 * changed, so training, loadStateDict or transferring a weight's buffer while the call is pending
 * does not affect it. The input is copied too, so the caller may reuse its buffer at once, unless
 * options.copyInput is false: then a call that runs on its own reads x in place, x must stay unchanged
 * until the promise settles, and a call that sees it changed rejects.
 * Calls of up to 32 rows made while others are queued or running on the same model join them in
 * one forwardAsync call (batcher.ts); each gets its own rows, and rows never affect each other.
 * Resolves with a Tensor [rows, outputs] (probabilities when the model ends with Softmax).
 * @param model - the model to run (a Sequential or a Module whose forward the plan covers).
 * @param x - a Tensor [rows, ...features], a flat Float32Array with options.features or options.rows, an IntTensor of token ids, or several inputs (an array or record of Tensors).
 * @param options - batchSize (rows per forward pass, default 1024), backend, onProgress(done, total), batch (join small concurrent calls, default true), signal (an AbortSignal), copyInput (default true; false reads x in place), features, rows.
 * @returns a Promise of the outputs (a Tensor [rows, outputs], or an array / record of them for several outputs).
 * @throws Error (the promise rejects) for an unknown option, an input that does not fit the model, several inputs (or outputs) with a model.preprocessor, or x changed or detached during a copyInput: false call; an aborted signal rejects with signal.reason.
 * @example
 * ```ts
 * const y = await predictAsync(model, randn([16, 4]));
 * ```
 */
export async function predictAsync<T extends ModuleOutput = Tensor>(model: PlannableModel, x: ModelInput | IntTensor, options: PredictAsyncOptions = {}): Promise<T> {
  // Token ids: the same values as float32, which an Embedding reads as ids (exact up to 2^24).
  if (x instanceof IntTensor) x = idsAsFloat('predictAsync', x);
  // The model's preprocessor (lib/data/preprocess), if any: inputs shaped (a flat array needs
  // features or rows), filled and scaled first; regression outputs mapped back after.
  const prep = preprocessorOf(model);
  if (prep === null) return predictPlanned(model, x, options) as Promise<T>;
  const { features, rows, ...rest } = checkOptions('predictAsync', options, OPTION_KINDS) as PredictAsyncOptions;
  if (isMultiInput(x)) throw new Error('predictAsync: model.preprocessor takes one input; this call gives several');
  const shaped = shapeInput('predictAsync', x, { features, rows }, { width: prep.features, flattens: false });
  const y = await predictPlanned(model, prep.inputs(shaped, 'predictAsync'), rest);
  if (!(y instanceof Tensor)) throw new Error('predictAsync: model.preprocessor maps one output; this model returned several');
  return prep.outputs(y) as T;
}

async function predictPlanned(model: PlannableModel, x: ModelInput, options: PredictAsyncOptions): Promise<ModuleOutput> {
  const opts = checkOptions('predictAsync', options, OPTION_KINDS) as PredictAsyncOptions;
  opts.signal?.throwIfAborted();
  const batchSize = opts.batchSize ?? PREDICT_BATCH_SIZE;
  if (isMultiInput(x)) {
    if (opts.features !== undefined || opts.rows !== undefined) throw new Error('predictAsync: options.features and options.rows shape one flat Float32Array input; several inputs are Tensors');
    if (!(model instanceof Module)) throw new Error('predictAsync: several inputs need an nn.Module model');
    return predictThroughForward(model, null, multiInput('predictAsync', x), batchSize, opts);
  }
  const plan = model instanceof Module ? planModel(model) : null;
  if (plan !== null && plan.layers[0] !== model && noDenseSegment(plan)) {
    // Nothing to run off the main thread (a quantised model, a CNN without dense head): predict's own path per batch.
    const input = shapeInput('predictAsync', x, opts, { width: x instanceof Float32Array ? (model as Module).inputFeatures() : null, flattens: false });
    return predictThroughForward(model as Module, plan, { form: 'array', names: ['0'], tensors: [input], rows: input.ndim === 0 ? 1 : input.shape[0] }, batchSize, opts);
  }
  if (plan !== null && plan.chain.problem !== null) {
    // Not one dense plan: the planned segments (native) with the other layers through their forward.
    const width = x instanceof Float32Array ? (model as Module).inputFeatures() : null;
    const input = shapeInput('predictAsync', x, opts, { width, flattens: false });
    if (plan.layers[0] === model) {
      return predictThroughForward(model as Module, plan, { form: 'array', names: ['0'], tensors: [input], rows: input.ndim === 0 ? 1 : input.shape[0] }, batchSize, opts);
    }
    const running = predictSegments(model as Module, plan, input, batchSize, opts);
    return opts.signal === undefined ? running : raceAbort(running, opts.signal);
  }
  let call: PreparedCall;
  try {
    const backend = opts.backend ?? getBackend();
    call = (plan !== null ? prepareFromModelPlan('predictAsync', model, plan, x, opts, backend) : null) ??
      prepareCall('predictAsync', model, x, opts, backend);
  } catch (err) {
    if (!(err instanceof UnplannableModelError) || !hasPredict(model)) throw err;
    const y = model.predict(x, { batchSize, features: opts.features, rows: opts.rows });
    opts.onProgress?.(y.ndim === 0 ? 1 : y.shape[0], y.ndim === 0 ? 1 : y.shape[0]);
    return y;
  }
  if (opts.batch !== false && call.rows > 0 && call.rows <= batchSize) {
    const shared = sharedBatcher(model);
    if (call.rows <= shared.maxBatchRows) {
      const y = await shared.enqueue(call, opts.signal);
      opts.onProgress?.(call.rows, call.rows);
      return y;
    }
  }
  // The caller may hand x over (copyInput: false): read in place, with a check that it stayed as it was (a few
  // values, as predict's weight guard).
  if (opts.copyInput === false) call.owned = true;
  let running = runChunked(call, batchSize, opts);
  if (opts.copyInput === false) {
    const before = sampleValues(call.input);
    const input = call.input;
    running = running.then((y) => {
      if (input.length === 0) throw new Error('predictAsync: x was detached (its ArrayBuffer transferred) while the call was running with copyInput: false');
      if (!sameValues(before, sampleValues(input))) {
        throw new Error('predictAsync: x was changed while the call was running with copyInput: false; keep it unchanged until the promise settles, or leave copyInput at its default (true)');
      }
      return y;
    });
  }
  return opts.signal === undefined ? running : raceAbort(running, opts.signal);
}

/** Values of x compared before and after a copyInput: false call: 16 spread over the array, both ends included. */
function sampleValues(x: Float32Array): Float32Array {
  const n = 16;
  const out = new Float32Array(n);
  if (x.length === 0) return out;
  for (let s = 0; s < n; s++) out[s] = x[Math.floor((s * (x.length - 1)) / (n - 1))];
  return out;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
