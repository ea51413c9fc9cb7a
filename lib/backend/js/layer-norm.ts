// TypeScript twins of the LayerNorm kernels (native/kernels/layer_norm*.cc): row statistics in float64, stored as float32.
import { rowBuffer } from './scratch';

export function layerNormForward(
  M: number, N: number, x: Float32Array, weight: Float32Array | null, bias: Float32Array | null, eps: number,
  y: Float32Array, mean: Float32Array | null, rstd: Float32Array | null,
): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let s = 0;
    for (let j = 0; j < N; j++) s += x[o + j];
    const mu = Math.fround(s / N);
    let q = 0;
    for (let j = 0; j < N; j++) {
      const d = x[o + j] - mu;
      q += d * d;
    }
    const rs = Math.fround(1 / Math.sqrt(Math.fround(q / N) + Math.fround(eps)));
    if (mean !== null) mean[i] = mu;
    if (rstd !== null) rstd[i] = rs;
    for (let j = 0; j < N; j++) {
      const xhat = (x[o + j] - mu) * rs;
      y[o + j] = (weight === null ? xhat : xhat * weight[j]) + (bias === null ? 0 : bias[j]);
    }
  }
}

export function layerNormBackward(
  M: number, N: number, x: Float32Array, weight: Float32Array | null, mean: Float32Array, rstd: Float32Array,
  dy: Float32Array, dx: Float32Array | null, dWeight: Float32Array | null, dBias: Float32Array | null, accumulate: boolean,
): void {
  // dWeight and dBias first (dx may alias dy), summed over the rows in float64.
  if (dWeight !== null || dBias !== null) {
    const sw = rowBuffer(2 * N);
    sw.fill(0, 0, 2 * N);
    for (let i = 0; i < M; i++) {
      const o = i * N;
      const mu = mean[i], rs = rstd[i];
      for (let j = 0; j < N; j++) {
        sw[j] += dy[o + j] * ((x[o + j] - mu) * rs);
        sw[N + j] += dy[o + j];
      }
    }
    for (let j = 0; j < N; j++) {
      if (dWeight !== null) dWeight[j] = (accumulate ? dWeight[j] : 0) + sw[j];
      if (dBias !== null) dBias[j] = (accumulate ? dBias[j] : 0) + sw[N + j];
    }
  }
  if (dx === null) return;
  for (let i = 0; i < M; i++) {
    const o = i * N;
    const mu = mean[i], rs = rstd[i];
    let s1 = 0, s2 = 0;
    for (let j = 0; j < N; j++) {
      const g = weight === null ? dy[o + j] : dy[o + j] * weight[j];
      s1 += g;
      s2 += g * ((x[o + j] - mu) * rs);
    }
    const m1 = s1 / N, m2 = s2 / N;
    for (let j = 0; j < N; j++) {
      const g = weight === null ? dy[o + j] : dy[o + j] * weight[j];
      const d = rs * (g - m1 - (x[o + j] - mu) * rs * m2);
      dx[o + j] = accumulate ? dx[o + j] + d : d;
    }
  }
}
