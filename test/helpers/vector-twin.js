// Child process of vector-kernels-isa.test.ts: the elementwise, activation, softmax and optimizer
// kernels on the C++ backend (at the SIMD level MYELIN_SIMD leaves it) against their TS twins, on
// random inputs at awkward lengths (1, 3, 15, 16, 17, 31, 33, 65, 257 and 70000, which crosses
// the thread-split sizes), and a digest of every C++ output (to compare levels bit for bit).
//
//   [MYELIN_SIMD=avx2|scalar] node test/helpers/vector-twin.js <dist dir> <seed>
//
// Prints one JSON line: { gemmSimd, checked, disagreements, digests: { kernel: hex } }.
'use strict';
const crypto = require('crypto');
const { seed, C, J, rnd } = require('./twin-child').twinChild();

const LENGTHS = [1, 3, 15, 16, 17, 31, 33, 65, 257, 70000];
const disagreements = [];
const hashes = {};
let checked = 0;

const uniform = (n, lo, hi) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rnd());
function digest(kernel, arr) {
  const h = hashes[kernel] || (hashes[kernel] = crypto.createHash('sha256'));
  h.update(Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
}

/** |c - t| <= rel * max(|c|, |t|) + abs for every element (NaN only against NaN). */
function compare(kernel, shape, c, t, rel, abs = 0) {
  checked++;
  digest(kernel, c);
  for (let i = 0; i < c.length; i++) {
    const a = c[i], b = t[i];
    if (Number.isNaN(a) || Number.isNaN(b) ? Number.isNaN(a) && Number.isNaN(b) : Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + abs) continue;
    disagreements.push({ kernel, shape, index: i, cxx: a, ts: b });
    return;
  }
}

/** Runs fn(backend, outputs...) on fresh copies of `outs` for each backend; returns [cxx outs, ts outs]. */
function both(outs, fn) {
  return [C, J].map((b) => {
    const copies = outs.map((o) => o.slice());
    fn(b, ...copies);
    return copies;
  });
}

for (const n of LENGTHS) {
  const shape = `n=${n}`;
  const a = uniform(n, -8, 8), b = uniform(n, 0.5, 4), dy = uniform(n, -1, 1);
  const z = new Float32Array(n);
  for (const k of ['add', 'sub', 'mul', 'div']) {
    const [[c], [t]] = both([z], (be, o) => be[k](n, a, b, o));
    compare(k, shape, c, t, 0);
  }
  {
    const [[c], [t]] = both([z], (be, o) => be.scale(n, a, 1.7, o));
    compare('scale', shape, c, t, 0);
    const [[cy], [ty]] = both([b], (be, y) => be.axpy(n, -0.3, a, y));
    compare('axpy', shape, cy, ty, 1.2e-7);
    const [[cg], [tg]] = both([z], (be, g) => be.mseBackward(n, a, b, g));
    compare('mseBackward', shape, cg, tg, 0);
  }
  for (const op of ['exp', 'log', 'sqrt', 'neg', 'abs', 'square', 'reciprocal']) {
    const x = op === 'log' || op === 'sqrt' ? b : a;
    const [[c], [t]] = both([z], (be, o) => be.unary(op, n, x, o));
    compare(`unary ${op}`, shape, c, t, op === 'exp' || op === 'log' ? 4e-6 : 0);
  }
  for (const act of ['relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu', 'geluTanh']) {
    const [[cy], [ty]] = both([z], (be, y) => be.activationForward(act, n, a, y, 0.01));
    compare(`activationForward ${act}`, shape, cy, ty, 1e-5, 1e-7);
    const [[cd], [td]] = both([z], (be, dx) => be.activationBackward(act, n, a, cy, dy, dx, 0.01));
    compare(`activationBackward ${act}`, shape, cd, td, 1e-5, 1e-7);
  }
  // Rows: n elements as M x N with N the awkward length (M = 1, 3 and as many rows as fit 70000).
  for (const M of n >= 1000 ? [Math.floor(70000 / 257)] : [1, 3]) {
    const N = n >= 1000 ? 257 : n;
    const rshape = `M=${M} N=${N}`;
    const x = uniform(M * N, -6, 6), y0 = uniform(M * N, -1, 1), rz = new Float32Array(M * N);
    for (const k of ['softmax', 'logSoftmax']) {
      const [[c], [t]] = both([rz], (be, o) => be[k](M, N, x, o));
      compare(k, rshape, c, t, 1e-5, 1e-7);
      const bk = `${k}Backward`;
      const [[cd], [td]] = both([rz], (be, dx) => be[bk](M, N, c, y0, dx));
      compare(bk, rshape, cd, td, 1e-5, 1e-6);
    }
    const labels = Int32Array.from({ length: M }, () => Math.floor(rnd() * N));
    const [[cg, cl], [tg, tl]] = both([rz, new Float32Array(M)], (be, grad, losses) => be.softmaxCrossEntropy({ M, N, logits: x, labels, grad, losses }));
    compare('softmaxCrossEntropy grad', rshape, cg, tg, 1e-5, 1e-7);
    compare('softmaxCrossEntropy losses', rshape, cl, tl, 1e-5, 1e-6);
    const bias = uniform(N, -1, 1);
    const [[cb], [tb]] = both([rz], (be, o) => be.addBias(M, N, x, bias, o));
    compare('addBias', rshape, cb, tb, 0);
  }
  // Optimizers: three steps from the same state; weight decay and momentum on. Absolute tolerances
// for the state (inputs are O(1)): m and velocity cancel (b1 m + c1 g of opposite signs).
  const grads = [uniform(n, -1, 1), uniform(n, -1, 1), uniform(n, -1, 1)];
  const p0 = uniform(n, -1, 1);
  // Keep the decayed gradient g = grad + 0.01 p (0.01 is every step's weightDecay) at least 1e-3 away
  // from 0 in step 1 (p has not moved yet). Near g = 0 the steps are ill-conditioned, not wrong:
  // RMSprop's g / (sqrt(0.01 g^2) + eps) has slope eps / (0.1|g| + eps)^2, about 2.5e7 at |g| = 1e-7,
  // so the one float32 rounding of g (6e-8 |grad| <= 6e-10) alone moves buf by 1.5e-2 against the
  // float64 twin (seed 2726052745: 6.7e-5 at index 40264). At |g| >= 1e-3 the slope is below 1e-5.
  for (let i = 0; i < n; i++) {
    const g = grads[0][i] + 0.01 * p0[i];
    if (Math.abs(g) < 1e-3) grads[0][i] = Math.fround(grads[0][i] + (g < 0 ? -2e-3 : 2e-3));
  }
  for (const decoupled of [false, true]) {
    const [[cp, cm, cv], [tp, tm, tv]] = both([p0, z, z], (be, param, m, v) => {
      for (let s = 1; s <= 3; s++) be.adamStep({ n, param, grad: grads[s - 1], m, v, step: s, lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled });
    });
    const k = decoupled ? 'adamStep (AdamW)' : 'adamStep';
    compare(`${k} param`, shape, cp, tp, 1e-6, 1e-6);
    compare(`${k} m`, shape, cm, tm, 1e-6, 1e-7);
    compare(`${k} v`, shape, cv, tv, 1e-6, 1e-10);
  }
  for (const momentum of [0, 0.9]) {
    const [[cp, cs, cb], [tp, ts, tb]] = both([p0, z, z], (be, param, sq, buf) => {
      for (let s = 0; s < 3; s++) be.rmspropStep({ n, param, grad: grads[s], sq, buf: momentum ? buf : null, lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0.01, momentum });
    });
    // With momentum the step is lr * buf, and buf (up to ~30 after three steps of g / sqrt(sq) ~ 10) carries its own
    // 1e-5 tolerance below: lr * 1e-5 * 30 = 3e-6 on the parameter (seed 3917515666, scalar level: 3.75e-6 at 0.757).
    // A wrong update errs by the order of lr (1e-2).
    compare(`rmspropStep param (momentum ${momentum})`, shape, cp, tp, 1e-6, momentum ? 1e-5 : 1e-6);
    compare(`rmspropStep sq (momentum ${momentum})`, shape, cs, ts, 1e-6, 1e-10);
    if (momentum) compare('rmspropStep buf', shape, cb, tb, 1e-5, 1e-5);
  }
  for (const nesterov of [false, true]) {
    const [[cp, cv], [tp, tv]] = both([p0, z], (be, param, velocity) => {
      for (let s = 0; s < 3; s++) be.sgdStep({ n, param, grad: grads[s], velocity, lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov });
    });
    compare(`sgdStep param (nesterov ${nesterov})`, shape, cp, tp, 1e-6, 1e-6);
    compare(`sgdStep velocity (nesterov ${nesterov})`, shape, cv, tv, 1e-6, 1e-6);
  }
}

// The exact GELU's tails and special values (its AVX-512 form must give the AVX2 bits there too): past the
// clamps at +-19.5 and +-20, tiny and signed zeros, infinities and NaN, at a length with a 16-lane tail.
{
  const special = [-Infinity, -1e30, -30, -20.5, -20, -19.75, -19.5, -13, -8.25, -3, -1, -1e-3, -1e-30, -0, 0, 1e-30, 1e-3, 1, 3,
    8.25, 13, 19.5, 19.75, 20, 20.5, 30, 1e30, Infinity, NaN];
  const n = special.length * 3 + 2;
  const x = Float32Array.from({ length: n }, (_, i) => (i < special.length ? special[i] : -24 + 48 * rnd()));
  const y = new Float32Array(n), dx = new Float32Array(n), dy = uniform(n, -1, 1);
  C.activationForward('gelu', n, x, y, 0);
  C.activationBackward('gelu', n, x, y, dy, dx, 0);
  digest('activationForward gelu special values', y);
  digest('activationBackward gelu special values', dx);
}
// The same for the AVX-512 sigmoid and tanh forward: around exp's clamps (-105, 89: sigmoid reads
// exp(-|x|), tanh exp(2|x|)) and tanh's switch from its polynomial to the exp form at |x| = 0.625.
{
  const special = [-Infinity, -1e30, -106, -105, -104, -90, -89, -88, -44.5, -44, -20, -9, -1, -0.625, -0.62499994, -1e-3, -1e-30, -0, 0,
    1e-30, 1e-3, 0.62499994, 0.625, 1, 9, 20, 44, 44.5, 88, 89, 90, 104, 105, 106, 1e30, Infinity, NaN];
  const n = special.length * 3 + 5;
  const x = Float32Array.from({ length: n }, (_, i) => (i < special.length ? special[i] : -12 + 24 * rnd()));
  for (const act of ['sigmoid', 'tanh']) {
    const y = new Float32Array(n);
    C.activationForward(act, n, x, y, 0);
    digest(`activationForward ${act} special values`, y);
  }
}
const digests = Object.fromEntries(Object.entries(hashes).map(([k, h]) => [k, h.digest('hex').slice(0, 16)]));
process.stdout.write(`${JSON.stringify({ seed, gemmSimd: C.info().gemmSimd, checked, disagreements: disagreements.slice(0, 20), total: disagreements.length, digests })}\n`);
