// Loss functions: cross-entropy (fused kernel for integer labels; class weights, label smoothing), MSE, BCE with logits (posWeight, weight), L1, Huber.
import { getBackend } from '../backend/select';
import { needsGrad, record } from '../autograd';
import { Tensor, shapeToString } from '../tensor';
import { logSoftmax } from '../ops/activation';
import { mul, neg, pow, sub } from '../ops/elementwise';
import { mean, sum } from '../ops/reduce';
import { gradBuffer, outputBuffer, privateBuffer, releaseAfterBackward, releasePrivate } from '../buffer-pool';
import { checkNumber, checkOneOf, checkOptions, checkTensor, describe, invalid } from '../validate';

/** How a loss reduces its per-element values: 'mean' (default), 'sum' or 'none'. */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options of the loss functions: reduction ('mean' default, 'sum', 'none'). */
export interface LossOptions {
  /** 'mean' (default): average over elements (rows for crossEntropy); 'sum'; 'none': per element / per row. */
  reduction?: Reduction;
}

const REDUCTIONS = ['mean', 'sum', 'none'] as const;
const LOSS_OPTIONS = ['reduction'] as const;
const HUBER_OPTIONS = ['reduction', 'delta'] as const;
const CROSS_ENTROPY_OPTIONS = ['reduction', 'weight', 'labelSmoothing'] as const;
const BCE_OPTIONS = ['reduction', 'posWeight', 'weight'] as const;

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

/** Options of crossEntropy: the reduction, per-class weights and label smoothing (PyTorch's CrossEntropyLoss). */
export interface CrossEntropyOptions extends LossOptions {
  /**
   * A weight per class (length = classes, finite, >= 0). Row i's loss is scaled by the weight of
   * its class, and 'mean' divides by the sum of those weights (not the row count), as PyTorch does.
   * With probability targets each class term is scaled and 'mean' divides by the row count.
   */
  weight?: Float32Array | readonly number[] | Tensor;
  /** epsilon in [0, 1]: the target becomes (1 - epsilon) * target + epsilon / classes. Default 0. */
  labelSmoothing?: number;
}

/** A per-class (or per-column) weight vector of length n, as float64; `what` names it in errors. */
function weightVector(op: string, what: string, w: unknown, n: number, of: string): Float64Array {
  let src: ArrayLike<number>;
  if (w instanceof Tensor) src = w.data;
  else if (w instanceof Float32Array || w instanceof Float64Array || Array.isArray(w)) src = w as ArrayLike<number>;
  else invalid(op, what, `a Float32Array, number[] or Tensor of ${n} values (${of})`, w);
  if (src.length !== n) throw new Error(`${op}: ${what} has ${src.length} values, expected ${n} (${of})`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = src[i];
    out[i] = checkNumber(op, `${what}[${i}]`, v, { min: 0 });
  }
  return out;
}

/**
 * Cross-entropy between logits [M, N] (unnormalised scores) and either integer class labels
 * (Int32Array | number[] | 1-D Tensor of length M; uses the fused softmax-cross-entropy kernel) or
 * target probabilities / one-hot rows (a Tensor [M, N]). `weight` and `labelSmoothing` follow
 * PyTorch's CrossEntropyLoss.
 * @param logits unnormalised scores, [rows, classes].
 * @param target class labels (Int32Array, number[] or a 1-D Tensor of length rows) or target probabilities (a Tensor [rows, classes]).
 * @param opts reduction ('mean' default, 'sum', 'none'), weight (per class), labelSmoothing (in [0, 1], default 0).
 * @returns a 0-d tensor (or per-row losses with reduction 'none').
 * @throws Error when logits is not a 2-D Tensor, a label is not an integer class index, target rows or shape do not match logits, weight has the wrong length, or an option is unknown or out of range.
 * @example crossEntropy(tensor([[2, 0], [0, 2]]), [0, 1]) // 0.127
 */
