// The naive pure-JS baselines: a plain triple-loop GEMM and one-line-per-element activations.
'use strict';

/**
 * C[M,N] = A[M,K] * B[K,N], row-major, the way a JS developer would write it without tuning:
 * three nested loops in i-k-j order (row-major friendly, no blocking, no unrolling).
 */
function naiveGemm(M, N, K, A, B, C) {
  C.fill(0, 0, M * N);
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let k = 0; k < K; k++) {
      const a = A[i * K + k];
      const bk = k * N;
      for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
    }
  }
}

// erf for the exact GELU (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): JS has no Math.erf.
function erf(x) {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

const naiveActivation = {
  relu(n, x, out) {
    for (let i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : 0;
  },
  sigmoid(n, x, out) {
    for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-x[i]));
  },
  tanh(n, x, out) {
    for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
  },
  gelu(n, x, out) {
    for (let i = 0; i < n; i++) out[i] = 0.5 * x[i] * (1 + erf(x[i] / Math.SQRT2));
  },
};

/** Row-wise softmax of an M x N matrix: max, exp and sum, scale. */
function naiveSoftmax(M, N, x, out) {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let max = -Infinity;
    for (let j = 0; j < N; j++) if (x[o + j] > max) max = x[o + j];
    let sum = 0;
    for (let j = 0; j < N; j++) {
      const e = Math.exp(x[o + j] - max);
      out[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < N; j++) out[o + j] *= inv;
  }
}

module.exports = { naiveGemm, naiveActivation, naiveSoftmax, erf };
