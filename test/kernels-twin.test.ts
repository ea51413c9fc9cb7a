// Native vs js on identical inputs: the two backends agree within the sum of their reference tolerances.
//
// Each check allows twice the per-kernel tolerance documented in kernels.test.ts (both backends
// may sit on opposite sides of the float64 reference). Fails (does not skip) when the native
// addon cannot load, unless MYELIN_BACKEND=js.
import { describe, expect, test } from 'vitest';
import type { Activation, Backend, UnaryOp } from '../lib/backend/contract';
import { ACTIVATION_CODE, UNARY_CODE } from '../lib/backend/contract';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import {
  type CheckContext, U32, dotTol, expectClose, freshSeed, makeRng, randLabels, randNormal, randUniform,
  refGemm, refLinearBackward, refLinearForward, refSoftmaxCrossEntropy,
} from './helpers/reference';

const SEED = freshSeed();
const ACTS = Object.keys(ACTIVATION_CODE) as Activation[];
const UNARY_OPS = Object.keys(UNARY_CODE) as UnaryOp[];
const nativeEntry = backendsUnderTest().find((b) => b.name === 'native');
const jsEntry = backendsUnderTest().find((b) => b.name === 'js');

/** Runs fn on a fresh copy of the outputs for each backend and returns both results. */
function both<T>(fn: (b: Backend) => T): [T, T] {
  const native = requireBackend(nativeEntry ?? { name: 'native', backend: null, loadError: 'not requested' });
  const js = requireBackend(jsEntry ?? { name: 'js', backend: null, loadError: 'missing' });
  return [fn(native), fn(js)];
}

const ctx = (kernel: string, shape: string): CheckContext => ({ kernel, shape, seed: SEED, backend: 'native vs js' });

