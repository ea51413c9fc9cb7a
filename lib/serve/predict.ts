// predictAsync: batched, non-blocking inference through backend.forwardAsync (a native worker off the main thread).
import { getBackend } from '../backend/select';
import type { Backend } from '../backend/contract';
import { Tensor } from '../tensor';
import { checkOptions } from './options';
import { buildPlan, InferencePlan, PlannableModel } from './plan';
import { frozenPlanFor } from './snapshot';

export interface PredictAsyncOptions {
  /** Rows per forwardAsync call (default 4096). The event loop runs between batches. */
  batchSize?: number;
  /** Backend to run on (default: the active backend). */
  backend?: Backend;
  /** Called after each batch with the rows done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

const OPTION_KINDS = { batchSize: 'positive integer', backend: 'backend', onProgress: 'function' } as const;

/** Rows and features of an input: x is [M, ...] whose trailing dims multiply to the plan's input size. */
function inputRows(x: Tensor | Float32Array, plan: InferencePlan): number {
  const K = plan.inFeatures;
  if (x instanceof Tensor) {
    if (x.data.length !== x.size) throw new Error(`predictAsync: input tensor of shape [${x.shape.join(',')}] has ${x.data.length} values (its ArrayBuffer was detached)`);
    if (x.ndim === 0) throw new Error(`predictAsync: input is a 0-d tensor; expected [rows, ${K}]`);
    const perRow = x.shape.slice(1).reduce((a, b) => a * b, 1);
    if ((x.ndim === 1 ? x.size : perRow) !== K) {
      throw new Error(`predictAsync: input of shape [${x.shape.join(',')}] does not match the model's ${K} input features`);
    }
    return x.ndim === 1 ? 1 : x.shape[0];
  }
  if (!(x instanceof Float32Array)) throw new Error('predictAsync: input must be a Tensor or a Float32Array');
  if (x.length % K !== 0) throw new Error(`predictAsync: input has ${x.length} values, not a multiple of the model's ${K} input features`);
  return x.length / K;
}

/**
 * Runs inference on `x` ([rows, features] Tensor or flat Float32Array) without blocking the event loop:
 * the model becomes a plan of fused dense layers, and each batch runs through backend.forwardAsync
 * (on the native backend, in a worker thread of the native pool). The result is computed with the
 * weights as they are at the call: the backend runs on its own copy of them (snapshot.ts), made
 * again only when a weight changed, so training, loadStateDict or transferring a weight's buffer
 * while the call is pending does not affect it. The input is copied too, so the caller may reuse
 * its buffer at once. Concurrent calls are independent.
 * Resolves with a Tensor [rows, outputs] (probabilities when the model ends with Softmax).
 */
export async function predictAsync(model: PlannableModel, x: Tensor | Float32Array, options: PredictAsyncOptions = {}): Promise<Tensor> {
  const opts = checkOptions('predictAsync', options, OPTION_KINDS) as PredictAsyncOptions;
  const batchSize = opts.batchSize ?? 4096;
  const backend = opts.backend ?? getBackend();
  const plan = buildPlan(model);
  const M = inputRows(x, plan);
  const frozen = frozenPlanFor(model, plan, backend);
  const N = plan.outFeatures;
  const K = plan.inFeatures;
  const data = x instanceof Tensor ? x.data : x;
  // forwardAsync copies its input when called; later batches are called later, so copy them now.
  const input = M <= batchSize ? data : data.slice(0, M * K);
  const out = new Float32Array(M * N);
  for (let start = 0; start < M; start += batchSize) {
    const rows = Math.min(batchSize, M - start);
    await backend.forwardAsync(
      rows, frozen, input.subarray(start * K, (start + rows) * K), out.subarray(start * N, (start + rows) * N), plan.softmax,
    );
    opts.onProgress?.(start + rows, M);
  }
  return new Tensor(out, [M, N]);
}
