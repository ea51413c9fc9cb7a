// nn.LSTM and nn.GRU: agreement with torch.nn.LSTM/GRU (test/fixtures/recurrent/torch.json, written by generate.py:
// outputs, final states and every gradient), finite-difference gradient checks of the layer ops, PyTorch state_dict
// names, config round trip, predict, and the errors bad input gets. The C++ cell kernels against their TS twins run in
// a child process per SIMD level.
import * as fs from 'fs';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { GRU, LSTM, Sequential, Linear, fromConfig } from '../lib/nn';
import { gruLayer, lstmLayer, mul, sum, add } from '../lib/ops';
import { backendsUnderTest, freshRng, gradcheck, randomTensor, setBackend } from './helpers/gradcheck';
import { maxViolation } from './helpers/onnx';
import { backendsUnderTest as kernelBackends } from './helpers/backends';
import { ensureDist } from './helpers/dist';
import { runTwinChild } from './helpers/twin-run';
import { freshSeed } from './helpers/reference';

interface Case {
  kind: 'LSTM' | 'GRU'; T: number; B: number; I: number; H: number; numLayers: number; bidirectional: boolean; batchFirst: boolean; bias: boolean;
  x: number[]; y: number[]; yShape: number[]; h: number[]; c?: number[]; ry: number[]; rh: number[]; rc?: number[]; dx: number[];
  h0?: number[]; c0?: number[]; dh0?: number[]; dc0?: number[];
  params: Record<string, number[]>; grads: Record<string, number[]>;
}
const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'recurrent', 'torch.json'), 'utf8')) as { cases: Case[] };

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, rtol = 1e-4, atol = 1e-5): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  const v = maxViolation(a, b, rtol, atol);
  expect(v.excess, `${what}: at ${v.at}: ${v.a} vs torch ${v.b}`).toBeLessThanOrEqual(0);
}

const t = (v: number[], shape: number[], grad = false): Tensor => new Tensor(Float32Array.from(v), shape, grad);