if (nativeEntry !== undefined) describe(`native and js agree on the same inputs (seed ${SEED})`, () => {
  test('gemm, all transposes', () => {
    const rng = makeRng(SEED);
    for (const [M, N, K] of [[1, 65, 17], [17, 3, 257], [65, 65, 65], [150, 40, 300]] as const) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const A = randUniform(rng, M * K);
          const B = randUniform(rng, K * N);
          const C0 = randUniform(rng, M * N);
          const [cn, cj] = both((b) => {
            const C = C0.slice();
            b.gemm(transA, transB, M, N, K, 0.5, A, B, -2, C);
            return C;
          });
          const ref = refGemm(transA, transB, M, N, K, 0.5, A, B, -2, C0);
          expectClose(ctx('gemm', `M=${M} N=${N} K=${K} transA=${transA} transB=${transB}`), 'C', cn, cj, (i) => 2 * dotTol(K, ref.mag[i]));
        }
      }
    }
  });

  test('linearForward and linearBackward, every activation', () => {
    const rng = makeRng(SEED + 1);
    const [M, N, K] = [33, 17, 65];
    for (const act of ACTS) {
      const X = randUniform(rng, M * K);
      const W = randNormal(rng, N * K, 1 / Math.sqrt(K));
      const bias = randUniform(rng, N);
      const ref = refLinearForward(M, N, K, X, W, bias, act, 0.1);
      const [fn, fj] = both((b) => {
        const out = new Float32Array(M * N);
        const pre = new Float32Array(M * N);
        b.linearForward({ M, N, K, X, W, bias, act, alpha: 0.1, out, preact: pre });
        return { out, pre };
      });
      const zTol = (i: number): number => 2 * dotTol(K + 1, ref.preact.mag[i]);
      expectClose(ctx('linearForward', `act=${act}`), 'preact', fn.pre, fj.pre, zTol);
      expectClose(ctx('linearForward', `act=${act}`), 'out', fn.out, fj.out, (i) =>
        3 * zTol(i) * Math.max(1, ref.slope[i]) + 4e-6 * Math.abs(ref.out[i]) + 6e-7 * Math.abs(ref.preact.value[i]) + 1e-37);

      const Y = Float32Array.from(ref.out);
      const preact = Float32Array.from(ref.preact.value);
      const dY = randUniform(rng, M * N);
      const bref = refLinearBackward(M, N, K, X, W, Y, preact, dY, act, 0.1, null, new Float32Array(N * K), null, false);
      const [bn, bj] = both((b) => {
        const dZ = new Float32Array(M * N);
        const dX = new Float32Array(M * K);
        const dW = new Float32Array(N * K);
        const dB = new Float32Array(N);
        b.linearBackward({ M, N, K, X, W, Y, preact, dY, act, alpha: 0.1, dZ, dX, dW, dB, accumulate: false, accumulateX: false });
        return { dZ, dX, dW, dB };
      });
      const c = ctx('linearBackward', `act=${act}`);
      const dZTol = Float32Array.from(bref.dZ, (z, i) => 4e-6 * Math.abs(z) + 2e-6 * Math.abs(dY[i]) + 1e-37);
      expectClose(c, 'dZ', bn.dZ, bj.dZ, dZTol);
      // Sums carry the dZ tolerance through: |dZtol| |W|, |dZtol|^T |X|, column sums of dZtol.
      const carried = refLinearBackward(M, N, K, X, W, Y, preact, dZTol, 'none', 0, null, new Float32Array(N * K), null, false);
      expectClose(c, 'dX', bn.dX, bj.dX, (i) => 2 * dotTol(N + 1, bref.dX.mag[i]) + carried.dX.mag[i]);
      expectClose(c, 'dW', bn.dW, bj.dW, (i) => 2 * dotTol(M + 1, bref.dW.mag[i]) + carried.dW.mag[i]);
      expectClose(c, 'dB', bn.dB, bj.dB, (i) => 2 * dotTol(M + 1, bref.dB.mag[i]) + carried.dB.mag[i]);
    }
  });

  test('activations and unary ops', () => {
    const rng = makeRng(SEED + 2);
    const n = 1001;
    const x = randUniform(rng, n, -12, 12);
    for (const act of ACTS) {
      const [yn, yj] = both((b) => {
        const y = new Float32Array(n);
        b.activationForward(act, n, x, y, 0.02);
        return y;
      });
      expectClose(ctx('activationForward', `act=${act}`), 'out', yn, yj, (i) => 4e-6 * Math.abs(yj[i]) + 6e-7 * Math.abs(x[i]) + 1e-37);
      const dy = randUniform(rng, n);
      const [dn, dj] = both((b) => {
        const dx = new Float32Array(n);
        b.activationBackward(act, n, x, yj, dy, dx, 0.02);
        return dx;
      });
      expectClose(ctx('activationBackward', `act=${act}`), 'dx', dn, dj, (i) => 4e-6 * Math.abs(dj[i]) + 2e-6 * Math.abs(dy[i]) + 1e-37);
    }
    const pos = randUniform(rng, n, 1e-3, 20);
    for (const op of UNARY_OPS) {
      const input = op === 'log' || op === 'sqrt' ? pos : x;
      const [un, uj] = both((b) => {
        const out = new Float32Array(n);
        b.unary(op, n, input, out);
        return out;
      });
      expectClose(ctx('unary', `op=${op}`), 'out', un, uj, (i) => 4e-6 * Math.abs(uj[i]) + 4e-7);
    }
    const [sn, sj] = both((b) => b.sum(n, x));
    let mag = 0;
    for (let i = 0; i < n; i++) mag += Math.abs(x[i]);
    expect(Math.abs(sn - sj), `sum: native ${sn} vs js ${sj} (seed ${SEED})`).toBeLessThanOrEqual(2e-6 * mag);
  });

  test('softmax, logSoftmax, softmaxCrossEntropy (including logits of 1e4)', () => {
    const rng = makeRng(SEED + 3);
    for (const [M, N, scale] of [[7, 10, 5], [3, 257, 20], [4, 33, 1e4]] as const) {
      const x = randUniform(rng, M * N, -scale, scale);
      const [pn, pj] = both((b) => {
        const out = new Float32Array(M * N);
        b.softmax(M, N, x, out);
        return out;
      });
      expectClose(ctx('softmax', `M=${M} N=${N} scale=${scale}`), 'out', pn, pj, (i) => (6e-6 + 4 * N * U32) * Math.abs(pj[i]) + 1e-37);
      const [ln, lj] = both((b) => {
        const out = new Float32Array(M * N);
        b.logSoftmax(M, N, x, out);
        return out;
      });
      expectClose(ctx('logSoftmax', `M=${M} N=${N} scale=${scale}`), 'out', ln, lj, (i) => 8 * U32 * (Math.abs(lj[i]) + 2 * scale) + 4 * N * U32 + 4e-6);
      const labels = randLabels(rng, M, N);
      const ref = refSoftmaxCrossEntropy(M, N, x, labels);
      const [cn, cj] = both((b) => {
        const grad = new Float32Array(M * N);
        const losses = new Float32Array(M);
        const loss = b.softmaxCrossEntropy({ M, N, logits: x, labels, grad, losses });
        return { loss, grad, losses };
      });
      const c = ctx('softmaxCrossEntropy', `M=${M} N=${N} scale=${scale}`);
      const lossTol = 8 * U32 * 3 * scale + 4 * N * U32 + 4e-6;
      expectClose(c, 'loss', [cn.loss], [cj.loss], [lossTol]);
      expectClose(c, 'losses', cn.losses, cj.losses, () => lossTol);
      expectClose(c, 'grad', cn.grad, cj.grad, (i) => ((6e-6 + 4 * N * U32) * ref.probs[i] + 4 * U32) / M + 1e-37);
    }
  });

  test('optimizers over several steps', () => {
    const rng = makeRng(SEED + 4);
    const n = 513;
    const steps = 5;
    const grads = Array.from({ length: steps }, () => randUniform(rng, n));
    const p0 = randUniform(rng, n);
    const run = (step: (b: Backend, p: Float32Array, s: number) => void): [Float32Array, Float32Array] =>
      both((b) => {
        const p = p0.slice();
        for (let s = 0; s < steps; s++) step(b, p, s);
        return p;
      });
    const sgdV = new Map<Backend, Float32Array>();
    const [sn, sj] = run((b, p, s) => {
      if (!sgdV.has(b)) sgdV.set(b, new Float32Array(n));
      b.sgdStep({ n, param: p, grad: grads[s], velocity: sgdV.get(b) ?? null, lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true });
    });
    expectClose(ctx('sgdStep', `n=${n} steps=${steps}`), 'param', sn, sj, (i) => steps * (16 * U32 * Math.abs(sj[i]) + 2e-6 * 0.05 * 10));
    const adam = new Map<Backend, [Float32Array, Float32Array]>();
    const [an, aj] = run((b, p, s) => {
      if (!adam.has(b)) adam.set(b, [new Float32Array(n), new Float32Array(n)]);
      const [m, v] = adam.get(b) ?? [new Float32Array(n), new Float32Array(n)];
      b.adamStep({ n, param: p, grad: grads[s], m, v, step: s + 1, lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true });
    });
    expectClose(ctx('adamStep', `n=${n} steps=${steps} AdamW`), 'param', an, aj, (i) => steps * (16 * U32 * Math.abs(aj[i]) + 2e-6 * 1e-2 * 10));
    const rms = new Map<Backend, [Float32Array, Float32Array]>();
    const [rn, rj] = run((b, p, s) => {
      if (!rms.has(b)) rms.set(b, [new Float32Array(n), new Float32Array(n)]);
      const [sq, buf] = rms.get(b) ?? [new Float32Array(n), new Float32Array(n)];
      b.rmspropStep({ n, param: p, grad: grads[s], sq, buf, lr: 1e-3, alpha: 0.99, eps: 1e-8, weightDecay: 0.01, momentum: 0.9 });
    });
    expectClose(ctx('rmspropStep', `n=${n} steps=${steps}`), 'param', rn, rj, (i) => steps * (16 * U32 * Math.abs(rj[i]) + 2e-6 * 1e-3 * 20));
  });
});

if (nativeEntry === undefined) describe('native vs js agreement (MYELIN_BACKEND=js: native not tested)', () => {
  test('the js backend is available', () => {
    expect(jsEntry?.backend?.name).toBe('js');
  });
});
