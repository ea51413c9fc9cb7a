// Child process of backend-consistency.test.ts: the C++ kernels and their TS twins on the same special-value inputs.
//
//   [MYELIN_SIMD=scalar] node test/helpers/backend-fuzz.js <dist dir> <seed> [iterations]
//
// Inputs mix 0, -0, +-Infinity, NaN, values near float32's range (3e38), tiny normals whose
// products underflow and ordinary numbers, at sizes on both sides of the tiny-call threshold (48).
// Every kernel runs on the C++ backend (every call crossing N-API) and on the TS twin; results must
// agree by the contract's numeric rule (lib/backend/contract.ts): the same NaN/Infinity pattern,
// values within a small tolerance (none for exact IEEE operations and sums), signed zeros and
// denormal results (which C++ flushes) aside. Dot products (gemm) get no values beyond 1e10, where
// float32 accumulation in C++ and float64 in TS differ by design. Prints one JSON line.
'use strict';
const { seed, C, J, rnd } = require('./twin-child').twinChild();

const iterations = Number(process.argv[4] || 1500);

const SPECIAL = [-0, 0, -1, 1, 0.5, -2, Infinity, -Infinity, NaN, 3e38, -3e38, 1.7e38, 1e30, -1e30,
  88, 89, -88, -104, 1e-20, -1e-20, 20, -20, 1e10];
const MODEST = [-0, 0, -1, 1, 0.5, -2, Infinity, -Infinity, NaN, 1e-20, 20, -20, 1e10, 3];
const SIZES = [1, 2, 3, 5, 8, 17, 47, 48, 49, 64, 100];
const FLT_MIN = 1.1754943508222875e-38;

const pickFrom = (vals) => vals[Math.floor(rnd() * vals.length)];
const arr = (n, vals = SPECIAL) => Float32Array.from({ length: n }, () => pickFrom(vals));
const flush = (v) => (Math.abs(v) < FLT_MIN ? 0 : v);

/** True when a (C++) and b (TS) agree: same NaN-ness, equal infinities, else |a-b| <= rel*max + abs. */
function agree(a, b, rel, abs) {
  a = flush(a);
  b = flush(b);
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + abs;
}

const disagreements = [];
let checked = 0;
function compare(kernel, inputs, c, t, rel = 0, abs = 0) {
  checked++;
  if (c.error || t.error) {
    if ((c.error || null) !== (t.error || null) && !(c.error && t.error)) {
      disagreements.push({ kernel, cxx: c.error || 'no error', ts: t.error || 'no error' });
    }
    return;
  }
  for (let i = 0; i < c.out.length; i++) {
    if (!agree(c.out[i], t.out[i], rel, abs)) {
      const at = inputs.map((a) => (a.length === c.out.length ? a[i] : a.length === 1 ? a[0] : '...'));
      disagreements.push({ kernel, index: i, inputsAtIndex: at, cxx: String(c.out[i]), ts: String(t.out[i]) });
      return;
    }
  }
}

/** Runs fn(backend) on both backends; fn returns a Float32Array (or a number). */
function both(fn) {
  const run = (b) => {
    try {
      const r = fn(b);
      return { out: typeof r === 'number' ? Float64Array.of(r) : r };
    } catch (e) {
      return { error: String(e && e.message) };
    }
  };
  return [run(C), run(J)];
}

for (let it = 0; it < iterations; it++) {
  const n = SIZES[it % SIZES.length];
  const a = arr(n);
  const b = arr(n);
  const s = pickFrom(SPECIAL);
  for (const k of ['add', 'sub', 'mul', 'div']) {
    compare(k, [a, b], ...both((be) => { const o = new Float32Array(n); be[k](n, a, b, o); return o; }));
  }
  compare('scale', [a, [s]], ...both((be) => { const o = new Float32Array(n); be.scale(n, a, s, o); return o; }));
  compare('axpy', [a, b, [s]], ...both((be) => { const y = b.slice(); be.axpy(n, s, a, y); return y; }), 1.2e-7);
  for (const op of ['exp', 'log', 'sqrt', 'neg', 'abs', 'square', 'reciprocal']) {
    compare(`unary ${op}`, [a], ...both((be) => { const o = new Float32Array(n); be.unary(op, n, a, o); return o; }), 4e-6);
  }
  const dy = arr(n);
  for (const act of ['none', 'relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu', 'geluTanh']) {
    const [cy, ty] = both((be) => { const o = new Float32Array(n); be.activationForward(act, n, a, o, 0.01); return o; });
    compare(`activationForward ${act}`, [a], cy, ty, 1e-5);
    const y = cy.out ? cy.out : ty.out; // what C++ saved (denormal outputs flushed): the same y for both
    compare(`activationBackward ${act}`, [a, y, dy], ...both((be) => { const o = new Float32Array(n); be.activationBackward(act, n, a, y, dy, o, 0.01); return o; }), 1e-5);
  }
  compare('sum', [a], ...both((be) => be.sum(n, a)));
  compare('mseLoss', [a, b], ...both((be) => be.mseLoss(n, a, b)), 1e-12);
  compare('mseBackward', [a, b], ...both((be) => { const o = new Float32Array(n); be.mseBackward(n, a, b, o); return o; }));
  const M = 1 + (it % 3);
  const x = arr(M * n);
  for (const k of ['softmax', 'logSoftmax']) {
    compare(k, [x], ...both((be) => { const o = new Float32Array(M * n); be[k](M, n, x, o); return o; }), 1e-5, 1e-7);
  }
  const labels = Int32Array.from({ length: M }, () => Math.floor(rnd() * n));
  compare('softmaxCrossEntropy loss', [x], ...both((be) => be.softmaxCrossEntropy({ M, N: n, logits: x, labels })), 1e-5, 1e-7);
  compare('softmaxCrossEntropy grad', [x], ...both((be) => { const g = new Float32Array(M * n); be.softmaxCrossEntropy({ M, N: n, logits: x, labels, grad: g }); return g; }), 1e-5, 1e-7);
  compare('softmaxCrossEntropy losses', [x], ...both((be) => { const l = new Float32Array(M); be.softmaxCrossEntropy({ M, N: n, logits: x, labels, losses: l }); return l; }), 1e-5, 1e-7);
  const bias = arr(n);
  compare('addBias', [x, bias], ...both((be) => { const o = new Float32Array(M * n); be.addBias(M, n, x, bias, o); return o; }));
  compare('colSum', [x], ...both((be) => { const o = new Float32Array(n); be.colSum(M, n, x, o); return o; }));
  compare('rowSum', [x], ...both((be) => { const o = new Float32Array(M); be.rowSum(M, n, x, o); return o; }));
  const K = 1 + (it % 5);
  const A = arr(M * K, MODEST);
  const B = arr(K * n, MODEST);
  // float32 FMA vs float64 accumulation: K roundings of terms up to 1e20.
  compare('gemm', [A, B], ...both((be) => { const o = new Float32Array(M * n); be.gemm(false, false, M, n, K, 1, A, B, 0, o); return o; }), 1e-6 * K, 1e14 * K);
}

process.stdout.write(`${JSON.stringify({ seed, checked, disagreements: disagreements.slice(0, 20), total: disagreements.length })}\n`);