for (const backend of backendsUnderTest()) {
  describe(`nn.LSTM / nn.GRU agree with PyTorch (${backend})`, () => {
    beforeAll(() => setBackend(backend));
    afterAll(() => setBackend('js'));
    for (const c of FIXTURE.cases) {
      const name = `${c.kind} T=${c.T} B=${c.B} I=${c.I} H=${c.H} layers=${c.numLayers}${c.bidirectional ? ' bidirectional' : ''}${c.batchFirst ? ' batchFirst' : ''}${c.bias ? '' : ' no bias'}${c.h0 ? ' with h0' : ''}`;
      it(name, () => {
        const opts = { numLayers: c.numLayers, bidirectional: c.bidirectional, batchFirst: c.batchFirst, bias: c.bias };
        const m = c.kind === 'LSTM' ? new LSTM(c.I, c.H, opts) : new GRU(c.I, c.H, opts);
        // PyTorch's state_dict names and order
        expect(m.namedParameters().map(([n]) => n)).toEqual(Object.keys(c.params));
        m.loadStateDict(Object.fromEntries(Object.entries(c.params).map(([n, v]) => [n, Float32Array.from(v)])));
        const D = c.bidirectional ? 2 : 1;
        const sShape = [c.numLayers * D, c.B, c.H];
        const x = t(c.x, c.batchFirst ? [c.B, c.T, c.I] : [c.T, c.B, c.I], true);
        const h0 = c.h0 ? t(c.h0, sShape, true) : undefined;
        const c0 = c.c0 ? t(c.c0, sShape, true) : undefined;
        const hx = c.kind === 'LSTM' ? (h0 ? [h0, c0] : undefined) : h0;
        const r = m.forwardWithState(x, hx);
        expect(r.output.shape).toEqual(c.yShape);
        expect(r.h.shape).toEqual(sShape);
        expectClose(r.output.data, c.y, `${name} output`);
        expectClose(r.h.data, c.h, `${name} h_n`);
        let loss = add(sum(mul(r.output, t(c.ry, c.yShape))), sum(mul(r.h, t(c.rh, sShape))));
        if (c.kind === 'LSTM') {
          expect(r.c?.shape).toEqual(sShape);
          expectClose((r.c as Tensor).data, c.c as number[], `${name} c_n`);
          loss = add(loss, sum(mul(r.c as Tensor, t(c.rc as number[], sShape))));
        } else {
          expect(r.c).toBeUndefined();
        }
        loss.backward();
        expectClose((x.grad as Tensor).data, c.dx, `${name} d input`);
        if (h0) expectClose((h0.grad as Tensor).data, c.dh0 as number[], `${name} d h0`);
        if (c0) expectClose((c0.grad as Tensor).data, c.dc0 as number[], `${name} d c0`);
        for (const [n, p] of m.namedParameters()) expectClose((p.grad as Tensor).data, c.grads[n], `${name} d ${n}`);
      });
    }
  });

  describe(`LSTM / GRU layer ops: finite-difference gradients (${backend})`, () => {
    beforeAll(() => setBackend(backend));
    afterAll(() => setBackend('js'));
    const { seed, rng } = freshRng();
    for (const reverse of [false, true]) {
      for (const [T, B, I, H] of [[1, 1, 1, 1], [3, 2, 3, 4], [4, 3, 2, 9]]) {
        it(`lstm T=${T} B=${B} I=${I} H=${H} reverse=${reverse} (seed ${seed})`, () => {
          const ins = [
            randomTensor(rng, [T, B, I]), randomTensor(rng, [B, H]), randomTensor(rng, [B, H]),
            randomTensor(rng, [4 * H, I]), randomTensor(rng, [4 * H, H]), randomTensor(rng, [4 * H]), randomTensor(rng, [4 * H]),
          ];
          gradcheck(([x, h0, c0, wIh, wHh, bIh, bHh]) => lstmLayer(x, h0, c0, { wIh, wHh, bIh, bHh }, reverse), ins, { label: `seed ${seed}` });
        });
        it(`gru T=${T} B=${B} I=${I} H=${H} reverse=${reverse} (seed ${seed})`, () => {
          const ins = [
            randomTensor(rng, [T, B, I]), randomTensor(rng, [B, H]),
            randomTensor(rng, [3 * H, I]), randomTensor(rng, [3 * H, H]), randomTensor(rng, [3 * H]), randomTensor(rng, [3 * H]),
          ];
          gradcheck(([x, h0, wIh, wHh, bIh, bHh]) => gruLayer(x, h0, { wIh, wHh, bIh, bHh }, reverse), ins, { label: `seed ${seed}` });
        });
      }
    }
    it(`without initial states or biases (seed ${seed})`, () => {
      const ins = [randomTensor(rng, [3, 2, 3]), randomTensor(rng, [8, 3]), randomTensor(rng, [8, 2])];
      gradcheck(([x, wIh, wHh]) => lstmLayer(x, null, null, { wIh, wHh, bIh: null, bHh: null }), ins, { label: `seed ${seed}` });
      const gins = [randomTensor(rng, [3, 2, 3]), randomTensor(rng, [6, 3]), randomTensor(rng, [6, 2])];
      gradcheck(([x, wIh, wHh]) => gruLayer(x, null, { wIh, wHh, bIh: null, bHh: null }, true), gins, { label: `seed ${seed}` });
    });
  });
}

