// Normalisation ops: batchNorm (batch or running statistics) and groupNorm, each a kernel call forward and one backward.
import { getBackend } from '../backend/select';
import { isTracing, record } from '../autograd';
import { Tensor, shapeToString } from '../tensor-core';
import { gradBuffer, outputBuffer, privateBuffer, releaseAfterBackward, releasePrivate } from '../buffer-pool';
import { checkBoolean, checkNumber, checkPositiveInt, checkTensor, invalid } from '../validate';

/** Running statistics a batchNorm call reads (eval) and updates in place (training). */
export interface RunningStats {
  /** Shape [C]: updated in place in training mode. */
  mean: Float32Array;
  /** [C] (unbiased batch variances are blended in, as PyTorch). */
  var: Float32Array;
  /** The blend factor of a new batch (PyTorch's momentum), or null for a cumulative average over `batches`. */
  momentum: number | null;
  /** Batches seen so far (incremented by each training call; the divisor of the cumulative average). */
  batches: number;
}

/** Options of ops.batchNorm: training (batch statistics) or the running statistics, eps, weight and bias. */
export interface BatchNormOptions {
  /** Use batch statistics (and update `running`); false: use `running` (required then). */
  training: boolean;
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Running statistics, or null (then batch statistics are used in both modes). */
  running?: RunningStats | null;
  /** [C] scale or null. */
  weight?: Tensor | null;
  /** [C] shift or null. */
  bias?: Tensor | null;
}

/** N, C and S (the product of the dims after C) of an input [N, C, ...]. */
function channelLayout(op: string, x: Tensor): [number, number, number] {
  if (x.ndim < 2) throw new Error(`${op}: input must be [N, C, ...] (at least 2-D), got ${shapeToString(x.shape)}`);
  const [N, C] = x.shape;
  let S = 1;
  for (let i = 2; i < x.ndim; i++) S *= x.shape[i];
  return [N, C, S];
}

function checkChannelParam(op: string, name: string, t: Tensor | null | undefined, C: number): Tensor | null {
  if (t === null || t === undefined) return null;
  checkTensor(op, name, t);
  if (t.size !== C || t.ndim !== 1) throw new Error(`${op}: ${name} must have shape [${C}] (one value per channel), got ${shapeToString(t.shape)}`);
  return t;
}

/**
 * Batch normalisation over an input [N, C, ...] (torch.nn.functional.batch_norm): per channel,
 * y = (x - mean) / sqrt(var + eps) * weight + bias. In training mode mean and var are the batch's
 * (biased variance) and `running` is updated in place; otherwise they are `running`'s.
 * @param x a Tensor [N, C, ...] (at least 2-D).
 * @param opts training (required: batch statistics, and update running), eps (default 1e-5), running
 * ({ mean, var } Float32Arrays of C values, or null: batch statistics in both modes), weight and bias (Tensors [C],
 * or null).
 * @returns a Tensor of x's shape.
 * @throws Error when x is not a Tensor of at least 2 dimensions, opts is not an object, training is not a boolean, eps is not a number
 * >= 0, weight or bias is not a Tensor [C], running's mean or var does not have C values, or training with one
 * value per channel (N * spatial size <= 1).
 * @example ops.batchNorm(randn([8, 3, 4, 4]), { training: true }).shape // [8, 3, 4, 4]
 */
