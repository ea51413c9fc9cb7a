// TypeScript twins of the softmax family and the losses: softmax, logSoftmax, their backwards, softmaxCrossEntropy, mseLoss, mseBackward.
import { rowBuffer } from './scratch';

// One row at a time; exponentials kept in a float64 row buffer.

/** Softmax of M rows of N starting at xOff, written from outOff (also the plan's final softmax). */
export function softmaxRows(M: number, N: number, x: Float32Array, out: Float32Array, xOff: number, outOff: number): void {
  const e = rowBuffer(N);
  for (let i = 0; i < M; i++) {
    const xo = xOff + i * N;
    const oo = outOff + i * N;
    const mx = rowMax(x, xo, N);
    let s = 0;
    for (let j = 0; j < N; j++) {
      const v = Math.exp(x[xo + j] - mx);
      e[j] = v;
      s += v;
    }
    const inv = 1 / s;
    for (let j = 0; j < N; j++) out[oo + j] = e[j] * inv;
  }
}

/** Max of x[off, off + N) (NaN when the row holds a NaN). */
function rowMax(x: Float32Array, off: number, N: number): number {
  let mx = -Infinity;
  for (let j = 0; j < N; j++) {
    const v = x[off + j];
    if (v > mx || v !== v) mx = v;
  }
  return mx;
}

/**
 * log(sum_j exp(x[off + j] - mx)): with mx the row max, the log-softmax is (x - mx) - this, kept in
 * that form (as in C++) because mx + log(sum) would lose log(sum) next to a huge mx (3e38). NaN
 * when mx is NaN or +-Infinity (exp(inf - inf)), which makes the whole row NaN.
 */
function rowLogSumShifted(x: Float32Array, off: number, N: number, mx: number): number {
  let s = 0;
  for (let j = 0; j < N; j++) s += Math.exp(x[off + j] - mx);
  return Math.log(s);
}

export function softmax(M: number, N: number, x: Float32Array, out: Float32Array): void {
  softmaxRows(M, N, x, out, 0, 0);
}

export function logSoftmax(M: number, N: number, x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    const mx = rowMax(x, o, N);
    const ls = rowLogSumShifted(x, o, N, mx);
    for (let j = 0; j < N; j++) out[o + j] = (x[o + j] - mx) - ls;
  }
}

export function softmaxBackward(M: number, N: number, y: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let dot = 0;
    for (let j = 0; j < N; j++) dot += dy[o + j] * y[o + j];
    for (let j = 0; j < N; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
  }
}

export function logSoftmaxBackward(M: number, N: number, y: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let s = 0;
    for (let j = 0; j < N; j++) s += dy[o + j];
    for (let j = 0; j < N; j++) dx[o + j] = dy[o + j] - Math.exp(y[o + j]) * s;
  }
}

/** Mean loss over the rows; labels are validated (in [0, N)) by the caller. */
export function softmaxCrossEntropy(
  M: number, N: number, logits: Float32Array, labels: Int32Array, grad: Float32Array | null, losses: Float32Array | null,
): number {
  let total = 0;
  const invM = 1 / M;
  for (let i = 0; i < M; i++) {
    const o = i * N;
    const mx = rowMax(logits, o, N);
    const ls = rowLogSumShifted(logits, o, N, mx);
    const c = labels[i];
    const loss = ls - (logits[o + c] - mx);
    total += loss;
    if (losses !== null) losses[i] = loss;
    if (grad !== null) {
      for (let j = 0; j < N; j++) grad[o + j] = Math.exp(logits[o + j] - mx - ls) * invM;
      grad[o + c] = (Math.exp(logits[o + c] - mx - ls) - 1) * invM;
    }
  }
  return total / M;
}

export function mseLoss(n: number, pred: Float32Array, target: Float32Array): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = pred[i] - target[i];
    s += d * d;
  }
  return s / n;
}

export function mseBackward(n: number, pred: Float32Array, target: Float32Array, grad: Float32Array): void {
  // float32 arithmetic like C++: the difference is rounded (and may overflow) before scaling.
  const c = Math.fround(2 / n);
  for (let i = 0; i < n; i++) grad[i] = c * Math.fround(pred[i] - target[i]);
}
