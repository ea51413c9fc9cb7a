// forwardDense (the whole dense stack in one call, rows split across threads natively) vs a chain of linearForward calls.
import { describe, it, expect } from 'vitest';
import type { Activation, Backend, PlanLayer } from '../lib/backend/contract';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import { freshSeed, makeRng, randUniform, type Rng } from './helpers/reference';

const SEED = freshSeed();
const ACTS: Activation[] = ['none', 'relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu', 'geluTanh'];

function randomStack(rng: Rng, widths: number[]): PlanLayer[] {
  const layers: PlanLayer[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const K = widths[i];
    const N = widths[i + 1];
    layers.push({
      N, K,
      W: randUniform(rng, N * K, -1 / Math.sqrt(K), 1 / Math.sqrt(K)),
      bias: rng.next() < 0.8 ? randUniform(rng, N, -0.1, 0.1) : null,
      act: ACTS[Math.floor(rng.next() * ACTS.length)],
      alpha: 0.05,
    });
  }
  return layers;
}

function chain(b: Backend, M: number, layers: PlanLayer[], X: Float32Array, softmax: boolean): Float32Array {
  let h = X;
  for (const l of layers) {
    const y = new Float32Array(M * l.N);
    b.linearForward({ M, N: l.N, K: l.K, X: h, W: l.W, bias: l.bias, act: l.act, alpha: l.alpha, out: y });
    h = y;
  }
  if (softmax) b.softmax(M, layers[layers.length - 1].N, h, h);
  return h;
}

function expectNear(actual: Float32Array, expected: Float32Array, what: string, rtol = 1e-5, atol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const tol = rtol * Math.abs(expected[i]) + atol;
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`${what}: index ${i}: got ${actual[i]}, expected ${expected[i]} (seed ${SEED})`);
    }
  }
}

const nativeEntry = backendsUnderTest().find((b) => b.label === 'native, C++ at every size');
const jsEntry = backendsUnderTest().find((b) => b.name === 'js');

// Not only each backend against itself: the C++ stack against the pure-TS twin (forwardDense and the
// chain of linearForward calls there). Dot products accumulate in float32 (C++) and float64 (TS), so
// the tolerance grows with the layer widths (up to 784 terms here).
describe.runIf(nativeEntry !== undefined)(`forwardDense: native against the pure-TS twin (seed ${SEED})`, () => {
  it('the same outputs on awkward shapes, with and without softmax, from plain and frozen (packed) layers', () => {
    const native = requireBackend(nativeEntry!);
    const js = requireBackend(jsEntry!);
    const rng = makeRng(SEED ^ 0x7a7a);
    for (const M of [1, 2, 3, 4, 17, 65, 257]) {
      for (const widths of [[5, 3], [17, 65, 3], [784, 256, 128, 10], [33, 1, 7], [3, 257, 65], [257, 120, 1]]) {
        const layers = randomStack(rng, widths);
        const X = randUniform(rng, M * widths[0], 0, 1);
        for (const softmax of [false, true]) {
          const outN = new Float32Array(M * widths[widths.length - 1]);
          const outJ = new Float32Array(outN.length);
          native.forwardDense(M, layers, X, outN, softmax);
          js.forwardDense(M, layers, X, outJ, softmax);
          const what = `M=${M} widths=${widths.join('-')} softmax=${softmax}`;
          expectNear(outN, outJ, `native vs js forwardDense ${what}`, 1e-4, 1e-5);
          expectNear(outN, chain(js, M, layers, X, softmax), `native forwardDense vs js linearForward chain ${what}`, 1e-4, 1e-5);
          // A frozen plan's packed weights (few rows: the packed GEMV) give the same bits as the layers read in place.
          const outF = new Float32Array(outN.length);
          native.forwardDense(M, native.freezePlan(layers), X, outF, softmax);
          for (let i = 0; i < outN.length; i++) if (!Object.is(outF[i], outN[i])) throw new Error(`frozen vs plain forwardDense ${what}: index ${i}: ${outF[i]} vs ${outN[i]} (seed ${SEED})`);
        }
      }
    }
  });
});

for (const bt of backendsUnderTest()) {
  describe(`forwardDense on the ${bt.label} backend (seed ${SEED})`, () => {
    it('matches a chain of linearForward calls on awkward shapes, with and without softmax', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED);
      for (const M of [1, 3, 17, 65, 257, 1024]) {
        for (const widths of [[5, 3], [17, 65, 3], [784, 256, 128, 10], [33, 1, 7]]) {
          const layers = randomStack(rng, widths);
          const X = randUniform(rng, M * widths[0], 0, 1);
          for (const softmax of [false, true]) {
            const out = new Float32Array(M * widths[widths.length - 1]);
            b.forwardDense(M, layers, X, out, softmax);
            expectNear(out, chain(b, M, layers, X, softmax), `M=${M} widths=${widths.join('-')} softmax=${softmax}`);
          }
        }
      }
    });

    it('agrees with forwardAsync', async () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED ^ 0x5a5a);
      const layers = randomStack(rng, [64, 48, 10]);
      const M = 300;
      const X = randUniform(rng, M * 64, 0, 1);
      const a = new Float32Array(M * 10);
      const d = new Float32Array(M * 10);
      await b.forwardAsync(M, layers, X, a, true);
      b.forwardDense(M, layers, X, d, true);
      expectNear(d, a, 'forwardDense vs forwardAsync');
    });

    it('rejects bad plans with an Error naming forwardDense and the layer', () => {
      const b = requireBackend(bt);
      const rng = makeRng(SEED);
      const layers = randomStack(rng, [8, 4, 2]);
      const X = new Float32Array(3 * 8);
      const out = new Float32Array(3 * 2);
      expect(() => b.forwardDense(3, [layers[1], layers[0]], X, out, false)).toThrow(/forwardDense/);
      expect(() => b.forwardDense(3, [], X, out, false)).toThrow(/forwardDense.*layers/);
      expect(() => b.forwardDense(4, layers, X, out, false)).toThrow(/forwardDense.*X/);
      expect(() => b.forwardDense(3, layers, X, new Float32Array(5), false)).toThrow(/forwardDense.*out/);
      const bad = { ...layers[0], W: new Float32Array(3) };
      expect(() => b.forwardDense(3, [bad, layers[1]], X, out, false)).toThrow(/forwardDense.*layers\[0\]\.W/);
    });
  });
}
