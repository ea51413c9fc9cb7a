// Naive pure-JS baseline of the MLP: plain loops for the dense layers, ReLU, softmax cross-entropy and Adam.
'use strict';

/**
 * A ReLU MLP written the way a JS developer would without a library: Float32Array weights
 * [out, in] (PyTorch layout), dot-product loops, no blocking, no tape. Used as the pure-JS
 * baseline of the training-step and inference cases.
 */
class NaiveMlp {
  constructor(sizes, rand) {
    this.sizes = sizes;
    this.W = [];
    this.b = [];
    this.m = [];
    this.v = [];
    this.t = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      const [K, N] = [sizes[l], sizes[l + 1]];
      const bound = Math.sqrt(6 / K);
      const W = new Float32Array(N * K);
      for (let i = 0; i < W.length; i++) W[i] = (2 * rand() - 1) * bound;
      this.W.push(W);
      this.b.push(new Float32Array(N));
    }
    for (const p of [...this.W, ...this.b]) {
      this.m.push(new Float32Array(p.length));
      this.v.push(new Float32Array(p.length));
    }
  }

  /** Forward pass of B rows; returns the activations of every layer (acts[0] = x). */
  forward(x, B) {
    const acts = [x];
    const L = this.W.length;
    for (let l = 0; l < L; l++) {
      const K = this.sizes[l];
      const N = this.sizes[l + 1];
      const W = this.W[l];
      const bias = this.b[l];
      const h = acts[l];
      const z = new Float32Array(B * N);
      for (let i = 0; i < B; i++) {
        for (let o = 0; o < N; o++) {
          let s = bias[o];
          for (let k = 0; k < K; k++) s += h[i * K + k] * W[o * K + k];
          z[i * N + o] = l + 1 < L && s < 0 ? 0 : s;
        }
      }
      acts.push(z);
    }
    return acts;
  }

  /** One Adam step (lr 1e-3) on softmax cross-entropy of B rows with integer labels y. */
  trainStep(x, y, B) {
    const acts = this.forward(x, B);
    const L = this.W.length;
    const C = this.sizes[L];
    const logits = acts[L];
    let dz = new Float32Array(B * C);
    for (let i = 0; i < B; i++) {
      let max = -Infinity;
      for (let c = 0; c < C; c++) max = Math.max(max, logits[i * C + c]);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(logits[i * C + c] - max);
      for (let c = 0; c < C; c++) dz[i * C + c] = (Math.exp(logits[i * C + c] - max) / sum - (c === y[i] ? 1 : 0)) / B;
    }
    const grads = new Array(2 * L);
    for (let l = L - 1; l >= 0; l--) {
      const K = this.sizes[l];
      const N = this.sizes[l + 1];
      const h = acts[l];
      const W = this.W[l];
      const dW = new Float32Array(N * K);
      const db = new Float32Array(N);
      for (let i = 0; i < B; i++) {
        for (let o = 0; o < N; o++) {
          const g = dz[i * N + o];
          db[o] += g;
          for (let k = 0; k < K; k++) dW[o * K + k] += g * h[i * K + k];
        }
      }
      grads[l] = dW;
      grads[L + l] = db;
      if (l > 0) {
        const dh = new Float32Array(B * K);
        for (let i = 0; i < B; i++) {
          for (let o = 0; o < N; o++) {
            const g = dz[i * N + o];
            for (let k = 0; k < K; k++) dh[i * K + k] += g * W[o * K + k];
          }
          for (let k = 0; k < K; k++) if (h[i * K + k] <= 0) dh[i * K + k] = 0;
        }
        dz = dh;
      }
    }
    this.t++;
    const params = [...this.W, ...this.b];
    const c1 = 1 - 0.9 ** this.t;
    const c2 = 1 - 0.999 ** this.t;
    for (let p = 0; p < params.length; p++) {
      const w = params[p];
      const g = grads[p];
      const m = this.m[p];
      const v = this.v[p];
      for (let i = 0; i < w.length; i++) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        w[i] -= (1e-3 * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + 1e-8);
      }
    }
  }
}

module.exports = { NaiveMlp };
