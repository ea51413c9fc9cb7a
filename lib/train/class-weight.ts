// fit's classWeight option: per-class weights (an object, an array, or 'balanced' like scikit-learn) and the class-weighted training loss they give.
import { Tensor } from '../tensor';
import { mul } from '../ops/elementwise';
import { crossEntropy, bceWithLogits } from '../nn/losses';
import { describe } from '../validate';
import type { BatchTarget } from './metrics';
import type { LossFunction, LossSpec } from './loss-spec';

/** Weights by class index: { 0: 1, 1: 5 } (missing classes weigh 1), [1, 5], or 'balanced'. */
export type ClassWeight = Readonly<Record<number, number>> | readonly number[] | Float32Array | 'balanced';

/**
 * The weight of every class 0..classes-1. 'balanced' is scikit-learn's n / (k * count(c)) over the
 * k classes present in `labels`; a class absent from the labels weighs 1 (it then matters only
 * through label smoothing). Weights must be finite and >= 0.
 */
export function resolveClassWeight(op: string, spec: ClassWeight, labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(classes).fill(1);
  const check = (where: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new Error(`${op}: classWeight${where} must be a finite number >= 0, got ${describe(v)}`);
    }
    return v;
  };
  if (spec === 'balanced') {
    const counts = new Float64Array(classes);
    for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
    const present = counts.filter((c) => c > 0).length;
    for (let c = 0; c < classes; c++) if (counts[c] > 0) out[c] = labels.length / (present * counts[c]);
    return out;
  }
  if (Array.isArray(spec) || spec instanceof Float32Array) {
    if (spec.length !== classes) {
      throw new Error(`${op}: classWeight has ${spec.length} weights, the model has ${classes} classes (one weight per class)`);
    }
    for (let c = 0; c < classes; c++) out[c] = check(`[${c}]`, spec[c]);
    return out;
  }
  if (spec === null || typeof spec !== 'object') {
    throw new Error(
      `${op}: classWeight must be an object { class: weight }, an array of ${classes} weights or 'balanced', got ${describe(spec)}`,
    );
  }
  for (const [key, v] of Object.entries(spec)) {
    const c = Number(key);
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new Error(`${op}: classWeight has a weight for class '${key}', the classes are 0..${classes - 1}`);
    }
    out[c] = check(`[${key}]`, v);
  }
  return out;
}

/** The training loss with class weights, and the total weight of a batch (its rows when unweighted). */
export interface WeightedLoss {
  fn: LossFunction;
  /** What the batch's loss is a mean over: the epoch loss is sum(loss * weight) / sum(weight). */
  batchWeight(target: BatchTarget, rows: number): number;
}

/**
 * fit's class-weighted loss: crossEntropy with `weight` (its mean is sum_i w_{y_i} l_i / sum_i w_{y_i},
 * as in PyTorch), or bceWithLogits with each row weighted by its label's class, normalised the same way.
 */
export function classWeightedLoss(op: string, loss: LossSpec, weights: Float32Array): WeightedLoss {
  const batchWeight = (target: BatchTarget, rows: number): number => {
    let s = 0;
    for (let i = 0; i < rows; i++) s += weights[(target as Int32Array)[i]];
    if (!(s > 0)) {
      throw new Error(`${op}: every row of a batch has classWeight 0, so its weighted mean loss is undefined (give those classes a weight > 0)`);
    }
    return s;
  };
  if (loss === 'crossEntropy') {
    return {
      fn: (pred, target) => {
        batchWeight(target, (target as Int32Array).length);
        return crossEntropy(pred, target as Int32Array, { weight: weights });
      },
      batchWeight,
    };
  }
  if (loss === 'bceWithLogits') {
    return {
      fn: (pred, target) => {
        const labels = target as Int32Array;
        const t = new Float32Array(labels.length);
        const w = new Float32Array(labels.length);
        for (let i = 0; i < labels.length; i++) {
          t[i] = labels[i];
          w[i] = weights[labels[i]];
        }
        if (pred.size !== labels.length) {
          throw new Error(`${op}: loss 'bceWithLogits' with classWeight needs one output per row, the model gives [${pred.shape.join(',')}]`);
        }
        const total = bceWithLogits(pred, new Tensor(t, pred.shape), { weight: w, reduction: 'sum' });
        return mul(total, 1 / batchWeight(labels, labels.length));
      },
      batchWeight,
    };
  }
  throw new Error(
    `${op}: classWeight works with loss 'crossEntropy' or 'bceWithLogits' and integer labels, got loss ${typeof loss === 'function' ? 'a function' : `'${String(loss)}'`}`,
  );
}

/**
 * The loss fit trains with: `lossFn` unchanged without classWeight (each batch weighs its row
 * count), else the class-weighted loss. `classes` is the model's output width.
 */
export function trainingLoss(
  op: string, lossName: LossSpec, lossFn: LossFunction, classWeight: ClassWeight | undefined, labels: Int32Array | null, classes: number,
): WeightedLoss {
  if (classWeight === undefined) return { fn: lossFn, batchWeight: (_target, rows) => rows };
  if (labels === null) {
    throw new Error(`${op}: classWeight needs integer class labels (an Int32Array or number[] y), got float targets`);
  }
  const weights = resolveClassWeight(op, classWeight, labels, lossName === 'bceWithLogits' ? 2 : classes);
  return classWeightedLoss(op, lossName, weights);
}
