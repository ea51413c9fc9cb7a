// Loss functions: cross-entropy (fused kernel for integer labels), MSE, BCE with logits, Huber.
import { getBackend } from '../backend/select';
import { needsGrad, record } from '../autograd';
import { Tensor, shapeToString } from '../tensor';
import { logSoftmax } from '../ops/activation';
import { mul, neg, pow, sub } from '../ops/elementwise';
import { mean, sum } from '../ops/reduce';
import { gradBuffer, outputBuffer, privateBuffer, releaseAfterBackward, releasePrivate } from '../buffer-pool';
import { checkNumber, checkOneOf, checkOptions, checkTensor, describe, invalid } from '../validate';

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  /** 'mean' (default): average over elements (rows for crossEntropy); 'sum'; 'none': per element / per row. */
  reduction?: Reduction;
}

const REDUCTIONS = ['mean', 'sum', 'none'] as const;
const LOSS_OPTIONS = ['reduction'] as const;
const HUBER_OPTIONS = ['reduction', 'delta'] as const;

/** The checked reduction of a loss's options (which may hold only the listed keys). */
function reductionOf(op: string, opts: LossOptions, keys: readonly string[] = LOSS_OPTIONS): Reduction {
  const o = checkOptions(op, opts, keys);
  return o.reduction === undefined ? 'mean' : checkOneOf(op, 'reduction', o.reduction, REDUCTIONS);
}

function reduceLoss(perElement: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return perElement;
  return reduction === 'sum' ? sum(perElement) : mean(perElement);
}

