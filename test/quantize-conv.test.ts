// quantize() on convolutional networks: QuantizedConv2d (im2col rows through the int8 / bf16 GEMMs, BatchNorm
// folded, activation fused) against a float64 reference of the quantised maths on awkward geometries, the same
// bits on every backend, accuracy on the embedded digits set within 0.5 points of float32, save/load bit for bit.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';

import { setBackend, getBackend } from '../lib/backend/select';
import { loadDigits } from '../lib/data/digits';
import { Linear } from '../lib/nn/linear';
import { Conv2d } from '../lib/nn/conv';
import { BatchNorm2d } from '../lib/nn/batch-norm';
import { MaxPool2d } from '../lib/nn/pool';
import { ReLU, LeakyReLU } from '../lib/nn/activations';
import { Sequential } from '../lib/nn/sequential';
import { Flatten } from '../lib/nn/flatten';
import { quantize, QuantizedConv2d } from '../lib/quant';
import { fromConfig } from '../lib/nn/from-config';
import { fit } from '../lib/train';
import { Tensor } from '../lib/tensor';
import { predictAsync } from '../lib/serve/predict';
import { load, save } from '../lib/io';
import { Rng } from '../lib/random';
import { backendsUnderTest } from './helpers/backends';
import { freshSeed } from './helpers/reference';

const seed = freshSeed();
const rng = new Rng(seed);
const rand = (n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());

/** float64 conv of the quantised values: per image (dynamic) or static input scale, per-channel weight scale. */
function reference(q: QuantizedConv2d, x: Tensor): Float64Array {
  const [N, C, H, W] = x.shape;
  const [kh, kw] = q.kernelSize, [sh, sw] = q.stride, [ph, pw] = q.padding, [dh, dw] = q.dilation;
  const OH = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1, OW = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const OC = q.outChannels, K = C * kh * kw;
  const out = new Float64Array(N * OC * OH * OW);
  const patch = new Float64Array(K);
  for (let n = 0; n < N; n++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    // Dynamic int8: one scale per image, max |x| over the whole image / 127.
    let max = 0;
    for (let t = n * C * H * W; t < (n + 1) * C * H * W; t++) max = Math.max(max, Math.abs(x.data[t]));
    let k = 0;
    for (let c = 0; c < C; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++, k++) {
      const ih = oh * sh - ph + i * dh, iw = ow * sw - pw + j * dw;
      patch[k] = ih >= 0 && ih < H && iw >= 0 && iw < W ? x.data[((n * C + c) * H + ih) * W + iw] : 0;
    }
    // The quantiser's own float32 steps (scale, its inverse, x * inverse, round half to even), so that a value
    // within float32 rounding of a .5 tie lands on the same integer as in the kernel.
    const fr = Math.fround;
    const s = q.dtype === 'bf16' ? 1 : q.inputScale > 0 ? fr(q.inputScale) : fr(max / 127);
    const inv = q.inputScale > 0 ? fr(1 / fr(q.inputScale)) : max === 0 ? 0 : fr(127 / max);
    for (let oc = 0; oc < OC; oc++) {
      let acc = 0;
      for (let t = 0; t < K; t++) {
        const a = q.dtype === 'bf16' ? bf16(patch[t]) : s === 0 ? 0 : roundHalfEven(Math.max(-127, Math.min(127, fr(patch[t] * inv))));
        acc += a * q.weight.data[oc * K + t];
      }
      let z = acc * (q.dtype === 'bf16' ? 1 : s * (q.weightScale as Tensor).data[oc]) + (q.bias ? q.bias.data[oc] : 0);
      if (q.activation === 'relu') z = Math.max(0, z);
      else if (q.activation === 'leakyRelu') z = z > 0 ? z : q.alpha * z;
      out[((n * OC + oc) * OH + oh) * OW + ow] = z;
    }
  }
  return out;
}

