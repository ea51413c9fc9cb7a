// Maps fit()'s `loss` option (a name or a function) to a (pred, batch target) => scalar Tensor function.
import { Tensor } from '../tensor';
import { crossEntropy, mseLoss, bceWithLogits, huberLoss, l1Loss } from '../nn/losses';
import type { BatchTarget } from './metrics';
import type { PreparedData } from './prepared';

/** Loss names fit() knows. */
export type LossName = 'crossEntropy' | 'mse' | 'bceWithLogits' | 'huber' | 'l1';

/** A user loss: returns a scalar Tensor (mean over the batch) that backward() can start from. */
export type LossFunction = (pred: Tensor, target: BatchTarget) => Tensor;

export type LossSpec = LossName | LossFunction;

/** crossEntropy for integer labels, mse for float targets. */
export function defaultLossName(d: PreparedData): LossName {
  return d.labels !== null ? 'crossEntropy' : 'mse';
}

/** Integer labels as a float [rows, 1] tensor (for a single-output model trained on 0/1 labels). */
function labelsAsColumn(labels: Int32Array): Tensor {
  const t = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i++) t[i] = labels[i];
  return new Tensor(t, [labels.length, 1]);
}

/** Float targets reshaped to the prediction's shape when they hold the same number of values. */
function floatTarget(op: string, name: string, pred: Tensor, target: BatchTarget): Tensor {
  const t = target instanceof Int32Array ? labelsAsColumn(target) : target;
  if (t.size === pred.size && (t.ndim !== pred.ndim || t.shape.some((d, i) => d !== pred.shape[i]))) {
    return new Tensor(t.data, pred.shape);
  }
  if (t.size !== pred.size) {
    throw new Error(
      `${op}: loss '${name}': model output [${pred.shape.join(',')}] and target [${t.shape.join(',')}] differ in size`,
    );
  }
  return t;
}

/** Resolves a loss spec against the data it will be used with; `op` names the caller in errors. */
export function resolveLoss(spec: LossSpec, d: PreparedData, op: string): LossFunction {
  if (typeof spec === 'function') return spec;
  switch (spec) {
    case 'crossEntropy':
      return (pred, target) => crossEntropy(pred, target);
    case 'mse':
      if (d.labels !== null) {
        throw new Error(`${op}: loss 'mse' needs float targets (a Tensor or Float32Array y), got integer class labels`);
      }
      return (pred, target) => mseLoss(pred, floatTarget(op, 'mse', pred, target));
    case 'huber':
    case 'l1': {
      if (d.labels !== null) {
        throw new Error(`${op}: loss '${spec}' needs float targets (a Tensor or Float32Array y), got integer class labels`);
      }
      const fn = spec === 'huber' ? huberLoss : l1Loss;
      return (pred, target) => fn(pred, floatTarget(op, spec, pred, target));
    }
    case 'bceWithLogits':
      return (pred, target) => bceWithLogits(pred, floatTarget(op, 'bceWithLogits', pred, target));
    default:
      throw new Error(
        `${op}: unknown loss '${String(spec)}' (known: 'crossEntropy', 'mse', 'bceWithLogits', 'huber', 'l1', or a function (pred, target) => Tensor)`,
      );
  }
}