export function crossEntropy(
  logits: Tensor, target: Int32Array | readonly number[] | Tensor, opts: CrossEntropyOptions = {},
): Tensor {
  const reduction = reductionOf('crossEntropy', opts, CROSS_ENTROPY_OPTIONS);
  checkTensor('crossEntropy', 'logits', logits);
  if (logits.ndim !== 2) {
    throw new Error(`crossEntropy: logits must be 2-D [rows, classes], got ${shapeToString(logits.shape)}`);
  }
  const [M, N] = logits.shape;
  const weight = opts.weight === undefined ? null : weightVector('crossEntropy', 'weight', opts.weight, N, `one per class of logits ${shapeToString(logits.shape)}`);
  const smoothing = opts.labelSmoothing === undefined ? 0 : checkNumber('crossEntropy', 'labelSmoothing', opts.labelSmoothing, { min: 0, max: 1 });
  const soft = target instanceof Tensor && target.ndim === 2;
  if (soft) checkSameShape('crossEntropy', logits, target, ['logits', 'target']);
  if (target instanceof Tensor && target.ndim !== 1 && !soft) {
    throw new Error(
      `crossEntropy: target must be labels [${M}] or probabilities [${M},${N}], got ${shapeToString(target.shape)}`,
    );
  }
  if (weight !== null || smoothing > 0) {
    const labels = soft ? null : labelsOf('crossEntropy', target, M, N, logits.shape);
    return weightedCrossEntropy(logits, labels, soft ? (target as Tensor) : null, weight, smoothing, reduction);
  }
  if (soft) {
    // Soft targets: -sum_j t_ij log softmax(x)_ij per row.
    const perRow = neg(sum(mul(target as Tensor, logSoftmax(logits)), 1));
    return reduceLoss(perRow, reduction);
  }
  const labels = labelsOf('crossEntropy', target, M, N, logits.shape);
  const backend = getBackend();
  const wantGrad = needsGrad(logits);
  // (softmax - onehot) / M, kept for the backward closure only.
  const grad = wantGrad && M > 0 ? privateBuffer(M * N) : null;
  const losses = reduction === 'none' ? outputBuffer(M) : null;
  const meanLoss = M > 0 ? backend.softmaxCrossEntropy({ M, N, logits: logits.data, labels, grad, losses }) : NaN;

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

/**
 * Cross-entropy with class weights w and label smoothing e, as PyTorch computes it. Row i's loss is
 * -sum_c a_ic log p_ic with coefficients a_ic: for a label y_i, (1 - e) w_{y_i} [c = y_i] + (e / N) w_c;
 * for target probabilities t_i, w_c ((1 - e) t_ic + e / N). 'mean' divides the sum by sum_i w_{y_i}
 * for labels and by M for probabilities. d loss_i / d x_ic = (sum_c a_ic) p_ic - a_ic.
 */
function weightedCrossEntropy(
  logits: Tensor, labels: Int32Array | null, soft: Tensor | null, weight: Float64Array | null, e: number, reduction: Reduction,
): Tensor {
  const [M, N] = logits.shape;
  const x = logits.data;
  const w = (c: number): number => (weight === null ? 1 : weight[c]);
  const wantGrad = needsGrad(logits);
  const targetGrad = soft !== null && needsGrad(soft);
  const grad = wantGrad && M * N > 0 ? privateBuffer(M * N) : null; // (sum_c a_ic) p_ic - a_ic
  const logp = targetGrad ? new Float64Array(M * N) : null;
  const perRow = new Float64Array(M);
  const a = new Float64Array(N);
  let denominator = 0;
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let max = -Infinity;
    for (let c = 0; c < N; c++) if (x[o + c] > max) max = x[o + c];
    let s = 0;
    for (let c = 0; c < N; c++) s += Math.exp(x[o + c] - max);
    const lse = max + Math.log(s);
    let aSum = 0;
    for (let c = 0; c < N; c++) {
      a[c] = soft !== null ? w(c) * ((1 - e) * soft.data[o + c] + e / N) : (e / N) * w(c);
      if (labels !== null && c === labels[i]) a[c] += (1 - e) * w(c);
      aSum += a[c];
    }
    let loss = 0;
    for (let c = 0; c < N; c++) {
      const lp = x[o + c] - lse;
      if (a[c] !== 0) loss -= a[c] * lp;
      if (logp !== null) logp[o + c] = lp;
      if (grad !== null) grad[o + c] = aSum * Math.exp(lp) - a[c];
    }
    perRow[i] = loss;
    denominator += labels !== null ? w(labels[i]) : 1;
  }
  const inputs = soft !== null ? [logits, soft] : [logits];
  const targetGradOf = (scaleRow: (i: number) => number): Float32Array => {
    const dt = gradBuffer(M * N);
    for (let i = 0; i < M; i++) {
      const f = scaleRow(i);
      for (let c = 0; c < N; c++) dt[i * N + c] = -f * w(c) * (1 - e) * (logp as Float64Array)[i * N + c];
    }
    return dt;
  };
  const logitGradOf = (scaleRow: (i: number) => number): Float32Array => {
    const dx = gradBuffer(M * N);
    const gr = grad as Float32Array;
    for (let i = 0; i < M; i++) {
      const f = scaleRow(i);
      for (let c = 0; c < N; c++) dx[i * N + c] = gr[i * N + c] * f;
    }
    return dx;
  };
  const backward = (scaleRow: (i: number) => number): (Float32Array | null)[] => {
    const out = [wantGrad && logits.requiresGrad ? logitGradOf(scaleRow) : null];
    if (soft !== null) out.push(targetGrad && soft.requiresGrad ? targetGradOf(scaleRow) : null);
    releaseAfterBackward(grad);
    return out;
  };
  if (reduction === 'none') {
    const value = outputBuffer(M);
    for (let i = 0; i < M; i++) value[i] = perRow[i];
    const t = record(new Tensor(value, [M]), 'crossEntropy', inputs, (g) => backward((i) => g[i]));
    if (t._node === null) releasePrivate(grad);
    return t;
  }
  let total = 0;
  for (let i = 0; i < M; i++) total += perRow[i];
  const divide = reduction === 'mean' ? denominator : 1;
  const value = outputBuffer(1);
  value[0] = M > 0 ? total / divide : NaN;
  const t = record(new Tensor(value, []), 'crossEntropy', inputs, (g) => backward(() => g[0] / divide));
  if (t._node === null) releasePrivate(grad);
  return t;
}

