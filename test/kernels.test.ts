// Property tests: every contract kernel, on every available backend, against float64 references.
//
// Tolerances (|got - ref| <= tol, per element; U = 2^-24, the float32 unit roundoff):
// - dot-product kernels (gemm, linear*, colSum/rowSum, softmax/logSoftmax backward, dB):
//   2 (T + 4) U sum|terms| with T the number of summed terms: the worst-case bound for ANY
//   summation order in float32 (gamma_T, Higham ch. 3) doubled, so blocked, pairwise and FMA
//   kernels all pass while a wrong index or a dropped term (an O(1) relative error) cannot.
// - correctly rounded elementwise ops (add, sub, mul, div, scale, neg, abs, square, sqrt,
//   reciprocal, addBias, relu, leakyRelu): 1e-6 relative (float32 rounding is 6e-8).
// - axpy: 4 U (|y| + |alpha x|) (one or two roundings, with or without FMA).
// - exp-based (exp, log, sigmoid, tanh, softmax outputs): 2e-6 relative, plus 1e-37 absolute
//   because vectorised exp may flush results below ~1e-38 to zero. Softmax adds 2 N U for the
//   float32 row sum.
// - gelu / geluTanh: 2e-6 relative plus 3e-7 |x| absolute: float32 formulas of the form
//   0.5 x (1 + erf(.)) lose relative accuracy in the far negative tail, where the value is tiny.
//   Their derivatives: 2e-6 relative plus 1e-6 |dy| absolute (the derivative crosses zero).
// - linearBackward: dZ as activationBackward; dX, dW, dB the dot-product bound plus the dZ
//   tolerance carried through the same sums (|dZtol| |W|, |dZtol|^T |X|, sum dZtol).
// - sum: 1e-6 * sum|x| (the contract's 1e-6 relative to the magnitude of the data).
// - losses: the log-sum-exp bound 4 U (|lse| + |x_label| + |max|) + 2 N U + 2e-6 per row.
// - optimizers: after S steps, S * (8 U |p| + 1e-6 lr |max step|) for params, and S * 8 U times
//   the running magnitude (the same EMA over |terms|) for the state buffers m, v, velocity, sq,
//   buf: each step rounds the state to float32, and sign changes make the state itself tiny.
import { describe, expect, test } from 'vitest';
import type { Activation, Backend, PlanLayer, UnaryOp } from '../lib/backend/contract';
import { ACTIVATION_CODE, UNARY_CODE } from '../lib/backend/contract';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import {
  type CheckContext, U32, dotTol, expectClose, freshSeed, makeRng, randLabels, randNormal, randUniform,
  refAct, refActGrad, refActGradFromSaved, refAdamStep, refGemm, refLinearBackward, refLinearForward,
  refLogSoftmax, refLogSoftmaxBackward, refLogSumExp, refRmspropStep, refSgdStep, refSoftmax,
  refSoftmaxBackward, refSoftmaxCrossEntropy, refUnary, relTol, scalarClose,
} from './helpers/reference';

const SEED = freshSeed();
const ACTS = Object.keys(ACTIVATION_CODE) as Activation[];
const UNARY_OPS = Object.keys(UNARY_CODE) as UnaryOp[];
const SIZES = [1, 3, 17, 65, 257];
const COUNTS = [0, 1, 3, 17, 65, 257, 1000];

/** (M, N, K) triples: awkward sizes, non-square, and a few past the native blocking sizes. */
const GEMM_SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 17, 65], [3, 1, 257], [17, 65, 3], [65, 17, 1], [3, 257, 17], [65, 65, 65],
  [257, 3, 65], [1, 257, 3], [150, 40, 300], [7, 300, 270], [200, 33, 260],
];
const ALPHAS_BETAS = [0, 1, 0.5, -2];
const LINEAR_SHAPES: [number, number, number][] = [[1, 1, 1], [3, 17, 65], [17, 3, 257], [65, 65, 17], [150, 20, 300]];

function f32(a: ArrayLike<number>): Float32Array {
  return Float32Array.from(a);
}

function nanFilled(n: number): Float32Array {
  return new Float32Array(n).fill(NaN);
}

/** Per-element dot-product tolerance from a reference magnitude array. */
function dotTols(terms: number, mag: Float64Array, extraRel = 0): Float64Array {
  const t = new Float64Array(mag.length);
  for (let i = 0; i < mag.length; i++) t[i] = dotTol(terms, mag[i]) + extraRel * mag[i];
  return t;
}

/** Output tolerance of an activation applied to a preactivation known to within zTol. */
function actOutTol(act: Activation, zTol: number, slope: number, y: number, x: number): number {
  let t = 1.5 * zTol * Math.max(1, slope) + 2e-6 * Math.abs(y) + 1e-37;
  if (act === 'gelu' || act === 'geluTanh') t += 3e-7 * Math.abs(x);
  return t;
}

function actGradTol(act: Activation, ref: number, dy: number): number {
  let t = 2e-6 * Math.abs(ref) + 1e-37;
  if (act === 'gelu' || act === 'geluTanh') t += 1e-6 * Math.abs(dy);
  return t;
}

/** Inputs that exercise every branch of an activation: both signs, the tails, and near zero. */
function activationInputs(rng: ReturnType<typeof makeRng>, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    x[i] = r < 0.6 ? rng.uniform(-4, 4) : r < 0.8 ? rng.uniform(-30, 30) : rng.uniform(-1e-3, 1e-3);
  }
  return x;
}