export function batchNorm(x: Tensor, opts: BatchNormOptions): Tensor {
  const op = 'batchNorm';
  checkTensor(op, 'input', x);
  if (opts === null || typeof opts !== 'object') invalid(op, 'opts', 'an object { training, eps?, running?, weight?, bias? }', opts);
  const [N, C, S] = channelLayout(op, x);
  const training = checkBoolean(op, 'training', opts.training);
  const eps = opts.eps === undefined ? 1e-5 : checkNumber(op, 'eps', opts.eps, { min: 0 });
  const weight = checkChannelParam(op, 'weight', opts.weight, C);
  const bias = checkChannelParam(op, 'bias', opts.bias, C);
  const running = opts.running ?? null;
  if (running !== null && (running.mean.length !== C || running.var.length !== C)) {
    throw new Error(`${op}: running mean and var must have ${C} values (one per channel), got ${running.mean.length} and ${running.var.length}`);
  }
  const useBatch = training || running === null;
  if (useBatch && N * S <= 1 && training) {
    throw new Error(`${op}: expected more than 1 value per channel when training, got input ${shapeToString(x.shape)}`);
  }
  const backend = getBackend();
  const n = x.size;
  const out = outputBuffer(n);
  const mean = new Float32Array(C);
  const invstd = new Float32Array(C);
  if (useBatch) {
    const variance = new Float32Array(C);
    if (n > 0) {
      backend.batchNormForward({ N, C, S, x: x.data, weight: weight?.data ?? null, bias: bias?.data ?? null, eps, out, mean, variance, invstd });
    } else {
      variance.fill(NaN);
      mean.fill(NaN);
    }
    if (training && running !== null) updateRunning(running, mean, variance, N * S);
  } else {
    const r = running as RunningStats;
    const scale = new Float32Array(C);
    const shift = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      mean[c] = r.mean[c];
      invstd[c] = 1 / Math.sqrt(Math.fround(r.var[c] + eps));
      scale[c] = (weight === null ? 1 : weight.data[c]) * invstd[c];
      shift[c] = (bias === null ? 0 : bias.data[c]) - mean[c] * scale[c];
    }
    if (n > 0) backend.channelAffine(N, C, S, x.data, scale, shift, out);
  }
  const y = new Tensor(out, x.shape);
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  // For ONNX export by tracing: the statistics used, as constants, and the scale and shift (ones and zeros when absent).
  const attrs = isTracing() ? {
    eps, batchStatistics: useBatch, mean: new Tensor(mean.slice(), [C]), var: new Tensor(useBatch ? new Float32Array(C) : (running as RunningStats).var.slice(), [C]),
    scale: weight ?? new Tensor(new Float32Array(C).fill(1), [C]), shift: bias ?? new Tensor(new Float32Array(C), [C]),
  } : undefined;
  return record(y, 'batchNorm', inputs, (g) => {
    const dx = x.requiresGrad ? gradBuffer(n) : null;
    const dw = weight?.requiresGrad ? gradBuffer(C) : null;
    const db = bias?.requiresGrad ? gradBuffer(C) : null;
    if (n > 0) {
      backend.batchNormBackward({
        N, C, S, x: x.data, mean, invstd, weight: weight?.data ?? null, dy: g, training: useBatch, dx, dweight: dw, dbias: db,
      });
    } else {
      dw?.fill(0);
      db?.fill(0);
    }
    return [dx, ...(weight ? [dw] : []), ...(bias ? [db] : [])];
  }, attrs);
}

/** Blends a batch's mean and (unbiased) variance into running statistics, as torch.nn.BatchNorm does. */
export function updateRunning(r: RunningStats, mean: Float32Array, biasedVar: Float32Array, count: number): void {
  r.batches += 1;
  const m = r.momentum === null ? 1 / r.batches : r.momentum;
  const unbias = count > 1 ? count / (count - 1) : 1;
  for (let c = 0; c < mean.length; c++) {
    r.mean[c] = (1 - m) * r.mean[c] + m * mean[c];
    r.var[c] = (1 - m) * r.var[c] + m * biasedVar[c] * unbias;
  }
}

