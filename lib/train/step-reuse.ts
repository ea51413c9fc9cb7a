// Decides whether fit may recycle a training step's buffers: only when no user code can keep the step's tensors.
import { Module } from '../nn/module';
import { definitionOf } from '../nn/registry';
import { Optimizer } from '../optim/base';
import type { LossSpec } from './loss-spec';
import type { MetricFunction, MetricName } from './metrics';

/** True when m and its children are registered layers whose forward keeps no reference beyond the tape. */
function onlyBuiltInLayers(m: Module): boolean {
  const keeps = definitionOf(m)?.keepsNoTensors; // undefined for subclasses and patched forwards
  if (keeps === undefined || keeps === false) return false;
  for (const [, child] of m.children()) if (!onlyBuiltInLayers(child)) return false;
  return true;
}

/**
 * True when every tensor a training step creates is dropped by the end of the step, so fit may take
 * their buffers from the pool and reclaim them after the step: the model is made only of built-in
 * layers (a subclass or a patched forward could keep its activations), the loss and metrics are
 * built-in names (a user function receives the prediction and could keep it), and the optimizer is
 * one of ours. Everything else trains exactly the same, with fresh output buffers each step.
 */
export function stepBuffersReusable(
  model: unknown, optimizer: unknown, loss: LossSpec, metrics: ReadonlyArray<MetricName | 'loss' | MetricFunction>,
): boolean {
  if (!(model instanceof Module) || !onlyBuiltInLayers(model)) return false;
  if (!(optimizer instanceof Optimizer)) return false;
  if (typeof loss !== 'string') return false;
  return metrics.every((m) => typeof m === 'string');
}