describe('LSTM / GRU layers', () => {
  it('returnSequences false gives the last layer\'s final hidden state, both directions', () => {
    const m = new LSTM(3, 4, { numLayers: 2, bidirectional: true, batchFirst: true, seed: 5 });
    const x = new Tensor(Float32Array.from({ length: 2 * 5 * 3 }, (_, i) => Math.sin(i)), [2, 5, 3]);
    const r = m.forwardWithState(x);
    const last = new LSTM(3, 4, { numLayers: 2, bidirectional: true, batchFirst: true, seed: 5, returnSequences: false }).forward(x);
    expect(last.shape).toEqual([2, 8]);
    for (let b = 0; b < 2; b++) {
      for (let j = 0; j < 4; j++) {
        expect(last.data[b * 8 + j]).toBe(r.h.data[(2 * 2 + b) * 4 + j]); // layer 1 forward
        expect(last.data[b * 8 + 4 + j]).toBe(r.h.data[(3 * 2 + b) * 4 + j]); // layer 1 reverse
      }
    }
    // forward direction's final state is the output's last step; the reverse one's is the first step
    expect(r.output.data[(0 * 5 + 4) * 8 + 1]).toBe(r.h.data[(2 * 2 + 0) * 4 + 1]);
    expect(r.output.data[(0 * 5 + 0) * 8 + 4 + 1]).toBe(r.h.data[(3 * 2 + 0) * 4 + 1]);
  });

  it('seeded init is PyTorch\'s U(-1/sqrt(H), 1/sqrt(H)); same seed, same weights', () => {
    const a = new GRU(5, 16, { seed: 3 });
    const b = new GRU(5, 16, { seed: 3 });
    for (const [n, p] of a.namedParameters()) {
      expect(p.data).toEqual(b.namedParameters().find(([m]) => m === n)?.[1].data);
      expect(Math.max(...p.data.map(Math.abs))).toBeLessThanOrEqual(0.25);
      expect(Math.max(...p.data.map(Math.abs))).toBeGreaterThan(0.2);
    }
  });

  it('config round trip, Sequential, predict', () => {
    const model = new Sequential([new GRU(2, 6, { batchFirst: true, returnSequences: false, numLayers: 2, dropout: 0.3 }), new Linear(6, 1)], { seed: 9 });
    const cfg = JSON.parse(JSON.stringify(model.toConfig()));
    expect(cfg.layers[0]).toEqual({ type: 'GRU', inputSize: 2, hiddenSize: 6, numLayers: 2, bias: true, batchFirst: true, dropout: 0.3, bidirectional: false, returnSequences: false });
    const copy = fromConfig(cfg) as Sequential;
    copy.loadStateDict(model.stateDict());
    model.eval();
    copy.eval();
    const x = new Tensor(Float32Array.from({ length: 3 * 7 * 2 }, (_, i) => Math.cos(i)), [3, 7, 2]);
    const a = model.forward(x) as Tensor;
    expect(a.shape).toEqual([3, 1]);
    expect((copy.forward(x) as Tensor).data).toEqual(a.data);
    const p = model.predict(x);
    expect(Array.from(p.data)).toEqual(Array.from(a.data));
  });

  it('predictAsync gives predict\'s outputs', async () => {
    const model = new Sequential([new LSTM(2, 5, { batchFirst: true, returnSequences: false, bidirectional: true }), new Linear(10, 3)], { seed: 2 });
    model.eval();
    const x = new Tensor(Float32Array.from({ length: 4 * 6 * 2 }, (_, i) => Math.sin(i / 3)), [4, 6, 2]);
    const want = model.predict(x);
    const got = await model.predictAsync(x);
    expectClose(got.data, want.data, 'predictAsync', 1e-6, 1e-6);
  });

  it('dropout between layers acts in training only', () => {
    const m = new LSTM(3, 8, { numLayers: 2, dropout: 0.5, seed: 1 });
    const x = new Tensor(Float32Array.from({ length: 4 * 2 * 3 }, (_, i) => Math.sin(i)), [4, 2, 3]);
    const a = m.forward(x);
    const b = m.forward(x);
    expect(Array.from(a.data)).not.toEqual(Array.from(b.data));
    m.eval();
    expect(Array.from(m.forward(x).data)).toEqual(Array.from(m.forward(x).data));
  });

  it('bad input gets a clear error', () => {
    const m = new LSTM(3, 4, { numLayers: 2 });
    expect(() => m.forward(new Tensor(new Float32Array(6), [2, 3]))).toThrow(/LSTM\.forward: input must be 3-D \[time, batch, features\], got \[2,3\]/);
    expect(() => m.forward(new Tensor(new Float32Array(10), [1, 2, 5]))).toThrow(/input has 5 features .* inputSize 3/);
    expect(() => m.forward(new Tensor(new Float32Array(0), [0, 2, 3]))).toThrow(/the sequence is empty/);
    const x = new Tensor(new Float32Array(2 * 3), [1, 2, 3]);
    expect(() => m.forward(x, [new Tensor(new Float32Array(8), [1, 2, 4]), new Tensor(new Float32Array(16), [2, 2, 4])]))
      .toThrow(/h0 has shape \[1,2,4\], expected \[2,2,4\]/);
    expect(() => m.forward(x, new Tensor(new Float32Array(16), [2, 2, 4]))).toThrow(/must be \[h0, c0\]/);
    expect(() => new GRU(3, 0)).toThrow(/hiddenSize/);
    expect(() => new GRU(3, 4, { dropout: 1 })).toThrow(/dropout/);
    expect(() => new GRU(3, 4, { numLayer: 2 } as never)).toThrow(/numLayer/);
    expect(() => fromConfig({ type: 'GRU', inputSize: 3, hiddenSize: 4 } as never)).toThrow(/numLayers/);
  });
});

const native = kernelBackends().find((b) => b.name === 'native');
describe.runIf(native !== undefined)('C++ LSTM/GRU cell kernels vs the TS twin', () => {
  beforeAll(() => ensureDist());
  const SEED = freshSeed();
  for (const simd of ['default', 'avx2', 'scalar']) {
    it(`agree on awkward shapes (${simd} C++ kernels, seed ${SEED})`, () => {
      const out = runTwinChild<{ checked: number; disagreements: unknown[] }>('recurrent-twin.js', simd, [String(SEED)], 120_000);
      expect(out.checked).toBeGreaterThan(300);
      expect(out.disagreements).toEqual([]);
    });
  }
});
