// Weight snapshots for predictAsync: a backend-owned copy of a model's plan, made again only when a weight changed.
import type { Backend, FrozenPlan } from '../backend/contract';
import type { InferencePlan } from './plan';

/**
 * A frozen plan and what it was copied from: every layer's shape and activation, every weight and
 * bias array, and the tensors' write versions at that moment.
 */
interface Snapshot {
  backend: Backend;
  frozen: FrozenPlan;
  layers: { N: number; K: number; act: string; alpha: number }[];
  arrays: (Float32Array | null)[];
  versions: number[];
}

const snapshots = new WeakMap<object, Snapshot>();

function isCurrent(s: Snapshot, plan: InferencePlan, backend: Backend): boolean {
  if (s.backend !== backend || s.layers.length !== plan.layers.length) return false;
  for (let i = 0; i < plan.layers.length; i++) {
    const a = s.layers[i];
    const b = plan.layers[i];
    if (a.N !== b.N || a.K !== b.K || a.act !== b.act || !Object.is(a.alpha, b.alpha)) return false;
    const { weight, bias } = plan.sources[i];
    if (s.arrays[2 * i] !== weight.data || s.versions[2 * i] !== weight._version) return false;
    if (s.arrays[2 * i + 1] !== (bias === null ? null : bias.data)) return false;
    if (bias !== null && s.versions[2 * i + 1] !== bias._version) return false;
  }
  return true;
}

/**
 * The frozen copy of `plan` for `model` on `backend`: the cached one while no weight changed
 * (same arrays, same write versions, same layer shapes and activations), else a new copy made now.
 * Because the copy is taken synchronously, a pending predictAsync computes with the weights as they
 * were when it was called, whatever training or buffer transfers happen meanwhile.
 */
export function frozenPlanFor(model: object, plan: InferencePlan, backend: Backend): FrozenPlan {
  const cached = snapshots.get(model);
  if (cached !== undefined && isCurrent(cached, plan, backend)) return cached.frozen;
  const frozen = backend.freezePlan(plan.layers);
  const arrays: (Float32Array | null)[] = [];
  const versions: number[] = [];
  for (const { weight, bias } of plan.sources) {
    arrays.push(weight.data, bias === null ? null : bias.data);
    versions.push(weight._version, bias === null ? 0 : bias._version);
  }
  snapshots.set(model, {
    backend,
    frozen,
    layers: plan.layers.map(({ N, K, act, alpha }) => ({ N, K, act, alpha })),
    arrays,
    versions,
  });
  return frozen;
}
