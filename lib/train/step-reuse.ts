// Decides whether fit may recycle a training step's buffers: only when no user code can keep the step's tensors.
import { Module } from '../nn/module';
import { Sequential } from '../nn/sequential';
import { Linear } from '../nn/linear';
import { ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax } from '../nn/activations';
import { Dropout } from '../nn/dropout';
import { Flatten } from '../nn/flatten';
import { Optimizer } from '../optim/optimizer';
import type { LossSpec } from './losses';
import type { MetricFunction, MetricName } from './metrics';

/** Layer classes whose forward keeps no reference to its input or output beyond the autograd tape. */
const BUILT_IN_LAYERS: readonly object[] = [
  Sequential.prototype, Linear.prototype, ReLU.prototype, LeakyReLU.prototype, Sigmoid.prototype,
  Tanh.prototype, GELU.prototype, Softmax.prototype, Dropout.prototype, Flatten.prototype,
];

function onlyBuiltInLayers(m: Module): boolean {
  if (!BUILT_IN_LAYERS.includes(Object.getPrototypeOf(m) as object)) return false;
  if (Object.prototype.hasOwnProperty.call(m, 'forward')) return false; // forward patched on the instance
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
