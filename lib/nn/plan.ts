// The planner: one pass over a chain of layers' inference roles decides fusion (Linear + activation) and whether the chain is a dense plan.
import type { FusedActivation, InferenceRole } from './registry';

/** What the planner made of a chain of layers. */
export interface ChainPlan {
  /** Per layer: the activation fused into it (a Linear right before a fusable activation), else null. */
  fused: (FusedActivation | null)[];
  /** The Linear layers' indices, in order: the dense steps of the chain's plan. */
  dense: number[];
  /** True when a final Softmax ends the plan. */
  softmax: boolean;
  /** Why the chain has no dense plan (the layer's index and the reason), or null when it has one. */
  problem: { at: number; reason: 'unsupported' | 'afterSoftmax' | 'unfusedActivation' | 'noLinear' } | null;
}

/**
 * Plans a chain from its layers' roles (null: the layer runs only through its forward). Fusion is local
 * (it holds whatever else is in the chain); the dense plan needs every layer to have a role, each
 * activation right after a Linear, and nothing after a Softmax.
 */
export function planChain(roles: readonly (InferenceRole | null)[]): ChainPlan {
  const fused = roles.map((r, i) => {
    const next = roles[i + 1];
    return r?.kind === 'linear' && next?.kind === 'activation' ? next.activation : null;
  });
  const dense: number[] = [];
  let softmax = false;
  let problem: ChainPlan['problem'] = null;
  for (let i = 0; i < roles.length && problem === null; i++) {
    const role = roles[i];
    if (softmax) problem = { at: i, reason: 'afterSoftmax' };
    else if (role === null) problem = { at: i, reason: 'unsupported' };
    else if (role.kind === 'linear') dense.push(i);
    else if (role.kind === 'softmax') softmax = true;
    else if (role.kind === 'activation' && fused[i - 1] !== role.activation) problem = { at: i, reason: 'unfusedActivation' };
  }
  if (problem === null && dense.length === 0) problem = { at: roles.length, reason: 'noLinear' };
  return { fused, dense, softmax, problem };
}