/**
 * Group normalisation over an input [N, C, ...] (torch.nn.functional.group_norm): the C channels
 * are split into numGroups groups; each sample's group is normalised by its own mean and biased
 * variance, then y = xhat * weight[c] + bias[c]. Same in training and eval.
 * @param x a Tensor [N, C, ...] (at least 2-D).
 * @param numGroups the number of groups, a positive integer dividing C.
 * @param weight a Tensor [C], or null (default: scale 1).
 * @param bias a Tensor [C], or null (default: shift 0).
 * @param eps added to the variance, a number >= 0 (default 1e-5).
 * @returns a Tensor of x's shape.
 * @throws Error when x is not a Tensor of at least 2 dimensions, numGroups is not a positive integer dividing C,
 * eps is below 0, or weight or bias is not a Tensor [C].
 * @example ops.groupNorm(randn([2, 8, 5, 5]), 4).shape // [2, 8, 5, 5]
 */
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  checkTensor(op, 'input', x);
  const [N, C, S] = channelLayout(op, x);
  checkPositiveInt(op, 'numGroups', numGroups);
  if (C % numGroups !== 0) invalid(op, 'numGroups', `a divisor of the ${C} input channels`, numGroups);
  checkNumber(op, 'eps', eps, { min: 0 });
  const w = checkChannelParam(op, 'weight', weight, C);
  const b = checkChannelParam(op, 'bias', bias, C);
  const G = numGroups;
  const L = (C / G) * S;
  const backend = getBackend();
  const n = x.size;
  const out = outputBuffer(n);
  const mean = new Float32Array(N * G);
  const invstd = new Float32Array(N * G);
  const affine = w !== null || b !== null;
  // The normalised values: the output itself without affine, else kept for the weight gradient.
  const xhat = affine ? privateBuffer(n) : out;
  if (n > 0) {
    // Each (sample, group) is one contiguous run of L values: batch statistics with N = 1, C = N*G.
    backend.batchNormForward({ N: 1, C: N * G, S: L, x: x.data, weight: null, bias: null, eps, out: xhat, mean, variance: new Float32Array(N * G), invstd });
    if (affine) backend.channelAffine(N, C, S, xhat, w?.data ?? new Float32Array(C).fill(1), b?.data ?? null, out);
  }
  const perChannel = [C, ...x.shape.slice(2).map(() => 1)];
  const attrs = isTracing() ? {
    numGroups: G, eps,
    scale: new Tensor(w === null ? new Float32Array(C).fill(1) : w.data.slice(), perChannel),
    shift: new Tensor(b === null ? new Float32Array(C) : b.data.slice(), perChannel),
  } : undefined;
  const y = record(new Tensor(out, x.shape), 'groupNorm', [x, ...(w ? [w] : []), ...(b ? [b] : [])], (g) => {
    const dx = x.requiresGrad ? gradBuffer(n) : null;
    const dw = w?.requiresGrad ? gradBuffer(C) : null;
    const db = b?.requiresGrad ? gradBuffer(C) : null;
    if (n > 0) {
      if (dw !== null || db !== null) {
        // Per-channel sums of dy * xhat and dy: the fixed-statistics backward with mean 0, invstd 1.
        backend.batchNormBackward({
          N, C, S, x: xhat, mean: new Float32Array(C), invstd: new Float32Array(C).fill(1), weight: null, dy: g, training: false, dx: null, dweight: dw, dbias: db,
        });
      }
      if (dx !== null) {
        // d xhat = dy * weight[c], then the batch-statistics backward per (sample, group).
        let dxhat = g;
        if (w !== null) {
          dxhat = gradBuffer(n);
          backend.channelAffine(N, C, S, g, w.data, null, dxhat);
        }
        backend.batchNormBackward({ N: 1, C: N * G, S: L, x: x.data, mean, invstd, weight: null, dy: dxhat, training: true, dx });
      }
    } else {
      dw?.fill(0);
      db?.fill(0);
    }
    if (affine) releaseAfterBackward(xhat);
    return [dx, ...(w ? [dw] : []), ...(b ? [db] : [])];
  }, attrs);
  if (affine && y._node === null) releasePrivate(xhat);
  return y;
}
