// One checked inference call: the model's plan, its weight snapshot, the input's rows and the output shape, all fixed at call time.
import type { Backend, FrozenPlan } from '../backend/contract';
import { Tensor, sizeOf } from '../tensor';
import { shapeInput, type InputShapeOptions } from './input';
import { buildPlan, checkAttached, type InferencePlan, type PlannableModel } from './plan';
import type { ModelPlan } from '../nn/plan';
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
  return prepareFromPlan(op, model, buildPlan(model), x, shapeOpts, backend);
}

/**
 * prepareCall for an nn.Module whose cached planner plan (planModel, the one predict runs) is one dense segment
 * from its first layer to its last, without building the plan again: buildPlan reads the model's whole config and
 * parameters, 17-41 us per call at batch 1024 (AMD EPYC Zen 4), where this reads the segment's layers as predict
 * does. Null when the plan is anything else (a Flatten or another layer before the first Linear, several segments):
 * the caller then uses prepareCall.
 */
export function prepareFromModelPlan(op: string, model: PlannableModel, plan: ModelPlan, x: unknown, shapeOpts: InputShapeOptions, backend: Backend): PreparedCall | null {
  const seg = plan.segments.length === 1 ? plan.segments[0] : null;
  if (seg === null || seg.kind !== 'dense' || seg.from !== 0 || seg.firstLinear !== 0 || seg.to !== plan.layers.length) return null;
  const d = seg.inference;
  const sources = d.denseSteps.map(({ layer }) => ({ weight: layer.weight, bias: layer.bias }));
  for (const { weight, bias } of sources) {
    for (const t of bias === null ? [weight] : [weight, bias]) {
      // A detached array: the error names the parameter as buildPlan does (looked up only then).
      if (t.data.length !== sizeOf(t.shape)) checkAttached(model.namedParameters().find(([, p]) => p === t)?.[0] ?? 'weight', t);
    }
  }
  const inference: InferencePlan = {
    layers: d.planLayers(), sources, softmax: d.endsInSoftmax, inFeatures: d.inFeatures, outFeatures: d.outFeatures, flattens: false,
  };
  return prepareFromPlan(op, model, inference, x, shapeOpts, backend);
}

function prepareFromPlan(op: string, model: PlannableModel, plan: InferencePlan, x: unknown, shapeOpts: InputShapeOptions, backend: Backend): PreparedCall {
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
