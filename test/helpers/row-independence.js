// Child process of test/row-independence.test.ts: a row of a matrix product (gemm with every transpose,
// alpha/beta, the fused dense layer, whole dense stacks sync and async) computed alone must equal, bit
// for bit, the same row computed inside a batch of any size, at 1 and 2 threads, on the native backend
// as users get it (tiny calls routed to TypeScript where the twin is exact) and on the TS backend.
//   [MYELIN_SIMD=avx2|scalar] node test/helpers/row-independence.js <dist dir> <seed> [cases]
'use strict';
const path = require('path');
const { twinChild } = require('./twin-child');

const { dist, seed, J, rnd } = twinChild();
const { loadNative } = require(path.join(dist, 'backend', 'native.js'));
const N8 = loadNative();
const cases = Number(process.argv[4] ?? 24);

const AWKWARD = [1, 2, 3, 4, 5, 7, 16, 17, 33, 65, 257];
const dimOf = () => (rnd() < 0.6 ? AWKWARD[Math.floor(rnd() * AWKWARD.length)] : 1 + Math.floor(rnd() * 300));
const fill = (n) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rnd() * 2 - 1;
  return a;
};
const ACTS = ['none', 'relu', 'sigmoid', 'tanh', 'gelu', 'leakyRelu'];
const MAXROWS = 65;
// Batch sizes: 1..65 all for small products, else a spread that hits every path (1-3 rows, tile edges).
const batchSizes = (work) => {
  if (work <= 20000) return Array.from({ length: MAXROWS }, (_, i) => i + 1);
  const s = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33, 48, 64, 65]);
  for (let i = 0; i < 6; i++) s.add(1 + Math.floor(rnd() * MAXROWS));
  return [...s];
};

const disagreements = [];
let checked = 0;
function compare(what, rowsAlone, batch, start, m, n) {
  for (let r = 0; r < m; r++) {
    const alone = rowsAlone[start + r];
    for (let j = 0; j < n; j++) {
      checked++;
      const a = alone[j];
      const b = batch[r * n + j];
      if (!Object.is(a, b) && disagreements.length < 10) disagreements.push({ what, m, row: start + r, col: j, alone: a, inBatch: b });
    }
  }
}

/** Rows [s, s+m) of op(A) as the operand a product of m rows reads (transA: A is K x rows). */
function opRows(A, transA, total, K, s, m) {
  if (!transA) return A.subarray(s * K, (s + m) * K);
  const out = new Float32Array(K * m);
  for (let k = 0; k < K; k++) for (let i = 0; i < m; i++) out[k * m + i] = A[k * total + s + i];
  return out;
}

function gemmCase(B, name) {
  const transA = rnd() < 0.5;
  const transB = rnd() < 0.5;
  const N = dimOf();
  const K = dimOf();
  const alpha = rnd() < 0.5 ? 1 : 0.75;
  const beta = rnd() < 0.5 ? 0 : 1.25;
  const A = fill(MAXROWS * K);
  const Bm = fill(K * N);
  const C0 = fill(MAXROWS * N);
  const what = `${name} gemm transA=${transA} transB=${transB} N=${N} K=${K} alpha=${alpha} beta=${beta}`;
  const alone = [];
  for (let r = 0; r < MAXROWS; r++) {
    const c = C0.slice(r * N, (r + 1) * N);
    B.gemm(transA, transB, 1, N, K, alpha, opRows(A, transA, MAXROWS, K, r, 1), Bm, beta, c);
    alone.push(c);
  }
  for (const m of batchSizes(N * K * MAXROWS)) {
    const s = Math.floor(rnd() * (MAXROWS - m + 1));
    const c = C0.slice(s * N, (s + m) * N);
    B.gemm(transA, transB, m, N, K, alpha, opRows(A, transA, MAXROWS, K, s, m), Bm, beta, c);
    compare(what, alone, c, s, m, N);
  }
}

function layersOf(K0, depth) {
  const layers = [];
  let K = K0;
  for (let i = 0; i < depth; i++) {
    const N = dimOf();
    layers.push({ N, K, W: fill(N * K), bias: rnd() < 0.8 ? fill(N) : null, act: ACTS[Math.floor(rnd() * ACTS.length)], alpha: 0.01 });
    K = N;
  }
  return layers;
}