function checkSameShape(op: string, a: Tensor, b: Tensor, names: [string, string]): void {
  checkTensor(op, names[0], a);
  checkTensor(op, names[1], b);
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: ${names[0]} shape ${shapeToString(a.shape)} does not match ${names[1]} shape ${shapeToString(b.shape)}`);
  }
}

/** Integer class labels from an Int32Array, a number[] or a 1-D tensor of whole numbers. */
function labelsOf(op: string, labels: Int32Array | readonly number[] | Tensor, M: number, N: number, logitsShape: number[]): Int32Array {
  if (!(labels instanceof Tensor) && !(labels instanceof Int32Array) && !Array.isArray(labels)) {
    invalid(op, 'target', `class labels (an Int32Array, number[] or 1-D Tensor of length ${M}) or probabilities (a Tensor [${M},${N}])`, labels);
  }
  const src: ArrayLike<number> = labels instanceof Tensor ? labels.data : labels;
  if (src.length !== M) {
    throw new Error(`${op}: ${src.length} labels for ${M} rows (logits ${shapeToString(logitsShape)})`);
  }
  const out = labels instanceof Int32Array ? labels : new Int32Array(M);
  for (let i = 0; i < M; i++) {
    const v = src[i];
    if (!Number.isInteger(v) || v < 0 || v >= N) {
      throw new Error(`${op}: label ${describe(v)} at row ${i} is out of range [0, ${N}) (expected an integer class index)`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Cross-entropy between logits [M, N] (unnormalised scores) and either integer class labels
 * (Int32Array | number[] | 1-D Tensor of length M; uses the fused softmax-cross-entropy kernel) or
 * target probabilities / one-hot rows (a Tensor [M, N]).
 */
export function crossEntropy(logits: Tensor, target: Int32Array | readonly number[] | Tensor, opts: LossOptions = {}): Tensor {
  const reduction = reductionOf('crossEntropy', opts);
  checkTensor('crossEntropy', 'logits', logits);
  if (logits.ndim !== 2) {
    throw new Error(`crossEntropy: logits must be 2-D [rows, classes], got ${shapeToString(logits.shape)}`);
  }
  const [M, N] = logits.shape;
  if (target instanceof Tensor && target.ndim === 2) {
    checkSameShape('crossEntropy', logits, target, ['logits', 'target']);
    // Soft targets: -sum_j t_ij log softmax(x)_ij per row.
    const perRow = neg(sum(mul(target, logSoftmax(logits)), 1));
    return reduceLoss(perRow, reduction);
  }
  if (target instanceof Tensor && target.ndim !== 1) {
    throw new Error(
      `crossEntropy: target must be labels [${M}] or probabilities [${M},${N}], got ${shapeToString(target.shape)}`,
    );
  }
  const labels = labelsOf('crossEntropy', target, M, N, logits.shape);
  const backend = getBackend();
  const wantGrad = needsGrad(logits);
  // (softmax - onehot) / M, kept for the backward closure only.
  const grad = wantGrad && M > 0 ? privateBuffer(M * N) : null;
  const losses = reduction === 'none' ? outputBuffer(M) : null;
  const meanLoss = M > 0 ? backend.softmaxCrossEntropy(M, N, logits.data, labels, grad, losses) : NaN;

  if (reduction === 'none') {
    return record(new Tensor(losses as Float32Array, [M]), 'crossEntropy', [logits], (g) => {
      // Row i of d(loss_i)/d(logits) is M * grad[i]; scale each row by its upstream gradient.
      const dx = gradBuffer(M * N);
      const gr = grad as Float32Array;
      for (let i = 0; i < M; i++) backend.scale(N, gr.subarray(i * N, (i + 1) * N), g[i] * M, dx.subarray(i * N, (i + 1) * N));
      releaseAfterBackward(grad);
      return [dx];
    });
  }
  const scale = reduction === 'sum' ? M : 1;
  const value = outputBuffer(1);
  value[0] = meanLoss * scale;
  return record(new Tensor(value, []), 'crossEntropy', [logits], (g) => {
    const dx = gradBuffer(M * N);
    if (M > 0) backend.scale(M * N, grad as Float32Array, g[0] * scale, dx);
    releaseAfterBackward(grad);
    return [dx];
  });
}

/** Mean squared error between pred and target (same shape). */
export function mseLoss(pred: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const reduction = reductionOf('mseLoss', opts);
  checkSameShape('mseLoss', pred, target, ['prediction', 'target']);
  if (reduction === 'none') return pow(sub(pred, target), 2);
  const backend = getBackend();
  const n = pred.size;
  const scale = reduction === 'sum' ? n : 1;
  const value = outputBuffer(1);
  value[0] = n > 0 ? backend.mseLoss(n, pred.data, target.data) * scale : NaN;
  return record(new Tensor(value, []), 'mseLoss', [pred, target], (g) => {
    const dp = gradBuffer(n); // 2 (pred - target) / n
    if (n > 0) {
      backend.mseBackward(n, pred.data, target.data, dp);
      backend.scale(n, dp, g[0] * scale, dp);
    }
    let dt: Float32Array | null = null;
    if (target.requiresGrad) {
      dt = gradBuffer(n);
      if (n > 0) backend.scale(n, dp, -1, dt);
    }
    return [pred.requiresGrad ? dp : null, dt];
  });
}

/**
 * Binary cross-entropy on logits (numerically stable): max(x,0) - x*y + log(1 + exp(-|x|)).
 * targets are probabilities in [0, 1] with the same shape as logits.
 */
export function bceWithLogits(logits: Tensor, targets: Tensor, opts: LossOptions = {}): Tensor {
  const reduction = reductionOf('bceWithLogits', opts);
  checkSameShape('bceWithLogits', logits, targets, ['logits', 'targets']);
  const n = logits.size;
  const x = logits.data;
  const y = targets.data;
  // Elementwise loss and its derivative sigmoid(x) - y; O(n) work with no matching kernel.
  const loss = outputBuffer(n);
  const dLogit = privateBuffer(n);
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const e = Math.exp(-Math.abs(xi));
    loss[i] = Math.max(xi, 0) - xi * y[i] + Math.log1p(e);
    const sig = xi >= 0 ? 1 / (1 + e) : e / (1 + e);
    dLogit[i] = sig - y[i];
  }
  const perElement = record(new Tensor(loss, logits.shape), 'bceWithLogits', [logits, targets], (g) => {
    const backend = getBackend();
    let dx: Float32Array | null = null;
    let dy: Float32Array | null = null;
    if (logits.requiresGrad) {
      dx = gradBuffer(n);
      if (n > 0) backend.mul(n, g, dLogit, dx);
    }
    if (targets.requiresGrad) {
      // d/dy = -x
      dy = gradBuffer(n);
      if (n > 0) {
        backend.mul(n, g, x, dy);
        backend.scale(n, dy, -1, dy);
      }
    }
    releaseAfterBackward(dLogit);
    return [dx, dy];
  });
  if (perElement._node === null) releasePrivate(dLogit);
  return reduceLoss(perElement, reduction);
}

/**
 * Huber loss (smooth L1 scaled like PyTorch's HuberLoss): 0.5 d^2 where |d| <= delta,
 * delta (|d| - 0.5 delta) elsewhere, with d = pred - target.
 */
export function huberLoss(pred: Tensor, target: Tensor, opts: LossOptions & { delta?: number } = {}): Tensor {
  const reduction = reductionOf('huberLoss', opts, HUBER_OPTIONS);
  const delta = opts.delta === undefined ? 1 : checkNumber('huberLoss', 'delta', opts.delta, { above: 0 });
  checkSameShape('huberLoss', pred, target, ['prediction', 'target']);
  const n = pred.size;
  const loss = outputBuffer(n);
  const dPred = privateBuffer(n);
  for (let i = 0; i < n; i++) {
    const d = pred.data[i] - target.data[i];
    const a = Math.abs(d);
    if (a <= delta) {
      loss[i] = 0.5 * d * d;
      dPred[i] = d;
    } else {
      loss[i] = delta * (a - 0.5 * delta);
      dPred[i] = d > 0 ? delta : -delta;
    }
  }
  const perElement = record(new Tensor(loss, pred.shape), 'huberLoss', [pred, target], (g) => {
    const backend = getBackend();
    const dp = gradBuffer(n);
    let dt: Float32Array | null = null;
    if (n > 0) backend.mul(n, g, dPred, dp);
    if (target.requiresGrad) {
      dt = gradBuffer(n);
      if (n > 0) backend.scale(n, dp, -1, dt);
    }
    releaseAfterBackward(dPred);
    return [pred.requiresGrad ? dp : null, dt];
  });
  if (perElement._node === null) releasePrivate(dPred);
  return reduceLoss(perElement, reduction);
}
