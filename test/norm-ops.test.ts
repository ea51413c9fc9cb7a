// Normalisation kernels and ops: native vs TypeScript twin vs a float64 reference on awkward shapes, and finite-difference gradients of batchNorm, groupNorm and upsampleNearest.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { batchNorm, groupNorm, upsampleNearest } from '../lib/ops';
import { getJsBackend, getNativeBackend } from '../lib/backend/select';
import type { Backend } from '../lib/backend/contract';
import { Rng } from '../lib/random';
import { backendsUnderTest, freshRng, gradcheck, ladderTensor, randomTensor, setBackend } from './helpers/gradcheck';

/**
 * Inputs for normalisation gradchecks: a shuffled ladder of values 1 apart, so no group or channel has two
 * values close together (a tiny variance makes the map so curved that 1e-2 finite differences are off).
 */
function spreadInput(r: Rng, shape: number[]): Tensor {
  const t = ladderTensor(r, shape);
  for (let i = 0; i < t.size; i++) t.data[i] *= 10;
  return t;
}

const { seed, rng } = freshRng();

/** float64 reference of batchNormForward: mean, biased var, output. */
function refForward(N: number, C: number, S: number, x: Float32Array, w: Float32Array | null, b: Float32Array | null, eps: number) {
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  const out = new Float64Array(x.length);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let j = 0; j < S; j++) s += x[(n * C + c) * S + j];
    const m = s / (N * S);
    let q = 0;
    for (let n = 0; n < N; n++) for (let j = 0; j < S; j++) q += (x[(n * C + c) * S + j] - m) ** 2;
    const v = q / (N * S);
    mean[c] = m;
    variance[c] = v;
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < S; j++) {
        const i = (n * C + c) * S + j;
        out[i] = ((x[i] - m) / Math.sqrt(v + eps)) * (w ? w[c] : 1) + (b ? b[c] : 0);
      }
    }
  }
  return { mean, variance, out };
}

/** float64 reference of batchNormBackward. */
function refBackward(N: number, C: number, S: number, x: Float32Array, mean: Float32Array, invstd: Float32Array, w: Float32Array | null, dy: Float32Array, training: boolean) {
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(C);
  const db = new Float64Array(C);
  const M = N * S;
  for (let c = 0; c < C; c++) {
    let sdy = 0;
    let sdyx = 0;
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < S; j++) {
        const i = (n * C + c) * S + j;
        sdy += dy[i];
        sdyx += dy[i] * (x[i] - mean[c]) * invstd[c];
      }
    }
    dw[c] = sdyx;
    db[c] = sdy;
    const wi = (w ? w[c] : 1) * invstd[c];
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < S; j++) {
        const i = (n * C + c) * S + j;
        const xhat = (x[i] - mean[c]) * invstd[c];
        dx[i] = training ? wi * (dy[i] - sdy / M - (xhat * sdyx) / M) : wi * dy[i];
      }
    }
  }
  return { dx, dw, db };
}

function uniform(r: Rng, n: number, scale = 1, offset = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = offset + scale * (2 * r.next() - 1);
  return a;
}

/** |a - b| <= atol + rtol |b| everywhere, with the first failure named. */
function expectNear(what: string, a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const ok = Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]);
    if (!ok) expect.fail(`${what}: element ${i}: ${a[i]} vs reference ${b[i]} (seed ${seed})`);
  }
}

const kernelBackends: [string, Backend | null][] = [['js', getJsBackend()]];
if (process.env.MYELIN_BACKEND !== 'js') kernelBackends.push(['native', getNativeBackend()]);

