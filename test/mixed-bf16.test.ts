// bf16 mixed-precision training: the gemmMixedBf16 / dense-layer kernels on every SIMD path (child processes) against
// their TS twins and designed bf16 roundings; autocast scopes (Linear, matmul, backward in the forward's precision,
// async code, fp32 unchanged bit for bit, errors); fit({ precision: 'bf16' }) on the digits close to fp32.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Tensor } from '../lib/tensor';
import { Rng } from '../lib/random';
import * as nn from '../lib/nn';
import * as data from '../lib/data';
import { matmul } from '../lib/ops/matmul';
import { linear } from '../lib/ops/linear';
import { autocast, currentPrecision } from '../lib/autocast';
import { fit, evaluate } from '../lib/train';
import { getBackend } from '../lib/backend/select';
import { backendsUnderTest as kernelBackends } from './helpers/backends';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';
import { ensureDist } from './helpers/dist';
import { runTwinChild } from './helpers/twin-run';
import { freshSeed } from './helpers/reference';
import { cpuFlags } from './helpers/cpu-flags';
import { roundToBf16 } from '../lib/backend/js/mixed-bf16';

const SEED = freshSeed();
const native = kernelBackends().find((b) => b.name === 'native');

const flags = cpuFlags();
const bf16Cpu = ['avx512f', 'avx512vl', 'avx512dq', 'avx512bw', 'avx512_bf16'].every((f) => flags.has(f));

describe.runIf(native !== undefined && process.platform === 'linux')(`gemmMixedBf16 on every SIMD path vs the TS twin (child processes, seed ${SEED})`, () => {
  beforeAll(() => ensureDist());
  for (const [simd, want] of [['default', bf16Cpu ? 'avx512bf16' : 'fp32'], ['avx2', 'fp32'], ['scalar', 'fp32']] as const) {
    it(`MYELIN_SIMD=${simd}: path ${want}; all transposes, sizes 1..257, odd K, alpha/beta, the dense layer; designed roundings`, () => {
      const out = runTwinChild<{ path: string; checked: number; disagreements: unknown[]; designed: string[] }>('mixed-bf16-twin.js', simd, [String(SEED)], 300_000);
      expect(out.path).toBe(want);
      expect(out.checked).toBeGreaterThan(500);
      expect(out.disagreements, `seed ${SEED}`).toEqual([]);
      expect(out.designed).toEqual([]);
    }, 300_000);
  }

  it('rejects bad arguments before touching memory, naming the kernel and the buffer', () => {
    const b = native?.backend;
    if (!b) throw new Error(`the native backend failed to load: ${native?.loadError}`);
    const A = new Float32Array(6), B = new Float32Array(6), C = new Float32Array(4);
    expect(() => b.gemmMixedBf16(false, false, 2, 2, 3, 1, A, B, 0, C)).not.toThrow();
    expect(() => b.gemmMixedBf16(false, false, 2, 3, 3, 1, A, B, 0, C)).toThrow(/gemmMixedBf16.*B/);
    expect(() => b.gemmMixedBf16(false, false, 0, 2, 3, 1, A, B, 0, C)).toThrow(/gemmMixedBf16.*M/);
    expect(() => b.linearForwardMixedBf16({ M: 2, N: 2, K: 3, X: A, W: new Float32Array(5), bias: null, act: 'relu', alpha: 0, out: C, preact: null }))
      .toThrow(/linearForwardMixedBf16.*W/);
  });
});

/** Uniform values in [-scale, scale] from rng. */
function rand(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * (2 * rng.next() - 1));
}

/** Relative difference ||a - b|| / ||b||. */
function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

/** A 3-layer MLP's loss and gradients on one batch, in the precision of the scope it runs in. */
function mlpGrads(seed: number, x: Tensor, y: Int32Array): { loss: number; grads: Float32Array[] } {
  const model = new nn.Sequential(new nn.Linear(37, 65), new nn.ReLU(), new nn.Linear(65, 17), new nn.Tanh(), new nn.Linear(17, 10), { seed });
  const loss = nn.crossEntropy(model.forward(x), y);
  loss.backward();
  return { loss: loss.item(), grads: model.parameters().map((p) => (p.grad as Tensor).data.slice()) };
}