async function stackCase(B, name) {
  const K = dimOf();
  const layers = layersOf(K, 1 + Math.floor(rnd() * 3));
  const softmax = rnd() < 0.5;
  const outN = layers[layers.length - 1].N;
  const X = fill(MAXROWS * K);
  const what = `${name} dense stack K=${K} ${layers.map((l) => `${l.N}/${l.act}`).join(',')} softmax=${softmax}`;
  const l0 = layers[0];
  const alone = [];
  const aloneLinear = [];
  for (let r = 0; r < MAXROWS; r++) {
    const o = new Float32Array(outN);
    B.forwardDense(1, layers, X.subarray(r * K, (r + 1) * K), o, softmax);
    alone.push(o);
    const lo = new Float32Array(l0.N);
    B.linearForward({ M: 1, N: l0.N, K, X: X.subarray(r * K, (r + 1) * K), W: l0.W, bias: l0.bias, act: l0.act, alpha: l0.alpha, out: lo, preact: null });
    aloneLinear.push(lo);
  }
  const frozen = B.freezePlan(layers);
  for (const m of batchSizes(l0.N * K * MAXROWS)) {
    const s = Math.floor(rnd() * (MAXROWS - m + 1));
    const x = X.slice(s * K, (s + m) * K);
    const o = new Float32Array(m * outN);
    B.forwardDense(m, layers, x, o, softmax);
    compare(`${what} forwardDense`, alone, o, s, m, outN);
    const oa = new Float32Array(m * outN);
    await B.forwardAsync(m, frozen, x, oa, softmax);
    compare(`${what} forwardAsync`, alone, oa, s, m, outN);
    const of = new Float32Array(m * outN);
    B.forwardDense(m, frozen, x, of, softmax);
    compare(`${what} forwardDense (frozen plan)`, alone, of, s, m, outN);
    const lo = new Float32Array(m * l0.N);
    B.linearForward({ M: m, N: l0.N, K, X: x, W: l0.W, bias: l0.bias, act: l0.act, alpha: l0.alpha, out: lo, preact: null });
    compare(`${what} linearForward`, aloneLinear, lo, s, m, l0.N);
  }
}

/** A batch large enough to split across threads (and the reference MLP's shape) against rows alone, sync and through a frozen (packed) plan. */
async function bigCase(B, name) {
  const M = 1024, K = 784, N = 256;
  const X = fill(M * K);
  const W = fill(N * K);
  const bias = fill(N);
  const out = new Float32Array(M * N);
  B.linearForward({ M, N, K, X, W, bias, act: 'relu', alpha: 0.01, out, preact: null });
  const layers = [{ N, K, W, bias, act: 'relu', alpha: 0.01 }];
  const frozen = B.freezePlan(layers);
  const outAsync = new Float32Array(M * N);
  await B.forwardAsync(M, frozen, X, outAsync, false);
  const rows = [0, 1, 2, 7, 8, 9, 511, 512, 1000, 1023];
  const alone = new Array(M);
  const aloneAsync = new Array(M);
  for (const r of rows) {
    const o = new Float32Array(N);
    B.linearForward({ M: 1, N, K, X: X.subarray(r * K, (r + 1) * K), W, bias, act: 'relu', alpha: 0.01, out: o, preact: null });
    alone[r] = o;
    const oa = new Float32Array(N);
    await B.forwardAsync(1, frozen, X.slice(r * K, (r + 1) * K), oa, false);
    aloneAsync[r] = oa;
  }
  for (const r of rows) {
    compare(`${name} linearForward 1024x784x256 relu`, alone, out.subarray(r * N, (r + 1) * N), r, 1, N);
    compare(`${name} forwardAsync (frozen plan) 1024x784x256 relu`, alone, outAsync.subarray(r * N, (r + 1) * N), r, 1, N);
    compare(`${name} forwardAsync (frozen plan) one row vs linearForward`, alone, aloneAsync[r], r, 1, N);
  }
}

(async () => {
  const backends = [['native', N8], ['js', J]];
  for (const threads of [1, 2]) {
    N8.setNumThreads(threads);
    for (const [name, B] of backends) {
      if (name === 'js' && threads === 2) continue;
      const label = `${name} ${threads} thread(s)`;
      for (let i = 0; i < cases; i++) gemmCase(B, label);
      for (let i = 0; i < cases; i++) await stackCase(B, label);
      await bigCase(B, label);
    }
  }
  console.log(JSON.stringify({ seed, gemmSimd: N8.info().gemmSimd, checked, disagreements }));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