describe.each(kernelBackends)(`normalisation kernels on the %s backend vs float64 (seed ${seed})`, (name, backend) => {
  // Awkward channel counts and spatial sizes; N from 1 (spatial > 1) up; one shape over the parallel threshold.
  const shapes: [number, number, number][] = [];
  for (const C of [1, 3, 17, 65]) for (const S of [1, 7, 28 * 28]) shapes.push([C === 65 && S === 784 ? 2 : 1 + rng.int(5) + (S === 1 ? 1 : 0), C, S]);
  shapes.push([256, 32, 49], [3, 5, 1], [129, 65, 1]);

  it('batchNormForward: mean, variance, invstd and output', () => {
    if (backend === null) throw new Error(`${name} backend failed to load`);
    for (const [N, C, S] of shapes) {
      const n = N * C * S;
      const x = uniform(rng, n, 3, rng.next() < 0.5 ? 0 : 50);
      const w = rng.next() < 0.7 ? uniform(rng, C, 2) : null;
      const b = rng.next() < 0.7 ? uniform(rng, C, 1) : null;
      const eps = 1e-5;
      const out = new Float32Array(n);
      const mean = new Float32Array(C);
      const variance = new Float32Array(C);
      const invstd = new Float32Array(C);
      backend.batchNormForward({ N, C, S, x, weight: w, bias: b, eps, out, mean, variance, invstd });
      const ref = refForward(N, C, S, x, w, b, eps);
      const shape = `N=${N} C=${C} S=${S}`;
      expectNear(`${name} mean ${shape}`, mean, ref.mean, 1e-6, 1e-6);
      expectNear(`${name} variance ${shape}`, variance, ref.variance, 1e-5, 1e-7);
      expectNear(`${name} invstd ${shape}`, invstd, Array.from(ref.variance, (v) => 1 / Math.sqrt(v + eps)), 1e-5, 0);
      // Conditioning: x - mean in float32 (as PyTorch) is off by up to an ulp of |mean|, which the output sees
      // multiplied by |w| / sqrt(var + eps) (large when a channel's values sit close together far from 0).
      for (let c = 0; c < C; c++) {
        const amp = (w ? Math.abs(w[c]) : 1) / Math.sqrt(ref.variance[c] + eps);
        const atol = 2e-5 + 4 * amp * Math.abs(ref.mean[c]) * 2 ** -23;
        const idx = Array.from({ length: N * S }, (_, k) => (Math.floor(k / S) * C + c) * S + (k % S));
        expectNear(`${name} out ${shape} channel ${c}`, idx.map((i) => out[i]), idx.map((i) => ref.out[i]), 1e-5, atol);
      }
    }
  });

  it('batchNormBackward (training and fixed statistics) and channelAffine', () => {
    if (backend === null) throw new Error(`${name} backend failed to load`);
    for (const [N, C, S] of shapes) {
      const n = N * C * S;
      const x = uniform(rng, n, 2, 1);
      const dy = uniform(rng, n, 1);
      const mean = uniform(rng, C, 0.5, 1);
      const invstd = uniform(rng, C, 0.4, 1);
      const w = rng.next() < 0.7 ? uniform(rng, C, 2) : null;
      const shape = `N=${N} C=${C} S=${S}`;
      for (const training of [true, false]) {
        const dx = new Float32Array(n).fill(NaN);
        const dw = new Float32Array(C).fill(NaN);
        const db = new Float32Array(C).fill(NaN);
        backend.batchNormBackward({ N, C, S, x, mean, invstd, weight: w, dy, training, dx, dweight: dw, dbias: db });
        const ref = refBackward(N, C, S, x, mean, invstd, w, dy, training);
        // Sums of N*S terms: absolute error grows like sqrt(N*S) ulp of the terms.
        const sumTol = 1e-6 * Math.sqrt(N * S) * 4;
        expectNear(`${name} dweight ${shape} training=${training}`, dw, ref.dw, 1e-5, sumTol);
        expectNear(`${name} dbias ${shape} training=${training}`, db, ref.db, 1e-5, sumTol);
        expectNear(`${name} dx ${shape} training=${training}`, dx, ref.dx, 1e-4, 1e-5);
      }
      // Null outputs are allowed: dx only.
      const dxOnly = new Float32Array(n);
      backend.batchNormBackward({ N, C, S, x, mean, invstd, weight: w, dy, training: true, dx: dxOnly, dweight: null, dbias: null });
      expectNear(`${name} dx alone ${shape}`, dxOnly, refBackward(N, C, S, x, mean, invstd, w, dy, true).dx, 1e-4, 1e-5);
      const scale = uniform(rng, C, 2);
      const shift = rng.next() < 0.5 ? uniform(rng, C, 1) : null;
      const out = new Float32Array(n);
      backend.channelAffine(N, C, S, x, scale, shift, out);
      const expected = Array.from(x, (v, i) => v * scale[Math.floor(i / S) % C] + (shift ? shift[Math.floor(i / S) % C] : 0));
      expectNear(`${name} channelAffine ${shape}`, out, expected, 1e-6, 1e-6);
    }
  });

  it('checks argument sizes before touching memory', () => {
    if (backend === null) throw new Error(`${name} backend failed to load`);
    const x = new Float32Array(12);
    expect(() => backend.batchNormForward({
      N: 2, C: 3, S: 2, x, weight: null, bias: null, eps: 1e-5, out: new Float32Array(11), mean: new Float32Array(3), variance: new Float32Array(3), invstd: new Float32Array(3),
    })).toThrow(/batchNormForward.*out/);
    expect(() => backend.channelAffine(2, 3, 2, x, new Float32Array(2), null, new Float32Array(12))).toThrow(/channelAffine.*scale/);
  });
});

