// distributed.syncBatchNorm(model): BatchNorm layers whose training-mode statistics are those of every
// rank's batch together (torch.nn.SyncBatchNorm). Forward all-reduces per channel the sums and the row
// count (the mean), then the sums of squared deviations (the variance, two-pass as one process computes
// it); backward all-reduces the sums of dy and dy * xhat, so N ranks train as one process with the
// combined batch. The running statistics are then the global batch's on every rank.
import { Tensor } from '../tensor';
import { record } from '../autograd';
import { getBackend } from '../backend/select';
import { gradBuffer, outputBuffer } from '../buffer-pool';
import { Module } from '../nn/module';
import { BatchNorm1d, BatchNorm2d, type BatchNormSync } from '../nn/batch-norm';
import { updateRunning } from '../ops/norm';
import { group as currentGroup, type ProcessGroup } from './group';
import { stepAllreduce, currentStepWeight } from './reducer';

/** The batch statistics of x [N, C, ...] over every rank of the group; the op behind a synchronised BatchNorm's training forward. */
function syncedBatchNorm(g: ProcessGroup): BatchNormSync {
  return (x, o) => {
    const [N, C] = x.shape;
    const S = x.size / Math.max(1, N * C);
    const xs = x.data;
    // Pass 1: sums and count -> the global mean.
    const first = new Float32Array(C + 1);
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let i = 0, at = (n * C + c) * S; i < S; i++) s += xs[at + i];
      first[c] = s;
    }
    first[C] = N * S;
    stepAllreduce(g, first);
    const count = first[C];
    if (!(count > 1)) throw new Error(`batchNorm (synchronised): expected more than 1 value per channel over all ranks when training, got ${count}`);
    const mean = new Float32Array(C);
    for (let c = 0; c < C; c++) mean[c] = first[c] / count;
    // Pass 2: squared deviations from it -> the global (biased) variance.
    const second = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      let s = 0;
      const m = mean[c];
      for (let n = 0; n < N; n++) for (let i = 0, at = (n * C + c) * S; i < S; i++) { const d = xs[at + i] - m; s += d * d; }
      second[c] = s;
    }
    stepAllreduce(g, second);
    const variance = new Float32Array(C);
    const invstd = new Float32Array(C);
    const scale = new Float32Array(C);
    const shift = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      variance[c] = second[c] / count;
      invstd[c] = 1 / Math.sqrt(Math.fround(variance[c] + o.eps));
      scale[c] = (o.weight === null ? 1 : o.weight.data[c]) * invstd[c];
      shift[c] = (o.bias === null ? 0 : o.bias.data[c]) - mean[c] * scale[c];
    }
    if (o.running !== null) updateRunning(o.running, mean, variance, count);
    const out = outputBuffer(x.size);
    if (x.size > 0) getBackend().channelAffine(N, C, S, xs, scale, shift, out);
    const y = new Tensor(out, x.shape);
    const weight = o.weight;
    const bias = o.bias;
    const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
    return record(y, 'syncBatchNorm', inputs, (dy) => {
      // Local sums of dy and dy * xhat; all-reduced as w_r * sums with w_r this rank's batch weight (the
      // reducer divides every gradient by the ranks' total weight W after weighting rank r's by w_r).
      const s1 = new Float64Array(C);
      const s2 = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        const m = mean[c];
        const is = invstd[c];
        let a = 0;
        let b = 0;
        for (let n = 0; n < N; n++) {
          for (let i = 0, at = (n * C + c) * S; i < S; i++) { a += dy[at + i]; b += dy[at + i] * (xs[at + i] - m) * is; }
        }
        s1[c] = a;
        s2[c] = b;
      }
      const w = currentStepWeight() ?? 1;
      const sums = new Float32Array(2 * C + 1);
      for (let c = 0; c < C; c++) { sums[c] = w * s1[c]; sums[C + c] = w * s2[c]; }
      sums[2 * C] = w;
      stepAllreduce(g, sums);
      // dL/dx on this rank, in the units of its own loss (the reducer scales them by w_r / W):
      // gamma * invstd * (dy - T1 / (w_r count) - xhat * T2 / (w_r count)); a rank of weight 0 adds nothing.
      const dx = x.requiresGrad ? gradBuffer(x.size) : null;
      if (dx !== null) {
        for (let c = 0; c < C; c++) {
          const k = w > 0 ? 1 / (w * count) : 0;
          const a = sums[c] * k;
          const b = sums[C + c] * k;
          const m = mean[c];
          const is = invstd[c];
          const gs = (weight === null ? 1 : weight.data[c]) * is;
          for (let n = 0; n < N; n++) {
            for (let i = 0, at = (n * C + c) * S; i < S; i++) dx[at + i] = w > 0 ? gs * (dy[at + i] - a - (xs[at + i] - m) * is * b) : 0;
          }
        }
      }
      const dw = weight?.requiresGrad ? gradBuffer(C) : null;
      const db = bias?.requiresGrad ? gradBuffer(C) : null;
      for (let c = 0; c < C; c++) {
        if (dw !== null) dw[c] = s2[c];
        if (db !== null) db[c] = s1[c];
      }
      return [dx, ...(weight ? [dw] : []), ...(bias ? [db] : [])];
    });
  };
}

/**
 * Makes every BatchNorm1d / BatchNorm2d of `model` synchronised across the ranks of a process group
 * (torch.nn.SyncBatchNorm.convert_sync_batchnorm, in place): in training mode each layer normalises with
 * the mean and variance of all ranks' batches together (all-reduced per channel: sums and counts, then
 * squared deviations), its backward all-reduces the sums of dy and dy * xhat, and its running statistics
 * become the global batch's, the same on every rank. N ranks then train as one process with the combined
 * batch. Eval mode uses the running statistics, as before, without communication. With a world of one
 * (or no group) the layers behave as plain BatchNorm.
 * @param model the model whose BatchNorm layers to synchronise (changed in place; the same on every rank).
 * @param group the process group (default: the one distributed.init() joined; looked up at every forward when not given).
 * @returns the number of BatchNorm layers synchronised.
 * @throws Error when model is not an nn.Module.
 * @example
 * ```ts
 * distributed.init();
 * const model = new nn.Sequential(new nn.Conv2d(1, 8, 3), new nn.BatchNorm2d(8), new nn.ReLU());
 * distributed.syncBatchNorm(model); // 1
 * await fit(model, data, { distributed: true });
 * ```
 */
export function syncBatchNorm(model: Module, group?: ProcessGroup): number {
  if (!(model instanceof Module)) throw new Error(`distributed.syncBatchNorm: model must be an nn.Module, got ${model === null ? 'null' : typeof model}`);
  let count = 0;
  const visit = (m: Module): void => {
    if (m instanceof BatchNorm1d || m instanceof BatchNorm2d) {
      m.sync = (x, o) => {
        const g = group ?? currentGroup();
        return g === null || g.worldSize === 1 ? null : syncedBatchNorm(g)(x, o);
      };
      count++;
    }
    for (const [, child] of m.children()) visit(child);
  };
  visit(model);
  return count;
}