describe('autocast', () => {
  afterEach(() => setBackend(process.env.MYELIN_BACKEND === 'js' ? 'js' : 'native'));

  for (const backend of backendsUnderTest()) {
    describe(`on ${backend}`, () => {
      it('bf16 gradients of an MLP stay within bf16 error of fp32, and differ from them; fp32 scope = default, bit for bit', () => {
        setBackend(backend);
        const rng = new Rng(SEED);
        const x = new Tensor(rand(rng, 33 * 37), [33, 37]);
        const y = Int32Array.from({ length: 33 }, () => Math.floor(rng.next() * 10));
        const base = mlpGrads(7, x, y);
        const f32 = autocast('fp32', () => mlpGrads(7, x, y));
        const b16 = autocast('bf16', () => mlpGrads(7, x, y));
        expect(f32.loss).toBe(base.loss);
        f32.grads.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(base.grads[i])));
        expect(Math.abs(b16.loss - base.loss)).toBeLessThan(0.01 * Math.abs(base.loss));
        // Against fp32: a few bf16 steps (2^-8) per product through three layers; the first layer's gradient sums
        // cancel most (measured 0.4-4% over seeds, the other layers < 0.5%).
        for (let i = 0; i < base.grads.length; i++) expect(relDiff(b16.grads[i], base.grads[i]), `parameter ${i}`).toBeLessThan(0.1);
        // Against the TS twin's bf16 gradients: the same rounded products, other summation orders (measured ~1e-8).
        setBackend('js');
        const twin = autocast('bf16', () => mlpGrads(7, x, y));
        b16.grads.forEach((g, i) => expect(relDiff(g, twin.grads[i]), `parameter ${i} vs the twin`).toBeLessThan(2e-6));
        expect(b16.grads.some((g, i) => relDiff(g, base.grads[i]) > 1e-5)).toBe(true);
      });

      it('the backward pass keeps the precision its forward ran in, and the scope follows awaits', async () => {
        setBackend(backend);
        const rng = new Rng(SEED + 1);
        const x = new Tensor(rand(rng, 9 * 37), [9, 37]);
        const y = Int32Array.from({ length: 9 }, (_, i) => i % 10);
        const inside = autocast('bf16', () => mlpGrads(3, x, y));
        const model = new nn.Sequential(new nn.Linear(37, 65), new nn.ReLU(), new nn.Linear(65, 17), new nn.Tanh(), new nn.Linear(17, 10), { seed: 3 });
        const loss = autocast('bf16', () => nn.crossEntropy(model.forward(x), y));
        expect(currentPrecision()).toBe('fp32');
        loss.backward(); // outside the scope
        model.parameters().forEach((p, i) => expect(Array.from((p.grad as Tensor).data)).toEqual(Array.from(inside.grads[i])));
        const later = await autocast('bf16', async () => {
          await new Promise((r) => setTimeout(r, 1));
          return mlpGrads(3, x, y);
        });
        expect(later.loss).toBe(inside.loss);
        expect(autocast('fp32', () => autocast('bf16', () => currentPrecision()))).toBe('bf16');
      });

      it('matmul (2-D and broadcast-batched) and ops.linear under bf16 equal the products of the bf16-rounded operands', () => {
        setBackend(backend);
        const rng = new Rng(SEED + 2);
        const a = new Tensor(rand(rng, 5 * 70), [5, 70], true);
        const b = new Tensor(rand(rng, 70 * 6), [70, 6], true);
        const ra = new Tensor(roundToBf16(a.size, a.data), a.shape);
        const rb = new Tensor(roundToBf16(b.size, b.data), b.shape);
        const got = autocast('bf16', () => matmul(a, b));
        const want = matmul(ra, rb);
        const plain = matmul(a, b);
        const tol = 80 * 2 ** -24 * 70;
        got.data.forEach((v, i) => expect(Math.abs(v - want.data[i])).toBeLessThanOrEqual(tol));
        expect(Math.max(...got.data.map((v, i) => Math.abs(v - plain.data[i])))).toBeGreaterThan(10 * tol);
        // Gradient of sum(a b): dA = 1 b^T with bf16(b), dB = a^T 1 with bf16(a).
        autocast('bf16', () => matmul(a, b)).sum().backward();
        const ga = (a.grad as Tensor).data;
        for (let i = 0; i < 5; i++) {
          for (let k = 0; k < 70; k++) {
            let s = 0;
            for (let j = 0; j < 6; j++) s += rb.data[k * 6 + j];
            expect(Math.abs(ga[i * 70 + k] - s)).toBeLessThanOrEqual(1e-5);
          }
        }
        // Broadcast batch dims (bmm's path): [2, 5, 70] x [1, 70, 6].
        const a3 = new Tensor(rand(rng, 2 * 5 * 70), [2, 5, 70]);
        const b3 = new Tensor(b.data.slice(), [1, 70, 6]);
        const got3 = autocast('bf16', () => matmul(a3, b3));
        const want3 = matmul(new Tensor(roundToBf16(a3.size, a3.data), a3.shape), new Tensor(rb.data.slice(), [1, 70, 6]));
        got3.data.forEach((v, i) => expect(Math.abs(v - want3.data[i])).toBeLessThanOrEqual(tol));
        expect(Math.max(...got3.data.map((v, i) => Math.abs(v - matmul(a3, b3).data[i])))).toBeGreaterThan(10 * tol);
        const w = new Tensor(rand(rng, 6 * 70), [6, 70]);
        const rw = new Tensor(roundToBf16(w.size, w.data), w.shape);
        const l16 = autocast('bf16', () => linear(a, w, null, 'relu'));
        const lref = linear(ra, rw, null, 'relu');
        l16.data.forEach((v, i) => expect(Math.abs(v - lref.data[i])).toBeLessThanOrEqual(tol));
      });
    });
  }

  it('invalid precisions are errors naming the option and the value', async () => {
    expect(() => autocast('fp16' as never, () => 1)).toThrow(/autocast: precision must be 'fp32' or 'bf16', got 'fp16'/);
    expect(() => autocast('bf16', 3 as never)).toThrow(/autocast: fn must be a function/);
    const model = new nn.Sequential(new nn.Linear(4, 2));
    const x = new Tensor(new Float32Array(8), [2, 4]);
    await expect(fit(model, { x, y: new Int32Array([0, 1]) }, { precision: 'half' as never, verbose: 0 })).rejects.toThrow(/fit: precision must be 'fp32' or 'bf16', got 'half'/);
  });
});