/** Rounds to the nearest integer, ties to even (the kernels' float32 rounding). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function bf16(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return f[0];
}

describe(`QuantizedConv2d against a float64 reference of the quantised maths (seed ${seed})`, () => {
  const GEOMS: { C: number; OC: number; k: [number, number]; stride: [number, number]; padding: [number, number]; dilation: [number, number]; H: number; W: number; N: number }[] = [
    { C: 1, OC: 1, k: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], H: 1, W: 1, N: 1 },
    { C: 3, OC: 17, k: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], H: 5, W: 7, N: 2 },
    { C: 2, OC: 5, k: [3, 2], stride: [2, 1], padding: [0, 1], dilation: [1, 2], H: 9, W: 6, N: 3 },
    { C: 17, OC: 33, k: [5, 5], stride: [2, 2], padding: [2, 2], dilation: [1, 1], H: 13, W: 11, N: 1 },
    // Stride 1 (the direct int8 kernel on AVX512-VNNI): dilation, asymmetric kernels, a 65-wide row, 1 channel.
    { C: 5, OC: 9, k: [1, 3], stride: [1, 1], padding: [0, 2], dilation: [1, 2], H: 3, W: 65, N: 2 },
    { C: 1, OC: 3, k: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], H: 17, W: 17, N: 3 },
  ];
  for (const bt of backendsUnderTest()) {
    it(`int8 (dynamic, static) and bf16 on the ${bt.label} backend, awkward geometries`, () => {
      setBackend(bt.name);
      for (const g of GEOMS) {
        const conv = new Conv2d(g.C, g.OC, g.k, { stride: g.stride, padding: g.padding, dilation: g.dilation, seed: seed % 1000 });
        const x = new Tensor(rand(g.N * g.C * g.H * g.W), [g.N, g.C, g.H, g.W]);
        for (const [dtype, scale, act] of [['int8', 0, 'relu'], ['int8', 0.009, 'none'], ['bf16', 0, 'leakyRelu']] as const) {
          const q = QuantizedConv2d.fromConv2d(conv, dtype, act, 0.1, scale);
          const y = q.forward(x);
          const ref = reference(q, x);
          expect(y.shape).toEqual(conv.forward(x).shape);
          for (let i = 0; i < ref.length; i++) {
            const tol = dtype === 'bf16' ? 1e-5 * (1 + Math.abs(ref[i])) * g.C * g.k[0] * g.k[1] : 2e-6 * (1 + Math.abs(ref[i]));
            if (!(Math.abs(y.data[i] - ref[i]) <= tol)) expect(y.data[i], `${dtype} ${JSON.stringify(g)} at ${i}`).toBeCloseTo(ref[i], 5);
          }
          // And close to the float32 conv: within the quantisation error's bound. Each of the K = C * kh * kw
          // products is off by at most |w| * (input step / 2) + |x| * (weight step / 2) + the steps' product / 4
          // (int8), or by 2^-7 of |w x| (both rounded to bfloat16). An absolute bound: a relative one fails when
          // an output happens to be near 0 (seed 1074751510, a 1x1 conv of one pixel).
          const f = conv.forward(x);
          const K = g.C * g.k[0] * g.k[1];
          const wMax = conv.weight.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          const xMax = x.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          const sx = scale > 0 ? scale : xMax / 127, sw = wMax / 127;
          const bound = dtype === 'bf16' ? K * wMax * xMax * 2 ** -7 : K * (wMax * sx / 2 + xMax * sw / 2 + sx * sw / 4);
          let err = 0;
          for (let i = 0; i < f.size; i++) {
            const want = act === 'relu' ? Math.max(0, f.data[i]) : act === 'leakyRelu' ? (f.data[i] > 0 ? f.data[i] : 0.1 * f.data[i]) : f.data[i];
            err = Math.max(err, Math.abs(y.data[i] - want));
          }
          expect(err, `${dtype} ${JSON.stringify(g)}`).toBeLessThanOrEqual(bound * 1.001 + 1e-6);
        }
      }
    });
  }

  it('int8 gives the same bits on every backend', () => {
    const conv = new Conv2d(3, 9, 3, { padding: 1, seed: 4 });
    const x = new Tensor(rand(2 * 3 * 10 * 10), [2, 3, 10, 10]);
    const outs = backendsUnderTest().map((bt) => {
      setBackend(bt.name);
      return Array.from(QuantizedConv2d.fromConv2d(conv, 'int8', 'relu', 0.01).forward(x).data);
    });
    for (const o of outs.slice(1)) expect(o).toEqual(outs[0]);
  });
});

for (const bt of backendsUnderTest()) {
  describe(`a quantised CNN on the ${bt.label} backend (seed ${seed})`, () => {
    it('stays within 0.5 points of float32 on digits (int8 dynamic, calibrated, bf16); save/load bit for bit', async () => {
      setBackend(bt.name);
      const digits = loadDigits({ split: 0.2, seed: 42 });
      const model = new Sequential([
        new Conv2d(1, 8, 3, { padding: 1, bias: false }), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2),
        new Conv2d(8, 16, 3, { padding: 'same' }), new LeakyReLU(0.05), new Flatten(), new Linear(256, 10),
      ], { seed: seed % 100000 });
      const asImages = (x: Float32Array): Tensor => new Tensor(x, [x.length / 64, 1, 8, 8]);
      await fit(model, { x: asImages(digits.train.x), y: digits.train.y }, { epochs: 8, batchSize: 32, optimizer: 'adam', lr: 2e-3, seed, verbose: 0 });
      model.eval();
      const x = asImages(digits.x);
      const accuracy = (y: Tensor): number => {
        let hit = 0;
        for (let i = 0; i < digits.n; i++) {
          let best = 0;
          for (let j = 1; j < 10; j++) if (y.data[i * 10 + j] > y.data[i * 10 + best]) best = j;
          if (best === digits.y[i]) hit++;
        }
        return hit / digits.n;
      };
      const ref = accuracy(model.predict(x));
      expect(ref).toBeGreaterThan(0.9);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-qcnn-'));
      try {
        for (const [name, q] of [
          ['int8 dynamic', quantize(model, { dtype: 'int8' })],
          ['int8 calibrated', quantize(model, { dtype: 'int8', calibration: asImages(digits.train.x.slice(0, 256 * 64)) })],
          ['bf16', quantize(model, { dtype: 'bf16' })],
        ] as const) {
          // The MaxPool2d after the first conv's activation runs inside it.
          expect(q.layers.map((l) => l.constructor.name)).toEqual(['QuantizedConv2d', 'QuantizedConv2d', 'Flatten', 'QuantizedLinear']);
          expect(q.layers[1].describe()).toMatch(/QuantizedConv2d\(8 -> 16, kernel 3x3, padding 1x1, .*\+ leakyRelu\)/);
          expect(q.layers[0].describe()).toMatch(/\+ max pool 2x2\)$/);
          const y = q.predict(x);
          const acc = accuracy(y);
          console.log(`digits CNN ${bt.name} ${name}: ${acc.toFixed(4)} vs float32 ${ref.toFixed(4)} (backend ${getBackend().name})`);
          expect(Math.abs(acc - ref), `${name}, seed ${seed}`).toBeLessThanOrEqual(0.005);
          save(q, path.join(dir, 'q'));
          const back = load(path.join(dir, 'q')) as Sequential;
          expect(back.layers.map((l) => l.toConfig())).toEqual(q.layers.map((l) => l.toConfig()));
          expect(Array.from(back.predict(x.slice(0, 50)).data)).toEqual(Array.from(y.data.subarray(0, 500)));
          expect(Array.from((await predictAsync(back, x.slice(0, 7))).data)).toEqual(Array.from(y.data.subarray(0, 70)));
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 300_000);
  });
}

describe('the max pooling quantize() folds into a QuantizedConv2d', () => {
  it('folds MaxPool2d without padding, dilation or ceil mode only, and gives the float path\'s layers\' result', () => {
    setBackend('native');
    const conv = new Conv2d(2, 5, 3, { padding: 1, seed: 3 });
    const x = new Tensor(rand(2 * 2 * 9 * 11), [2, 2, 9, 11]);
    const folded = quantize(new Sequential([conv, new ReLU(), new MaxPool2d(3, { stride: 2 })]), { dtype: 'int8' });
    expect(folded.layers).toHaveLength(1);
    expect((folded.layers[0] as QuantizedConv2d).pool).toEqual([3, 3, 2, 2]);
    // The same conv unfused, then the float32 MaxPool2d layer: the same bits (max is exact).
    const plain = QuantizedConv2d.fromConv2d(conv, 'int8', 'relu', 0.01);
    const want = new MaxPool2d(3, { stride: 2 }).forward(plain.forward(x));
    const got = folded.forward(x);
    expect(got.shape).toEqual([2, 5, 4, 5]);
    expect(Array.from(got.data)).toEqual(Array.from(want.data));
    for (const pool of [new MaxPool2d(2, { padding: 1 }), new MaxPool2d(2, { ceilMode: true }), new MaxPool2d(2, { dilation: 2 })]) {
      expect(quantize(new Sequential([conv, new ReLU(), pool]), { dtype: 'int8' }).layers).toHaveLength(2);
    }
    const bf16 = quantize(new Sequential([conv, new ReLU(), new MaxPool2d(3, { stride: 2 })]), { dtype: 'bf16' });
    expect(bf16.layers).toHaveLength(1);
    const bf16Plain = new MaxPool2d(3, { stride: 2 }).forward(QuantizedConv2d.fromConv2d(conv, 'bf16', 'relu', 0.01).forward(x));
    expect(Array.from(bf16.forward(x).data)).toEqual(Array.from(bf16Plain.data));
  });

  it('loads configs saved without the pool key (null) and checks the key', () => {
    const base = {
      type: 'QuantizedConv2d', dtype: 'int8', inChannels: 1, outChannels: 2, kernelSize: [3, 3], stride: [1, 1], padding: [1, 1],
      dilation: [1, 1], bias: true, activation: 'relu', alpha: 0.01, inputScale: 0,
    };
    expect((fromConfig(base) as QuantizedConv2d).pool).toBeNull();
    expect((fromConfig({ ...base, pool: [2, 2, 2, 2] }) as QuantizedConv2d).pool).toEqual([2, 2, 2, 2]);
    expect(() => fromConfig({ ...base, pool: [2, 2, 0, 2] })).toThrow(/key 'pool' must be null or \[kernelH, kernelW, strideH, strideW\] of positive integers, got/);
    expect((fromConfig({ ...base, dtype: 'bf16', pool: [2, 2, 2, 2] }) as QuantizedConv2d).pool).toEqual([2, 2, 2, 2]);
    const q = fromConfig({ ...base, pool: [4, 4, 1, 1] }) as QuantizedConv2d;
    expect(() => q.forward(new Tensor(rand(9), [1, 1, 3, 3]))).toThrow(/gives 3x3 outputs, smaller than the pool window 4x4/);
  });
});
