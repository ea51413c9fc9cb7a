// predictAsync: non-blocking inference through backend.forwardAsync (a native worker off the main thread); small concurrent calls are batched.
import { getBackend } from '../backend/select';
import type { Backend } from '../backend/contract';
import { Tensor } from '../tensor';
import { Batcher, raceAbort } from './batcher';
import type { InputShapeOptions } from './input';
import { checkOptions } from './options';
import { UnplannableModelError, type PlannableModel } from './plan';
import { prepareCall, type PreparedCall } from './prepare';
import { shapeInput } from './input';
import { preprocessorOf } from '../data/preprocess';
import { PREDICT_BATCH_SIZE } from '../constants';

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
}

const OPTION_KINDS = {
  batchSize: 'positive integer', backend: 'backend', onProgress: 'function', features: 'positive integer', rows: 'positive integer',
  batch: 'boolean', signal: 'abort signal',
} as const;

type ModelWithPredict = PlannableModel & { predict(x: Tensor | Float32Array, o: { batchSize: number } & InputShapeOptions): Tensor };

/** A model with a synchronous predict (nn.Module has one). */
function hasPredict(m: PlannableModel): m is ModelWithPredict {
  return typeof (m as { predict?: unknown }).predict === 'function';
}

/**
 * A model the planner cannot turn into dense steps (LayerNorm, a user layer) runs through its own
 * forward (its ops) now, with the weights as they are at the call, on the active backend.
 */
function predictThroughForward(model: ModelWithPredict, x: Tensor | Float32Array, batchSize: number, opts: PredictAsyncOptions): Tensor {
  const y = model.predict(x, { batchSize, features: opts.features, rows: opts.rows });
  const rows = y.ndim === 0 ? 1 : y.shape[0];
  opts.onProgress?.(rows, rows);
  return y;
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
  // forwardAsync copies its input when called; later chunks are sent later, so copy them now.
  const input = M <= batchSize ? call.input : call.input.slice(0, M * K);
  const out = new Float32Array(M * N);
  for (let start = 0; start < M; start += batchSize) {
    opts.signal?.throwIfAborted();
    const rows = Math.min(batchSize, M - start);
    await call.backend.forwardAsync(rows, call.frozen, input.subarray(start * K, (start + rows) * K), out.subarray(start * N, (start + rows) * N), call.softmax);
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
 * does not affect it. The input is copied too, so the caller may reuse its buffer at once.
 * Calls of up to 32 rows made while others are queued or running on the same model join them in
 * one forwardAsync call (batcher.ts); each gets its own rows, and rows never affect each other.
 * Resolves with a Tensor [rows, outputs] (probabilities when the model ends with Softmax).
 */
export async function predictAsync(model: PlannableModel, x: Tensor | Float32Array, options: PredictAsyncOptions = {}): Promise<Tensor> {
  // The model's preprocessor (lib/data/preprocess), if any: inputs shaped (a flat array needs
  // features or rows), filled and scaled first; regression outputs mapped back after.
  const prep = preprocessorOf(model);
  if (prep === null) return predictPlanned(model, x, options);
  const { features, rows, ...rest } = checkOptions('predictAsync', options, OPTION_KINDS) as PredictAsyncOptions;
  const shaped = shapeInput('predictAsync', x, { features, rows }, { width: prep.features, flattens: false });
  return prep.outputs(await predictPlanned(model, prep.inputs(shaped, 'predictAsync'), rest));
}

async function predictPlanned(model: PlannableModel, x: Tensor | Float32Array, options: PredictAsyncOptions): Promise<Tensor> {
  const opts = checkOptions('predictAsync', options, OPTION_KINDS) as PredictAsyncOptions;
  opts.signal?.throwIfAborted();
  const batchSize = opts.batchSize ?? PREDICT_BATCH_SIZE;
  let call: PreparedCall;
  try {
    call = prepareCall('predictAsync', model, x, opts, opts.backend ?? getBackend());
  } catch (err) {
    if (!(err instanceof UnplannableModelError) || !hasPredict(model)) throw err;
    return predictThroughForward(model, x, batchSize, opts);
  }
  if (opts.batch !== false && call.rows > 0 && call.rows <= batchSize) {
    const shared = sharedBatcher(model);
    if (call.rows <= shared.maxBatchRows) {
      const y = await shared.enqueue(call, opts.signal);
      opts.onProgress?.(call.rows, call.rows);
      return y;
    }
  }
  const running = runChunked(call, batchSize, opts);
  return opts.signal === undefined ? running : raceAbort(running, opts.signal);
}