describe(`fit({ precision: 'bf16' }) on the digits`, () => {
  it('reaches a test accuracy within 2 points of fp32 from the same seed (the kernels run in bf16: the weights differ)', async () => {
    const digits = data.loadDigits({ seed: 1 });
    const nTrain = digits.train.y.length, nTest = digits.test.y.length;
    const run = async (precision: 'fp32' | 'bf16') => {
      const model = new nn.Sequential(new nn.Linear(64, 64), new nn.ReLU(), new nn.Linear(64, 10), { seed: 5 });
      await fit(model, { x: new Tensor(digits.train.x, [nTrain, 64]), y: digits.train.y }, { epochs: 8, batchSize: 32, seed: 2, lr: 3e-3, verbose: 0, precision });
      const r = await evaluate(model, { x: new Tensor(digits.test.x, [nTest, 64]), y: digits.test.y });
      return { acc: r.accuracy as number, w: model.parameters()[0].data.slice() };
    };
    const f32 = await run('fp32');
    const b16 = await run('bf16');
    expect(f32.acc).toBeGreaterThan(0.9);
    expect(Math.abs(b16.acc - f32.acc)).toBeLessThan(0.02);
    expect(relDiff(b16.w, f32.w)).toBeGreaterThan(1e-6);
    expect(getBackend()).toBeDefined();
  }, 60_000);

  it("fit's precision option equals fit inside autocast, and fit({ precision: 'fp32' }) equals the default", async () => {
    const digits = data.loadDigits({ seed: 1 });
    const train = async (opts: { precision?: 'fp32' | 'bf16' }, scope?: 'bf16') => {
      const model = new nn.Sequential(new nn.Linear(64, 32), new nn.ReLU(), new nn.Linear(32, 10), { seed: 4 });
      const run = () => fit(model, digits.train, { epochs: 1, batchSize: 64, seed: 3, verbose: 0, ...opts });
      const h = scope ? await autocast(scope, run) : await run();
      return { loss: h.loss[0], w: model.parameters()[0].data.slice() };
    };
    const b16 = await train({ precision: 'bf16' });
    const scoped = await train({}, 'bf16');
    const f32 = await train({ precision: 'fp32' });
    const plain = await train({});
    expect(b16.loss).toBe(scoped.loss);
    expect(Array.from(b16.w)).toEqual(Array.from(scoped.w));
    expect(f32.loss).toBe(plain.loss);
    expect(Array.from(f32.w)).toEqual(Array.from(plain.w));
    expect(b16.loss).not.toBe(f32.loss);
  }, 60_000);
});
