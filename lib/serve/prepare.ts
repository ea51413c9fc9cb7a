// One checked inference call: the model's plan, its weight snapshot, the input's rows and the output shape, all fixed at call time.
import type { Backend, FrozenPlan } from '../backend/contract';
import { Tensor } from '../tensor';
import { shapeInput, type InputShapeOptions } from './input';
import { buildPlan, type PlannableModel } from './plan';
import { frozenPlanFor } from './snapshot';

/** Everything a forwardAsync call for one caller needs, checked and taken synchronously. */
export interface PreparedCall {
  backend: Backend;
  frozen: FrozenPlan;
  softmax: boolean;
  /** Input features and outputs per row. */
  K: number;
  N: number;
  rows: number;
  /** rows x K values: the caller's array (not a copy), unless `owned`. */
  input: Float32Array;
  /**
   * True when `input` is serve's own copy, which nothing else can reach: forwardAsync may then read it in place
   * (handOver) instead of copying it again. The caller's array is never handed over: the contract lets the caller
   * reuse its buffer as soon as predictAsync returns.
   */
  owned?: boolean;
  /** The result's shape: [rows, N], or [N] for a 1-d input. */
  outShape: number[];
}

/**
 * Checks x against the model (see shapeInput; a model that does not start with Flatten takes
 * [rows, features] or [features]) and takes the weight snapshot of this moment. Throws an Error
 * naming `op` and what was wrong; nothing is queued or copied yet.
 */
export function prepareCall(op: string, model: PlannableModel, x: unknown, shapeOpts: InputShapeOptions, backend: Backend): PreparedCall {
  const plan = buildPlan(model);
  const K = plan.inFeatures;
  const N = plan.outFeatures;
  const t: Tensor = shapeInput(op, x, shapeOpts, { width: K, flattens: plan.flattens });
  if (!plan.flattens && t.ndim > 2) {
    throw new Error(`${op}: input of shape [${t.shape.join(',')}] has ${t.ndim} dimensions; this model takes [rows, ${K}] (reshape it)`);
  }
  const rows = t.size / K;
  const frozen = frozenPlanFor(model, plan, backend);
  return {
    backend, frozen, softmax: plan.softmax, K, N, rows, input: t.data,
    outShape: t.ndim === 1 ? [N] : [rows, N],
  };
}