describe.each(backendsUnderTest())('normalisation op gradients vs finite differences on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));
  const label = (what: string): string => `${what} (seed ${seed})`;

  it('batchNorm with batch statistics: x, weight, bias; [N, C], [N, C, L], [N, C, H, W]', () => {
    for (const shape of [[4, 3], [3, 2, 5], [2, 3, 2, 3], [5, 1], [2, 1, 1, 3]]) {
      const C = shape[1];
      const x = spreadInput(rng, shape);
      const w = randomTensor(rng, [C], { scale: 1.5 });
      const b = randomTensor(rng, [C]);
      gradcheck(([xi, wi, bi]) => batchNorm(xi, { training: true, eps: 1e-3, weight: wi, bias: bi }), [x, w, b], { label: label(`batchNorm ${JSON.stringify(shape)}`) });
      gradcheck(([xi]) => batchNorm(xi, { training: true, eps: 1e-3 }), [x], { label: label(`batchNorm no affine ${JSON.stringify(shape)}`) });
    }
  });

  it('batchNorm with running statistics (eval): x, weight, bias', () => {
    for (const shape of [[4, 3], [2, 3, 2, 3]]) {
      const C = shape[1];
      const running = { mean: uniform(rng, C, 1), var: uniform(rng, C, 0.5, 1), momentum: 0.1, batches: 0 };
      const x = randomTensor(rng, shape, { scale: 2 });
      const w = randomTensor(rng, [C], { scale: 1.5 });
      const b = randomTensor(rng, [C]);
      gradcheck(([xi, wi, bi]) => batchNorm(xi, { training: false, running, weight: wi, bias: bi }), [x, w, b], { label: label(`batchNorm eval ${JSON.stringify(shape)}`) });
    }
  });

  it('groupNorm: x, weight, bias over several group counts', () => {
    for (const [shape, G] of [[[2, 6, 3], 3], [[3, 4], 2], [[1, 6, 2, 2], 1], [[2, 4, 5], 4]] as [number[], number][]) {
      const C = shape[1];
      const x = spreadInput(rng, shape);
      const w = randomTensor(rng, [C], { scale: 1.5 });
      const b = randomTensor(rng, [C]);
      gradcheck(([xi, wi, bi]) => groupNorm(xi, G, wi, bi, 1e-3), [x, w, b], { label: label(`groupNorm ${JSON.stringify(shape)} G=${G}`) });
      gradcheck(([xi]) => groupNorm(xi, G, null, null, 1e-3), [x], { label: label(`groupNorm no affine ${JSON.stringify(shape)}`) });
    }
  });

  it('upsampleNearest: scale factors and sizes', () => {
    const x = randomTensor(rng, [2, 2, 3, 4]);
    gradcheck(([xi]) => upsampleNearest(xi, [6, 8], [2, 2]), [x], { label: label('upsample x2') });
    gradcheck(([xi]) => upsampleNearest(xi, [5, 3]), [x], { label: label('upsample to [5, 3]') });
    const x1 = randomTensor(rng, [1, 3, 5]);
    gradcheck(([xi]) => upsampleNearest(xi, [11]), [x1], { label: label('upsample 1-d') });
  });

  it('upsampleNearest rejects scales that are not one positive number per spatial dim (they read garbage before)', () => {
    const x = new Tensor(Float32Array.of(1, 2, 3, 4), [1, 1, 2, 2]);
    // One scale for two spatial dims: the width's ratio was NaN and every column read column 0.
    expect(() => upsampleNearest(x, [4, 4], [2])).toThrow(/upsampleNearest: scales must be null or 2 positive numbers/);
    // A negative scale read outside the input (NaN in the output).
    expect(() => upsampleNearest(x, [4, 4], [2, -1])).toThrow(/scales must be null or 2 positive numbers.*\[2,-1\]/);
    expect(() => upsampleNearest(x, [4, 4], [2, 0])).toThrow(/scales/);
    expect(upsampleNearest(x, [4, 4], [2, 2]).toArray()).toEqual([[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]);
  });

  it('batchNorm updates running statistics like PyTorch (momentum and cumulative average)', () => {
    const x = new Tensor(Float32Array.of(1, 2, 3, 5), [4, 1]);
    const running = { mean: Float32Array.of(0), var: Float32Array.of(1), momentum: 0.1 as number | null, batches: 0 };
    batchNorm(x, { training: true, running });
    // mean 2.75, unbiased var = (3.0625 + 0.5625 + 0.0625 + 5.0625) / 3 = 2.916666
    expect(running.mean[0]).toBeCloseTo(0.275, 6);
    expect(running.var[0]).toBeCloseTo(0.9 + 0.1 * 2.9166667, 6);
    expect(running.batches).toBe(1);
    const cumulative = { mean: Float32Array.of(0), var: Float32Array.of(1), momentum: null, batches: 0 };
    batchNorm(x, { training: true, running: cumulative });
    expect(cumulative.mean[0]).toBeCloseTo(2.75, 6);
    expect(() => batchNorm(new Tensor(Float32Array.of(1, 2), [1, 2]), { training: true })).toThrow(/expected more than 1 value per channel when training, got input \[1,2\]/);
    expect(() => groupNorm(new Tensor(new Float32Array(6), [1, 3, 2]), 2)).toThrow(/groupNorm: numGroups must be a divisor of the 3 input channels, got 2/);
    expect(() => batchNorm(new Tensor(new Float32Array(3), [3]), { training: true })).toThrow(/at least 2-D/);
    // Without the options object it crashed reading opts.training (a TypeError naming nothing of myelin's).
    expect(() => batchNorm(new Tensor(new Float32Array(4), [2, 2]), undefined as never)).toThrow(/batchNorm: opts must be an object/);
    expect(() => batchNorm(new Tensor(new Float32Array(4), [2, 2]), null as never)).toThrow(/batchNorm: opts must be an object/);
  });
});