for (const bt of backendsUnderTest()) {
  describe(`kernels on the ${bt.label} backend (seed ${SEED})`, () => {
    test('the backend loads', () => {
      const b = requireBackend(bt);
      expect(b.name).toBe(bt.name);
      const info = b.info();
      expect(info.backend).toBe(bt.name);
      expect(info.threads).toBeGreaterThanOrEqual(1);
      if (bt.name === 'js') expect(info).toMatchObject({ backend: 'js', simd: 'none', threads: 1 });
      else expect(['avx2', 'scalar']).toContain(info.simd);
    });

    const ctx = (kernel: string, shape: string): CheckContext => ({ kernel, shape, seed: SEED, backend: bt.label });

    test('gemm: all transposes, alpha/beta in {0, 1, 0.5, -2}, beta = 0 ignores NaN in C', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED);
      for (const [M, N, K] of GEMM_SHAPES) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const A = randUniform(rng, M * K);
            const B = randUniform(rng, K * N);
            const C0 = randUniform(rng, M * N);
            const prod = refGemm(transA, transB, M, N, K, 1, A, B, 0, C0);
            for (const alpha of ALPHAS_BETAS) {
              for (const beta of ALPHAS_BETAS) {
                const C = beta === 0 ? nanFilled(M * N) : C0.slice();
                b.gemm(transA, transB, M, N, K, alpha, A, B, beta, C);
                const value = new Float64Array(M * N);
                const mag = new Float64Array(M * N);
                for (let i = 0; i < M * N; i++) {
                  const c = beta === 0 ? 0 : beta * C0[i];
                  value[i] = alpha * prod.value[i] + c;
                  mag[i] = Math.abs(alpha) * prod.mag[i] + Math.abs(c);
                }
                expectClose(
                  ctx('gemm', `M=${M} N=${N} K=${K} transA=${transA} transB=${transB} alpha=${alpha} beta=${beta}`),
                  'C', C, value, dotTols(K, mag),
                );
              }
            }
          }
        }
      }
    });

    test('gemm: longer buffers are accepted and only the leading part is written', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 1);
      const [M, N, K] = [5, 7, 9];
      const A = randUniform(rng, M * K + 3);
      const B = randUniform(rng, K * N + 5);
      const C = new Float32Array(M * N + 4).fill(123);
      b.gemm(false, false, M, N, K, 1, A, B, 0, C);
      const ref = refGemm(false, false, M, N, K, 1, A, B, 0, C);
      expectClose(ctx('gemm', 'long buffers'), 'C', C, ref.value, dotTols(K, ref.mag), M * N);
      expect(Array.from(C.subarray(M * N))).toEqual([123, 123, 123, 123]);
    });

    test('linearForward: every activation, with and without bias and preact', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 2);
      for (const [M, N, K] of LINEAR_SHAPES) {
        const X = randUniform(rng, M * K);
        const W = randNormal(rng, N * K, 1 / Math.sqrt(K));
        const bias = randUniform(rng, N);
        for (const act of ACTS) {
          for (const withBias of [true, false]) {
            for (const withPreact of [true, false]) {
              const alpha = 0.1;
              const out = nanFilled(M * N);
              const preact = withPreact ? nanFilled(M * N) : null;
              b.linearForward({ M, N, K, X, W, bias: withBias ? bias : null, act, alpha, out, preact });
              const ref = refLinearForward(M, N, K, X, W, withBias ? bias : null, act, alpha);
              const shape = `M=${M} N=${N} K=${K} act=${act} bias=${withBias} preact=${withPreact}`;
              const zTol = dotTols(K + 1, ref.preact.mag);
              if (preact !== null) expectClose(ctx('linearForward', shape), 'preact', preact, ref.preact.value, zTol);
              expectClose(ctx('linearForward', shape), 'out', out, ref.out, (i) =>
                actOutTol(act, zTol[i], ref.slope[i], ref.out[i], ref.preact.value[i]));
            }
          }
        }
      }
    });

    test('linearBackward: every activation, dX/dB optional, accumulate (dW/dB) and accumulateX (dX) on and off, dZ aliasing dY', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 3);
      for (const [M, N, K] of LINEAR_SHAPES) {
        const X = randUniform(rng, M * K);
        const W = randNormal(rng, N * K, 1 / Math.sqrt(K));
        const bias = randUniform(rng, N);
        for (const act of ACTS) {
          const alpha = 0.2;
          const fwd = refLinearForward(M, N, K, X, W, bias, act, alpha);
          const Y = f32(fwd.out);
          const preact = f32(fwd.preact.value);
          const dY = randUniform(rng, M * N);
          for (const [accumulate, accumulateX] of [[false, false], [true, true], [true, false], [false, true]]) {
            for (const optional of [true, false]) {
              const aliasDZ = optional && accumulate; // one combination writes dZ over dY
              const dX0 = randUniform(rng, M * K);
              const dW0 = randUniform(rng, N * K);
              const dB0 = randUniform(rng, N);
              // An output that is overwritten starts as NaN: reading it would show.
              const dX = optional ? (accumulateX ? dX0.slice() : nanFilled(M * K)) : null;
              const dW = accumulate ? dW0.slice() : nanFilled(N * K);
              const dB = optional ? (accumulate ? dB0.slice() : nanFilled(N)) : null;
              const dYin = dY.slice();
              const dZ = aliasDZ ? dYin : nanFilled(M * N);
              const pre = act === 'gelu' || act === 'geluTanh' || optional ? preact : null;
              b.linearBackward({ M, N, K, X, W, Y, preact: pre, dY: dYin, act, alpha, dZ, dX, dW, dB, accumulate, accumulateX });
              const ref = refLinearBackward(M, N, K, X, W, Y, preact, dY, act, alpha, dX0, dW0, dB0, accumulate, accumulateX);
              const shape = `M=${M} N=${N} K=${K} act=${act} accumulate=${accumulate} accumulateX=${accumulateX} dX/dB=${optional} aliasDZ=${aliasDZ}`;
              const c = ctx('linearBackward', shape);
              const dZTol = Float64Array.from(ref.dZ, (z, i) => actGradTol(act, z, dY[i]));
              expectClose(c, 'dZ', dZ, ref.dZ, dZTol);
              // The sums add their own rounding bound to the dZ tolerance carried through them:
              // dX += |dZtol| |W|, dW += |dZtol|^T |X|, dB += column sums of dZtol.
              const carried = refLinearBackward(M, N, K, X, W, Y, preact, f32(dZTol), 'none', 0, null, dW0, null, false);
              if (dX !== null) expectClose(c, 'dX', dX, ref.dX.value, (i) => dotTol(N + 1, ref.dX.mag[i]) + carried.dX.mag[i]);
              expectClose(c, 'dW', dW, ref.dW.value, (i) => dotTol(M + 1, ref.dW.mag[i]) + carried.dW.mag[i]);
              if (dB !== null) expectClose(c, 'dB', dB, ref.dB.value, (i) => dotTol(M + 1, ref.dB.mag[i]) + carried.dB.mag[i]);
            }
          }
        }
      }
    });

    test('addBias, colSum, rowSum', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 4);
      for (const M of SIZES) {
        for (const N of [1, 3, 17, 65]) {
          const shape = `M=${M} N=${N}`;
          const x = randUniform(rng, M * N, -10, 10);
          const bias = randUniform(rng, N, -10, 10);
          const out = nanFilled(M * N);
          b.addBias(M, N, x, bias, out);
          const ref = new Float64Array(M * N);
          for (let i = 0; i < M * N; i++) ref[i] = x[i] + bias[i % N];
          expectClose(ctx('addBias', shape), 'out', out, ref, (i) => 2 * U32 * (Math.abs(x[i]) + Math.abs(bias[i % N])));
          const inPlace = x.slice();
          b.addBias(M, N, inPlace, bias, inPlace);
          expectClose(ctx('addBias', `${shape} in place`), 'out', inPlace, ref, (i) => 2 * U32 * (Math.abs(x[i]) + Math.abs(bias[i % N])));

          const cs = nanFilled(N);
          b.colSum(M, N, x, cs);
          const csRef = new Float64Array(N);
          const csMag = new Float64Array(N);
          for (let i = 0; i < M * N; i++) {
            csRef[i % N] += x[i];
            csMag[i % N] += Math.abs(x[i]);
          }
          expectClose(ctx('colSum', shape), 'out', cs, csRef, dotTols(M, csMag));

          const rs = nanFilled(M);
          b.rowSum(M, N, x, rs);
          const rsRef = new Float64Array(M);
          const rsMag = new Float64Array(M);
          for (let i = 0; i < M * N; i++) {
            rsRef[Math.floor(i / N)] += x[i];
            rsMag[Math.floor(i / N)] += Math.abs(x[i]);
          }
          expectClose(ctx('rowSum', shape), 'out', rs, rsRef, dotTols(N, rsMag));
        }
      }
    });

    test('add, sub, mul, div, scale, axpy (also in place)', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 5);
      for (const n of COUNTS) {
        const a = randUniform(rng, n, -5, 5);
        const c = randUniform(rng, n, 0.1, 5);
        for (let i = 0; i < n; i += 2) c[i] = -c[i];
        const binary: [string, (n: number, a: Float32Array, b: Float32Array, o: Float32Array) => void, (x: number, y: number) => number][] = [
          ['add', b.add.bind(b), (x, y) => x + y],
          ['sub', b.sub.bind(b), (x, y) => x - y],
          ['mul', b.mul.bind(b), (x, y) => x * y],
          ['div', b.div.bind(b), (x, y) => x / y],
        ];
        for (const [name, fn, op] of binary) {
          const ref = Float64Array.from(a, (x, i) => op(x, c[i]));
          const out = nanFilled(n);
          fn(n, a, c, out);
          expectClose(ctx(name, `n=${n}`), 'out', out, ref, relTol(ref, 1e-6));
          const inPlace = a.slice();
          fn(n, inPlace, c, inPlace);
          expectClose(ctx(name, `n=${n} in place`), 'out', inPlace, ref, relTol(ref, 1e-6));
        }
        for (const s of [0, 1, -2, 0.37]) {
          const ref = Float64Array.from(a, (x) => s * x);
          const out = nanFilled(n);
          b.scale(n, a, s, out);
          expectClose(ctx('scale', `n=${n} s=${s}`), 'out', out, ref, relTol(ref, 1e-6));
          const y = c.slice();
          b.axpy(n, s, a, y);
          const yRef = Float64Array.from(c, (v, i) => v + s * a[i]);
          expectClose(ctx('axpy', `n=${n} alpha=${s}`), 'y', y, yRef, (i) => 4 * U32 * (Math.abs(c[i]) + Math.abs(s * a[i])));
        }
      }
    });

    test('unary ops on random inputs, including log of x <= 0', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 6);
      for (const op of UNARY_OPS) {
        for (const n of COUNTS) {
          const x = op === 'exp' ? randUniform(rng, n, -80, 80) : randUniform(rng, n, op === 'log' || op === 'sqrt' ? 1e-3 : -50, 50);
          if (op === 'log' && n >= 3) {
            x[0] = 0;
            x[1] = -1;
          }
          const ref = Float64Array.from(x, (v) => refUnary(op, v));
          const out = nanFilled(n);
          b.unary(op, n, x, out);
          const rtol = op === 'exp' || op === 'log' ? 2e-6 : 1e-6;
          const atol = op === 'exp' ? 1e-37 : op === 'log' ? 2e-7 : 0;
          expectClose(ctx('unary', `op=${op} n=${n}`), 'out', out, ref, relTol(ref, rtol, atol));
          const inPlace = x.slice();
          b.unary(op, n, inPlace, inPlace);
          expectClose(ctx('unary', `op=${op} n=${n} in place`), 'out', inPlace, ref, relTol(ref, rtol, atol));
        }
      }
    });

    test('sum accumulates accurately (float64 or pairwise)', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 7);
      for (const n of [...COUNTS, 100_003]) {
        const x = randUniform(rng, n, -1, 1);
        for (let i = 0; i < n; i += 7) x[i] += 1000; // large offsets: a naive float32 sum drifts
        let s = 0;
        let m = 0;
        for (let i = 0; i < n; i++) {
          s += x[i];
          m += Math.abs(x[i]);
        }
        scalarClose(ctx('sum', `n=${n}`), 'sum', b.sum(n, x), s, 1e-6 * m);
      }
      expect(b.sum(0, new Float32Array(0))).toBe(0);
    });

    test('activationForward / activationBackward: every activation, in place too', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 8);
      for (const act of ACTS) {
        for (const alpha of [0.01, 0.3]) {
          for (const n of COUNTS) {
            const shape = `act=${act} alpha=${alpha} n=${n}`;
            const x = activationInputs(rng, n);
            const yRef = Float64Array.from(x, (v) => refAct(act, v, alpha));
            const y = nanFilled(n);
            b.activationForward(act, n, x, y, alpha);
            const fTol = (i: number): number => actOutTol(act, 0, 0, yRef[i], x[i]);
            expectClose(ctx('activationForward', shape), 'out', y, yRef, fTol);
            const yIn = x.slice();
            b.activationForward(act, n, yIn, yIn, alpha);
            expectClose(ctx('activationForward', `${shape} in place`), 'out', yIn, yRef, fTol);

            const yStored = f32(yRef);
            const dy = randUniform(rng, n);
            const dxRef = Float64Array.from(dy, (d, i) => d * refActGradFromSaved(act, x[i], yStored[i], alpha));
            const dx = nanFilled(n);
            b.activationBackward(act, n, x, yStored, dy, dx, alpha);
            const bTol = (i: number): number => actGradTol(act, dxRef[i], dy[i]);
            expectClose(ctx('activationBackward', shape), 'dx', dx, dxRef, bTol);
            const dIn = dy.slice();
            b.activationBackward(act, n, x, yStored, dIn, dIn, alpha);
            expectClose(ctx('activationBackward', `${shape} dx aliases dy`), 'dx', dIn, dxRef, bTol);
          }
        }
      }
    });

    test('exp, tanh, sigmoid, gelu, geluTanh at special values: finite and correct, NaN in NaN out', () => {
      const b = requireBackend(bt);
      const specials = f32([
        0, -0, Infinity, -Infinity, NaN, 1e-40, -1e-40, 1.4e-45, -1.4e-45, 1e-30, -1e-30, 0.5, -0.5,
        5, -5, 10, -10, 20, -20, 40, -40, 88, -88, 88.7, 89, -87.3, -103, -104, 100, -100, 1e4, -1e4,
        1e30, -1e30, 3.4e38, -3.4e38,
      ]);
      const n = specials.length;
      // Every problem is collected, so one run lists all bad (activation, input) pairs.
      const problems: string[] = [];
      for (const act of ['sigmoid', 'tanh', 'gelu', 'geluTanh', 'relu', 'leakyRelu'] as Activation[]) {
        const y = nanFilled(n);
        b.activationForward(act, n, specials, y, 0.01);
        const ref = Float32Array.from(specials, (v) => refAct(act, v, 0.01));
        const dy = new Float32Array(n).fill(1);
        const dx = nanFilled(n);
        b.activationBackward(act, n, specials, ref, dy, dx, 0.01);
        for (let i = 0; i < n; i++) {
          const v = specials[i];
          if (Number.isNaN(v)) {
            // NaN in, NaN out (relu-style max(x, 0) may legitimately return 0 or NaN).
            if (act !== 'relu' && act !== 'leakyRelu' && !Number.isNaN(y[i])) problems.push(`${act}(NaN) = ${y[i]}, expected NaN`);
            continue;
          }
          const r = ref[i];
          const tol = actOutTol(act, 0, 0, r, Math.min(Math.abs(v), 10));
          const okValue = Number.isFinite(r) ? Number.isFinite(y[i]) && Math.abs(y[i] - r) <= tol : y[i] === r;
          if (!okValue) problems.push(`${act}(${v}) = ${y[i]}, expected ${r}`);
          // C++ kernels read a denormal saved output as 0 (flush-to-zero, see denormals.test.ts):
          // relu'(1e-40) is then relu'(0). The TS twin (and tiny calls routed to it) keeps it.
          const flushes = bt.label === 'native, C++ at every size';
          const flush = (u: number): number => (flushes && Math.abs(u) < 1.1754943508222875e-38 ? 0 : u);
          const g = refActGradFromSaved(act, flush(v), flush(ref[i]), 0.01);
          const okGrad = Number.isFinite(dx[i]) && Math.abs(dx[i] - g) <= actGradTol(act, g, 1);
          if (!okGrad) problems.push(`${act}'(${v}) = ${dx[i]}, expected ${g}`);
        }
      }
      expect(problems, `[${bt.name}] activations at special values (seed-independent)`).toEqual([]);
      const e = nanFilled(n);
      b.unary('exp', n, specials, e);
      const eRef = Float64Array.from(specials, (v) => Math.fround(Math.exp(v))); // float32 range: exp(89) = inf
      expectClose(ctx('unary', 'op=exp special values'), 'out', e, eRef, relTol(eRef, 2e-6, 1e-37));
      expect(e[2]).toBe(Infinity);
      expect(e[3]).toBe(0);
      expect(e[4]).toBeNaN();
      const l = nanFilled(4);
      b.unary('log', 4, f32([0, -1, Infinity, NaN]), l);
      expect(l[0]).toBe(-Infinity);
      expect(l[1]).toBeNaN();
      expect(l[2]).toBe(Infinity);
      expect(l[3]).toBeNaN();
    });

    test('softmax and logSoftmax: random rows and stability for logits of +-1e4', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 9);
      const cases: [number, number, Float32Array][] = [];
      for (const M of [1, 3, 17]) for (const N of SIZES) cases.push([M, N, randUniform(rng, M * N, -10, 10)]);
      cases.push([4, 65, randUniform(rng, 4 * 65, -1e4, 1e4)]);
      cases.push([3, 4, f32([1e4, -1e4, 0, 1e4, -1e4, -1e4, -1e4, -1e4, 1e4, 1e4, 1e4, 1e4])]);
      for (const [M, N, x] of cases) {
        const shape = `M=${M} N=${N} max|x|=${Math.max(...Array.from(x, Math.abs))}`;
        const ref = refSoftmax(M, N, x);
        const out = nanFilled(M * N);
        b.softmax(M, N, x, out);
        expectClose(ctx('softmax', shape), 'out', out, ref, relTol(ref, 3e-6 + 2 * N * U32, 1e-37));
        const lref = refLogSoftmax(M, N, x);
        const lse = refLogSumExp(M, N, x);
        const lout = nanFilled(M * N);
        b.logSoftmax(M, N, x, lout);
        expectClose(ctx('logSoftmax', shape), 'out', lout, lref, (i) => {
          const r = Math.floor(i / N);
          return 4 * U32 * (Math.abs(x[i]) + 2 * Math.abs(lse[r])) + 2 * N * U32 + 2e-6;
        });
        for (let i = 0; i < M * N; i++) {
          expect(Number.isFinite(out[i]) && Number.isFinite(lout[i]) || lref[i] === -Infinity, `${shape}: finite at ${i}`).toBe(true);
        }
      }
    });

    test('softmaxBackward and logSoftmaxBackward', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 10);
      for (const M of [1, 3, 17]) {
        for (const N of SIZES) {
          const shape = `M=${M} N=${N}`;
          const x = randUniform(rng, M * N, -5, 5);
          const y = f32(refSoftmax(M, N, x));
          const ly = f32(refLogSoftmax(M, N, x));
          const dy = randUniform(rng, M * N);
          const ref = refSoftmaxBackward(M, N, y, dy);
          const dx = nanFilled(M * N);
          b.softmaxBackward(M, N, y, dy, dx);
          expectClose(ctx('softmaxBackward', shape), 'dx', dx, ref.value, (i) => 2 * U32 * ref.mag[i] + 4 * U32 * Math.abs(ref.value[i]));
          const lref = refLogSoftmaxBackward(M, N, ly, dy);
          const ldx = nanFilled(M * N);
          b.logSoftmaxBackward(M, N, ly, dy, ldx);
          expectClose(ctx('logSoftmaxBackward', shape), 'dx', ldx, lref.value, (i) => 2e-6 * lref.mag[i] + 4 * U32 * Math.abs(lref.value[i]));
          const inPlace = dy.slice();
          b.softmaxBackward(M, N, y, inPlace, inPlace);
          expectClose(ctx('softmaxBackward', `${shape} dx aliases dy`), 'dx', inPlace, ref.value, (i) => 2 * U32 * ref.mag[i] + 4 * U32 * Math.abs(ref.value[i]));
        }
      }
    });

    test('softmaxCrossEntropy: mean loss, per-row losses, gradient; large logits; bad labels', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 11);
      const cases: [number, number, number][] = [[1, 1, 5], [1, 3, 5], [3, 17, 5], [17, 10, 20], [65, 257, 5], [5, 10, 1e4]];
      for (const [M, N, scale] of cases) {
        const shape = `M=${M} N=${N} |logits|<=${scale}`;
        const logits = randUniform(rng, M * N, -scale, scale);
        const labels = randLabels(rng, M, N);
        const ref = refSoftmaxCrossEntropy(M, N, logits, labels);
        const rowTol = (i: number): number => {
          let mx = -Infinity;
          for (let j = 0; j < N; j++) mx = Math.max(mx, logits[i * N + j]);
          return 4 * U32 * (Math.abs(ref.lse[i]) + Math.abs(logits[i * N + labels[i]]) + Math.abs(mx)) + 2 * N * U32 + 2e-6;
        };
        for (const [withGrad, withLosses] of [[true, true], [false, false], [true, false], [false, true]]) {
          const grad = withGrad ? nanFilled(M * N) : null;
          const losses = withLosses ? nanFilled(M) : null;
          const loss = b.softmaxCrossEntropy({ M, N, logits, labels, grad, losses });
          let lossTol = 0;
          for (let i = 0; i < M; i++) lossTol += rowTol(i);
          scalarClose(ctx('softmaxCrossEntropy', shape), 'mean loss', loss, ref.loss, lossTol / M + 4 * U32 * Math.abs(ref.loss));
          if (losses !== null) expectClose(ctx('softmaxCrossEntropy', shape), 'losses', losses, ref.losses, rowTol);
          if (grad !== null) {
            expectClose(ctx('softmaxCrossEntropy', shape), 'grad', grad, ref.grad, (i) =>
              ((3e-6 + 2 * N * U32) * ref.probs[i] + 2 * U32) / M + 1e-37);
          }
        }
      }
      const logits = randUniform(rng, 40);
      expect(() => b.softmaxCrossEntropy({ M: 4, N: 10, logits, labels: Int32Array.from([0, 1, 2, 12]) }))
        .toThrow('softmaxCrossEntropy: label 12 at row 3 is out of range [0, 10)');
      expect(() => b.softmaxCrossEntropy({ M: 4, N: 10, logits, labels: Int32Array.from([0, -1, 2, 3]) }))
        .toThrow('softmaxCrossEntropy: label -1 at row 1 is out of range [0, 10)');
    });

    test('mseLoss and mseBackward', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 12);
      for (const n of COUNTS.filter((c) => c > 0)) {
        const pred = randUniform(rng, n, -3, 3);
        const target = randUniform(rng, n, -3, 3);
        let s = 0;
        for (let i = 0; i < n; i++) s += (pred[i] - target[i]) ** 2;
        scalarClose(ctx('mseLoss', `n=${n}`), 'loss', b.mseLoss(n, pred, target), s / n, (4 * U32 + 2 * (n + 2) * U32) * (s / n));
        const grad = nanFilled(n);
        b.mseBackward(n, pred, target, grad);
        const gRef = Float64Array.from(pred, (p, i) => (2 * (p - target[i])) / n);
        expectClose(ctx('mseBackward', `n=${n}`), 'grad', grad, gRef, relTol(gRef, 1e-6));
      }
    });

    const STEPS = 6;

    test('sgdStep over several steps: plain, momentum, nesterov, weight decay', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 13);
      const configs = [
        { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
        { lr: 0.05, momentum: 0, weightDecay: 0.01, nesterov: false },
        { lr: 0.05, momentum: 0.9, weightDecay: 0, nesterov: false },
        { lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true },
      ];
      for (const n of [1, 17, 257]) {
        for (const c of configs) {
          const shape = `n=${n} ${JSON.stringify(c)}`;
          const param = randUniform(rng, n);
          const velocity = c.momentum !== 0 ? new Float32Array(n) : null;
          const p64 = Float64Array.from(param);
          const v64 = new Float64Array(n);
          let maxStep = 0;
          const vMag = new Float64Array(n); // EMA of |g|: the scale of velocity's rounding error
          for (let s = 0; s < STEPS; s++) {
            const grad = randUniform(rng, n);
            const before = Float64Array.from(p64);
            for (let i = 0; i < n; i++) vMag[i] = c.momentum * vMag[i] + Math.abs(grad[i] + c.weightDecay * p64[i]);
            b.sgdStep({ n, param, grad, velocity, lr: c.lr, momentum: c.momentum, weightDecay: c.weightDecay, nesterov: c.nesterov });
            refSgdStep(p64, grad, c.momentum !== 0 ? v64 : null, c.lr, c.momentum, c.weightDecay, c.nesterov);
            for (let i = 0; i < n; i++) maxStep = Math.max(maxStep, Math.abs(p64[i] - before[i]) / c.lr);
          }
          expectClose(ctx('sgdStep', shape), 'param', param, p64, (i) => STEPS * (8 * U32 * Math.abs(p64[i]) + 1e-6 * c.lr * maxStep));
          if (velocity !== null) expectClose(ctx('sgdStep', shape), 'velocity', velocity, v64, (i) => STEPS * 8 * U32 * vMag[i]);
        }
      }
    });

    test('adamStep over several steps: Adam and AdamW, with and without weight decay', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 14);
      const configs = [
        { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
        { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: false },
        { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: true },
        { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: true },
      ];
      for (const n of [1, 17, 257]) {
        for (const c of configs) {
          const shape = `n=${n} ${JSON.stringify(c)}`;
          const param = randUniform(rng, n);
          const m = new Float32Array(n);
          const v = new Float32Array(n);
          const p64 = Float64Array.from(param);
          const m64 = new Float64Array(n);
          const v64 = new Float64Array(n);
          const mMag = new Float64Array(n); // EMAs of |g| and g^2: the scale of m's and v's rounding error
          const vMag = new Float64Array(n);
          for (let s = 1; s <= STEPS; s++) {
            const grad = randUniform(rng, n);
            for (let i = 0; i < n; i++) {
              const g = Math.abs(grad[i] + (c.decoupled ? 0 : c.weightDecay * p64[i]));
              mMag[i] = c.beta1 * mMag[i] + (1 - c.beta1) * g;
              vMag[i] = c.beta2 * vMag[i] + (1 - c.beta2) * g * g;
            }
            b.adamStep({ n, param, grad, m, v, step: s, lr: c.lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay, decoupled: c.decoupled });
            refAdamStep(p64, grad, m64, v64, s, c.lr, c.beta1, c.beta2, c.eps, c.weightDecay, c.decoupled);
          }
          // Each Adam step moves a parameter by at most about lr / (1 - beta1) in magnitude.
          const maxStep = 1 / (1 - c.beta1);
          expectClose(ctx('adamStep', shape), 'param', param, p64, (i) => STEPS * (8 * U32 * Math.abs(p64[i]) + 1e-6 * c.lr * maxStep));
          expectClose(ctx('adamStep', shape), 'm', m, m64, (i) => STEPS * 8 * U32 * mMag[i]);
          expectClose(ctx('adamStep', shape), 'v', v, v64, (i) => STEPS * 8 * U32 * vMag[i]);
        }
      }
    });

    test('rmspropStep over several steps: with and without momentum and weight decay', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 15);
      const configs = [
        { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0 },
        { lr: 1e-2, alpha: 0.9, eps: 1e-6, weightDecay: 0.01, momentum: 0 },
        { lr: 1e-3, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0.9 },
        { lr: 1e-3, alpha: 0.95, eps: 1e-8, weightDecay: 0.05, momentum: 0.5 },
      ];
      for (const n of [1, 17, 257]) {
        for (const c of configs) {
          const shape = `n=${n} ${JSON.stringify(c)}`;
          const param = randUniform(rng, n);
          const sq = new Float32Array(n);
          const buf = c.momentum > 0 ? new Float32Array(n) : null;
          const p64 = Float64Array.from(param);
          const sq64 = new Float64Array(n);
          const buf64 = new Float64Array(n);
          let maxStep = 0;
          const bufMag = new Float64Array(n); // EMA of |g / (sqrt(sq) + eps)|: the scale of buf's error
          for (let s = 0; s < STEPS; s++) {
            const grad = randUniform(rng, n);
            const before = Float64Array.from(p64);
            for (let i = 0; i < n; i++) {
              const g = grad[i] + c.weightDecay * p64[i];
              const sqNext = c.alpha * sq64[i] + (1 - c.alpha) * g * g;
              bufMag[i] = c.momentum * bufMag[i] + Math.abs(g) / (Math.sqrt(sqNext) + c.eps);
            }
            b.rmspropStep({ n, param, grad, sq, buf, lr: c.lr, alpha: c.alpha, eps: c.eps, weightDecay: c.weightDecay, momentum: c.momentum });
            refRmspropStep(p64, grad, sq64, c.momentum > 0 ? buf64 : null, c.lr, c.alpha, c.eps, c.weightDecay, c.momentum);
            for (let i = 0; i < n; i++) maxStep = Math.max(maxStep, Math.abs(p64[i] - before[i]) / c.lr);
          }
          expectClose(ctx('rmspropStep', shape), 'param', param, p64, (i) => STEPS * (8 * U32 * Math.abs(p64[i]) + 1e-6 * c.lr * maxStep));
          expectClose(ctx('rmspropStep', shape), 'sq', sq, sq64, relTol(sq64, STEPS * 4e-6, 1e-12));
          if (buf !== null) expectClose(ctx('rmspropStep', shape), 'buf', buf, buf64, (i) => STEPS * 8 * U32 * bufMag[i]);
        }
      }
    });

    test('forwardAsync matches the synchronous layer chain; concurrent calls are independent', async () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED + 16);
      const makeLayers = (dims: number[], acts: Activation[]): PlanLayer[] =>
        acts.map((act, l) => ({
          N: dims[l + 1], K: dims[l], W: randNormal(rng, dims[l + 1] * dims[l], 1 / Math.sqrt(dims[l])),
          bias: l % 2 === 0 ? randUniform(rng, dims[l + 1], -0.1, 0.1) : null, act, alpha: 0.05,
        }));
      const sync = (M: number, layers: PlanLayer[], X: Float32Array, softmax: boolean): Float32Array => {
        let cur = X;
        for (const L of layers) {
          const out = new Float32Array(M * L.N);
          b.linearForward({ M, N: L.N, K: L.K, X: cur, W: L.W, bias: L.bias, act: L.act, alpha: L.alpha, out });
          cur = out;
        }
        if (softmax) b.softmax(M, layers[layers.length - 1].N, cur.slice(), cur);
        return cur;
      };
      const plans: [number, number[], Activation[], boolean][] = [
        [1, [3, 1], ['none'], false],
        [17, [65, 33, 10], ['relu', 'none'], true],
        [300, [64, 128, 128, 10], ['gelu', 'leakyRelu', 'tanh'], true],
        [5, [7, 9, 3], ['sigmoid', 'geluTanh'], false],
      ];
      const runs = plans.map(([M, dims, acts, softmax]) => {
        const layers = makeLayers(dims, acts);
        const X = randUniform(rng, M * dims[0]);
        const out = nanFilled(M * dims[dims.length - 1]);
        return { M, layers, X, out, softmax, expected: sync(M, layers, X, softmax) };
      });
      await Promise.all(runs.map((r) => b.forwardAsync(r.M, r.layers, r.X, r.out, r.softmax)));
      for (const r of runs) {
        const shape = `M=${r.M} layers=${r.layers.map((L) => `${L.K}->${L.N}:${L.act}`).join(',')} softmax=${r.softmax}`;
        expectClose(ctx('forwardAsync', shape), 'out', r.out, r.expected, relTol(r.expected, 1e-5, 1e-6));
      }
    });

    if (bt.name === 'js') {
      test('forwardAsync (js) lets the event loop run between row slices', async () => {
        const b = requireBackend(bt);
        const rng = makeRng(SEED + 17);
        const [M, K, N] = [256, 256, 256];
        const layers: PlanLayer[] = [
          { N, K, W: randUniform(rng, N * K), bias: null, act: 'relu', alpha: 0 },
          { N, K: N, W: randUniform(rng, N * N), bias: null, act: 'none', alpha: 0 },
        ];
        let ticks = 0;
        let running = true;
        const tick = (): void => {
          ticks++;
          if (running) setImmediate(tick);
        };
        setImmediate(tick);
        await b.forwardAsync(M, layers, randUniform(rng, M * K), new Float32Array(M * N), false);
        running = false;
        // 256 rows x 65536 multiply-adds per layer is several slices, each followed by a loop turn.
        expect(ticks).toBeGreaterThan(2);
      });
    }

    test('forwardAsync fails (throws or rejects) on mismatched layers and short buffers', async () => {
      const b = requireBackend(bt);
      const L1: PlanLayer = { N: 4, K: 3, W: new Float32Array(12), bias: null, act: 'relu', alpha: 0 };
      const L2: PlanLayer = { N: 2, K: 5, W: new Float32Array(10), bias: null, act: 'none', alpha: 0 };
      await expect((async () => b.forwardAsync(2, [L1, L2], new Float32Array(6), new Float32Array(4), false))()).rejects.toThrow(/forwardAsync/);
      await expect((async () => b.forwardAsync(2, [L1], new Float32Array(5), new Float32Array(8), false))()).rejects.toThrow(/forwardAsync/);
    });

    test('invalid arguments throw errors naming the kernel and sizes', () => {
      const b = requireBackend(bt);
      const z = (n: number): Float32Array => new Float32Array(n);
      expect(() => b.gemm(false, false, 3, 4, 4, 1, z(10), z(16), 0, z(12)))
        .toThrow('gemm: A has 10 elements, expected M*K = 12 (M=3, K=4)');
      expect(() => b.gemm(false, false, 3, 4, 4, 1, z(12), z(15), 0, z(12))).toThrow(/^gemm: B has 15 elements/);
      expect(() => b.gemm(false, false, 3, 4, 4, 1, z(12), z(16), 0, z(11))).toThrow(/^gemm: C has 11 elements/);
      expect(() => b.gemm(false, false, 0, 4, 4, 1, z(12), z(16), 0, z(12))).toThrow(/^gemm: .*M/);
      expect(() => b.gemm(false, false, 2.5, 4, 4, 1, z(12), z(16), 0, z(12))).toThrow(/^gemm: .*M/);
      expect(() => b.linearForward({ M: 2, N: 3, K: 4, X: z(8), W: z(11), act: 'relu', alpha: 0, out: z(6) })).toThrow(/^linearForward: W has 11 elements/);
      expect(() => b.linearForward({ M: 2, N: 3, K: 4, X: z(8), W: z(12), bias: z(2), act: 'relu', alpha: 0, out: z(6) })).toThrow(/^linearForward: bias has 2 elements/);
      expect(() => b.linearForward({ M: 2, N: 3, K: 4, X: z(8), W: z(12), act: 'swish' as Activation, alpha: 0, out: z(6) })).toThrow(/^linearForward: .*swish/);
      expect(() => b.linearBackward({ M: 2, N: 3, K: 4, X: z(8), W: z(12), Y: z(6), preact: z(6), dY: z(5), act: 'relu', alpha: 0, dZ: z(6), dW: z(12), accumulate: false, accumulateX: false }))
        .toThrow(/^linearBackward: dY has 5 elements/);
      expect(() => b.add(5, z(5), z(4), z(5))).toThrow(/^add: .*4/);
      expect(() => b.unary('exp', 5, z(5), z(4))).toThrow(/^unary: .*4/);
      expect(() => b.softmax(2, 3, z(6), z(5))).toThrow(/^softmax: .*5/);
      expect(() => b.softmaxCrossEntropy({ M: 2, N: 3, logits: z(6), labels: new Int32Array(1) })).toThrow(/^softmaxCrossEntropy: .*labels/);
      expect(() => b.adamStep({ n: 4, param: z(4), grad: z(4), m: z(3), v: z(4), step: 1, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false })).toThrow(/^adamStep: m has 3 elements/);
      expect(() => b.sum(4, z(3))).toThrow(/^sum: .*3/);
    });
  });
}
