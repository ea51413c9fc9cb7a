// The LayerNorm kernels: C++ (AVX-512, AVX2 and portable paths, forced with MYELIN_SIMD in a child
// process) against the TypeScript twin on awkward shapes; the twin against a float64 reference.
import { beforeAll, describe, expect, it } from 'vitest';

import { getJsBackend } from '../lib/backend/select';
import { backendsUnderTest } from './helpers/backends';
import { ensureDist } from './helpers/dist';
import { runTwinChild } from './helpers/twin-run';
import { expectClose, freshSeed, makeRng, randUniform } from './helpers/reference';

const SEED = freshSeed();
const native = backendsUnderTest().find((b) => b.name === 'native');

describe.runIf(native !== undefined)(`C++ LayerNorm kernels vs the TS twin (seed ${SEED}; replay with MYELIN_TEST_SEED=${SEED})`, () => {
  beforeAll(() => ensureDist());
  // The machine's best level first; MYELIN_SIMD caps it (a level the CPU lacks is clamped).
  for (const simd of ['default', 'avx2', 'scalar']) {
    it(`agree on every shape and affine form (${simd} C++ kernels)`, () => {
      const out = runTwinChild<{ gemmSimd: string; checked: number; disagreements: unknown[] }>('layer-norm-twin.js', simd, [String(SEED)], 120_000);
      if (simd !== 'default') expect(['avx2', 'scalar'].includes(out.gemmSimd) && (simd === 'avx2' || out.gemmSimd === 'scalar')).toBe(true);
      expect(out.checked).toBeGreaterThan(1000);
      expect(out.disagreements, `seed ${SEED}`).toEqual([]);
    });
  }
});

/** The float64 reference: rows of (x - mean) / sqrt(var + eps) * w + b. */
function refLayerNorm(M: number, N: number, x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, eps: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    let mu = 0;
    for (let j = 0; j < N; j++) mu += x[i * N + j];
    mu /= N;
    let v = 0;
    for (let j = 0; j < N; j++) v += (x[i * N + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / N + eps);
    for (let j = 0; j < N; j++) out[i * N + j] = (x[i * N + j] - mu) * rs * w[j] + b[j];
  }
  return out;
}

describe(`the TS twin against a float64 reference (seed ${SEED})`, () => {
  const J = getJsBackend();
  it('forward: zero mean, unit variance before the affine step; backward: finite differences of sum(y * r)', () => {
    const rng = makeRng(SEED);
    for (const [M, N] of [[1, 1], [3, 3], [4, 17], [2, 65], [2, 257]]) {
      const x = randUniform(rng, M * N, -3, 5);
      const weight = randUniform(rng, N);
      const bias = randUniform(rng, N);
      const eps = 1e-5;
      const y = new Float32Array(M * N);
      const mean = new Float32Array(M);
      const rstd = new Float32Array(M);
      J.layerNormForward({ M, N, x, weight, bias, eps, y, mean, rstd });
      const ref = refLayerNorm(M, N, x, weight, bias, eps);
      const ctx = { kernel: 'layerNormForward', shape: `M=${M} N=${N}`, seed: SEED, backend: 'js' };
      expectClose(ctx, 'y', y, ref, (i) => 1e-5 * (1 + Math.abs(ref[i])));

      // loss = sum(y * r): dL/dx by central differences in float64 through the reference formula
      const r = randUniform(rng, M * N);
      const dx = new Float32Array(M * N);
      const dWeight = new Float32Array(N);
      const dBias = new Float32Array(N);
      J.layerNormBackward({ M, N, x, weight, mean, rstd, dy: r, dx, dWeight, dBias, accumulate: false });
      const loss = (xs: Float64Array, w: Float64Array, b: Float64Array): number =>
        refLayerNorm(M, N, xs, w, b, eps).reduce((acc, v, k) => acc + v * r[k], 0);
      const X = Float64Array.from(x), W = Float64Array.from(weight), B = Float64Array.from(bias);
      const fd = (a: Float64Array, k: number): number => {
        const h = 1e-4, keep = a[k];
        a[k] = keep + h;
        const up = loss(X, W, B);
        a[k] = keep - h;
        const down = loss(X, W, B);
        a[k] = keep;
        return (up - down) / (2 * h);
      };
      const gx = Float64Array.from({ length: M * N }, (_, k) => fd(X, k));
      const gw = Float64Array.from({ length: N }, (_, k) => fd(W, k));
      const gb = Float64Array.from({ length: N }, (_, k) => fd(B, k));
      expectClose({ ...ctx, kernel: 'layerNormBackward' }, 'dx', dx, gx, (i) => 2e-4 * (1 + Math.abs(gx[i])));
      expectClose({ ...ctx, kernel: 'layerNormBackward' }, 'dWeight', dWeight, gw, (i) => 2e-4 * (1 + Math.abs(gw[i])));
      expectClose({ ...ctx, kernel: 'layerNormBackward' }, 'dBias', dBias, gb, (i) => 2e-4 * (1 + Math.abs(gb[i])));
    }
  });
});