/**
 * Mean squared error between pred and target (same shape).
 * @param pred the predictions.
 * @param target the targets, of pred's shape.
 * @param opts reduction: 'mean' (default), 'sum' or 'none'.
 * @returns a 0-d tensor (or per-element losses with reduction 'none').
 * @throws Error when pred or target is not a Tensor, the shapes differ, or an option is unknown.
 * @example mseLoss(tensor([1, 2]), tensor([1, 4])) // 2
 */
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

/** Options of bceWithLogits: the reduction, a weight for positive targets, and per-element weights (PyTorch's BCEWithLogitsLoss). */
export interface BceWithLogitsOptions extends LossOptions {
  /**
   * Weight of the positive term: one number, or one per output column (length = the last
   * dimension). Above 1 raises recall (e.g. negatives / positives for an imbalanced set).
   */
  posWeight?: number | Float32Array | readonly number[] | Tensor;
  /** Rescales each element's loss: as many values as logits, or one per output column. 'mean' still divides by the element count. */
  weight?: Float32Array | readonly number[] | Tensor;
}

/** A weight per element of a [..., C] tensor of n elements: a number, C values (per column) or n values; null when absent. */
function elementWeights(op: string, what: string, w: unknown, n: number, shape: number[], allowNumber: boolean): ((i: number) => number) | null {
  if (w === undefined) return null;
  if (allowNumber && typeof w === 'number') {
    checkNumber(op, what, w, { min: 0 });
    return () => w;
  }
  const C = shape.length === 0 ? 1 : shape[shape.length - 1];
  const len = w instanceof Tensor ? w.size : ArrayBuffer.isView(w) || Array.isArray(w) ? (w as ArrayLike<number>).length : -1;
  const per = len === n ? n : C;
  const v = weightVector(op, what, w, per, `${allowNumber ? 'a number, ' : ''}one per column (${C}) or one per element (${n}) of logits ${shapeToString(shape)}`);
  return per === n ? (i) => v[i] : (i) => v[i % C];
}

/**
 * Binary cross-entropy on logits x with targets y in [0, 1] (same shape), numerically stable:
 * w * ((1 - y) x + (1 + (p - 1) y) softplus(-x)), which for posWeight p = 1 and weight w = 1 is
 * max(x,0) - x*y + log(1 + exp(-|x|)).
 * @param logits unnormalised scores.
 * @param targets values in [0, 1], of logits' shape.
 * @param opts reduction ('mean' default, 'sum', 'none'), posWeight (the weight of positive targets, per last-dim column or one number; default 1), weight (per element, broadcast; default 1).
 * @returns a 0-d tensor (or per-element losses with reduction 'none').
 * @throws Error when logits or targets is not a Tensor, the shapes differ, or an option is unknown or of the wrong shape.
 * @example bceWithLogits(tensor([0]), tensor([1])) // 0.693
 */
export function bceWithLogits(logits: Tensor, targets: Tensor, opts: BceWithLogitsOptions = {}): Tensor {
  const reduction = reductionOf('bceWithLogits', opts, BCE_OPTIONS);
  checkSameShape('bceWithLogits', logits, targets, ['logits', 'targets']);
  const n = logits.size;
  const posWeight = elementWeights('bceWithLogits', 'posWeight', opts.posWeight, n, logits.shape, true);
  const weight = elementWeights('bceWithLogits', 'weight', opts.weight, n, logits.shape, false);
  const x = logits.data;
  const y = targets.data;
  // Elementwise loss and its derivatives in x and y; O(n) work with no matching kernel.
  const loss = outputBuffer(n);
  const dLogit = privateBuffer(n);
  const dTarget = targets.requiresGrad ? privateBuffer(n) : null;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    const e = Math.exp(-Math.abs(xi));
    const softplusNeg = Math.log1p(e) + Math.max(-xi, 0); // log(1 + exp(-x))
    const sig = xi >= 0 ? 1 / (1 + e) : e / (1 + e);
    const p = posWeight === null ? 1 : posWeight(i);
    const w = weight === null ? 1 : weight(i);
    const k = 1 + (p - 1) * yi;
    loss[i] = w * ((1 - yi) * xi + k * softplusNeg);
    dLogit[i] = w * (k * sig - p * yi);
    if (dTarget !== null) dTarget[i] = w * ((p - 1) * softplusNeg - xi);
  }
  const perElement = recordPointwiseLoss('bceWithLogits', loss, logits.shape, [logits, targets], dLogit, dTarget);
  return reduceLoss(perElement, reduction);
}

/**
 * Records a pointwise loss `values` over inputs [a, b] whose gradients are g * da (a) and g * db (b:
 * db an array, 'negated' for -da, or null for none). da and db are private buffers: released after
 * the backward pass, or at once when nothing was recorded.
 */
function recordPointwiseLoss(
  op: string, values: Float32Array, shape: number[], inputs: [Tensor, Tensor], da: Float32Array, db: Float32Array | 'negated' | null,
): Tensor {
  const [a, b] = inputs;
  const out = record(new Tensor(values, shape), op, inputs, (g) => {
    const backend = getBackend();
    const n = g.length;
    const times = (d: Float32Array, negate: boolean): Float32Array => {
      const r = gradBuffer(n);
      if (n > 0) backend.mul(n, g, d, r);
      if (n > 0 && negate) backend.scale(n, r, -1, r);
      return r;
    };
    const ga = a.requiresGrad ? times(da, false) : null;
    const gb = db === null || !b.requiresGrad ? null : db === 'negated' ? times(da, true) : times(db, false);
    releaseAfterBackward(da);
    if (db instanceof Float32Array) releaseAfterBackward(db);
    return [ga, gb];
  });
  if (out._node === null) {
    releasePrivate(da);
    if (db instanceof Float32Array) releasePrivate(db);
  }
  return out;
}

/** A loss of d = pred - target elementwise: lossAt(d) per element, slopeAt(d) its derivative in pred (minus it in target). */
function differenceLoss(op: string, pred: Tensor, target: Tensor, lossAt: (d: number) => number, slopeAt: (d: number) => number): Tensor {
  checkSameShape(op, pred, target, ['prediction', 'target']);
  const n = pred.size;
  const loss = outputBuffer(n);
  const slope = privateBuffer(n);
  for (let i = 0; i < n; i++) {
    const d = pred.data[i] - target.data[i];
    loss[i] = lossAt(d);
    slope[i] = slopeAt(d);
  }
  return recordPointwiseLoss(op, loss, pred.shape, [pred, target], slope, 'negated');
}

/**
 * Mean absolute error (L1) between pred and target (same shape); the gradient at pred = target is 0, as in PyTorch.
 * @param pred the predictions.
 * @param target the targets, of pred's shape.
 * @param opts reduction: 'mean' (default), 'sum' or 'none'.
 * @throws Error when pred or target is not a Tensor, the shapes differ, or an option is unknown.
 * @example l1Loss(tensor([1, 2]), tensor([1, 4])) // 1
 */
export function l1Loss(pred: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const reduction = reductionOf('l1Loss', opts);
  const perElement = differenceLoss('l1Loss', pred, target, Math.abs, (d) => (d > 0 ? 1 : d < 0 ? -1 : 0));
  return reduceLoss(perElement, reduction);
}

/**
 * Huber loss (smooth L1 scaled like PyTorch's HuberLoss): 0.5 d^2 where |d| <= delta,
 * delta (|d| - 0.5 delta) elsewhere, with d = pred - target.
 * @param pred the predictions.
 * @param target the targets, of pred's shape.
 * @param opts reduction ('mean' default, 'sum', 'none'), delta (where the loss turns linear, > 0, default 1).
 * @throws Error when pred or target is not a Tensor, the shapes differ, an option is unknown, or delta is not above 0.
 * @example huberLoss(tensor([0]), tensor([3])) // 2.5
 */
export function huberLoss(pred: Tensor, target: Tensor, opts: LossOptions & { delta?: number } = {}): Tensor {
  const reduction = reductionOf('huberLoss', opts, HUBER_OPTIONS);
  const delta = opts.delta === undefined ? 1 : checkNumber('huberLoss', 'delta', opts.delta, { above: 0 });
  const perElement = differenceLoss(
    'huberLoss', pred, target,
    (d) => (Math.abs(d) <= delta ? 0.5 * d * d : delta * (Math.abs(d) - 0.5 * delta)),
    (d) => (Math.abs(d) <= delta ? d : d > 0 ? delta : -delta),
  );
  return reduceLoss(perElement, reduction);
}
