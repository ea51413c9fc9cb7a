// nn.Embedding and the positional encodings: init, lookup, padding row, sparse training, registry config, save/load.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../lib/tensor';
import { intTensor } from '../lib/int-tensor';
import * as nn from '../lib/nn';
import * as ops from '../lib/ops';
import { SGD, Adam } from '../lib/optim';
import { save, load } from '../lib/io';
import { freshRng, gradcheck, randomTensor } from './helpers/gradcheck';

const { seed, rng } = freshRng();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('nn.Embedding', () => {
  it('initialises N(0, 1) (PyTorch default) with the padding row zero, and is reproducible by seed', () => {
    const e = new nn.Embedding(400, 50, { paddingIdx: -1, seed: 3 });
    expect(e.paddingIdx).toBe(399);
    const w = e.weight.data;
    const rest = w.subarray(0, 399 * 50);
    const mean = rest.reduce((a, b) => a + b, 0) / rest.length;
    const std = Math.sqrt(rest.reduce((a, b) => a + (b - mean) ** 2, 0) / rest.length);
    // 19950 samples: the sample mean's standard error is 0.007, the std's 0.005.
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
    expect(Array.from(w.subarray(399 * 50)).every((v) => v === 0)).toBe(true);
    expect(Array.from(new nn.Embedding(400, 50, { seed: 3 }).weight.data.subarray(0, 10))).toEqual(Array.from(w.subarray(0, 10)));
  });

  it('maps ids of any shape (IntTensor or integer-valued Tensor) to [...shape, dim]', () => {
    const e = new nn.Embedding(10, 4, { seed: 1 });
    const y = e.forward(intTensor([[1, 2, 3], [9, 0, 1]]));
    expect(y.shape).toEqual([2, 3, 4]);
    expect(Array.from(y.data.subarray(12, 16))).toEqual(Array.from(e.weight.data.subarray(36, 40)));
    expect(Array.from(e.forward(tensor([[1, 2, 3], [9, 0, 1]])).data)).toEqual(Array.from(y.data));
    expect(() => e.forward(intTensor([10]))).toThrow(/embedding: index 10 at position 0 is out of range for an embedding table of 10 rows/);
    expect(() => e.forward(tensor([1.5]))).toThrow(/embedding: index: element 0 of the Tensor is 1\.5/);
    expect(() => new nn.Embedding(10, 0)).toThrow(/Embedding: embeddingDim must be a positive integer, got 0/);
    expect(() => new nn.Embedding(10, 4, { paddingIdx: 10 })).toThrow(/Embedding: paddingIdx must be an integer in \[-10, 9\], got 10/);
  });

  it('trains only the rows it saw; the padding row stays zero under SGD and Adam', () => {
    for (const make of [(p: Tensor[]) => new SGD(p, { lr: 0.5 }), (p: Tensor[]) => new Adam(p, { lr: 0.1 })]) {
      const e = new nn.Embedding(8, 3, { paddingIdx: 0, seed: 2 });
      const before = Float32Array.from(e.weight.data);
      const opt = make(e.parameters());
      for (let step = 0; step < 5; step++) {
        opt.zeroGrad();
        const y = e.forward(intTensor([[0, 2, 2], [5, 0, 0]]));
        ops.sum(ops.mul(y, y)).backward();
        opt.step();
      }
      const w = e.weight.data;
      const row = (a: Float32Array, r: number): number[] => Array.from(a.subarray(r * 3, r * 3 + 3));
      expect(row(w, 0)).toEqual([0, 0, 0]);
      for (const r of [1, 3, 4, 6, 7]) expect(row(w, r)).toEqual(row(before, r));
      for (const r of [2, 5]) expect(row(w, r)).not.toEqual(row(before, r));
    }
  });

  it('rebuilds from its config and survives save / load inside a Sequential fed an IntTensor', () => {
    const model = new nn.Sequential([
      new nn.Embedding(12, 6, { paddingIdx: 0 }), new nn.SinusoidalPositionalEncoding(6, { maxLength: 8 }),
      new nn.LearnedPositionalEncoding(8, 6), new nn.Flatten(), new nn.Linear(24, 3),
    ], { seed: 5 });
    const ids = intTensor([[1, 2, 3, 0], [11, 4, 0, 0]]);
    const y = model.forward(ids);
    expect(y.shape).toEqual([2, 3]);
    const dir = mkdtempSync(join(tmpdir(), 'myelin-emb-'));
    dirs.push(dir);
    save(model, dir);
    const back = load(dir);
    expect(Array.from((back as nn.Sequential).forward(ids).data)).toEqual(Array.from(y.data));
    // predict takes the ids too (in batches of rows, eval mode).
    expect(Array.from(back.predict(ids, { batchSize: 1 }).data)).toEqual(Array.from(y.data));
    expect(back.toConfig()).toEqual(model.toConfig());
    expect(nn.fromConfig(model.toConfig()).describe()).toBe(model.describe());
    expect(() => nn.fromConfig({ type: 'Embedding', numEmbeddings: 3, embeddingDim: 2, paddingIdx: 'x' } as never)).toThrow(/paddingIdx/);
  });
});

describe('positional encodings', () => {
  it('sinusoidal: pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(...), added to the input; no parameters', () => {
    const d = 7;
    const pe = new nn.SinusoidalPositionalEncoding(d, { maxLength: 20 });
    expect(pe.parameters()).toEqual([]);
    const x = randomTensor(rng, [2, 5, d]);
    const y = pe.forward(x);
    for (let b = 0; b < 2; b++) {
      for (let p = 0; p < 5; p++) {
        for (let i = 0; i < d; i++) {
          const angle = p / 10000 ** ((i - (i % 2)) / d);
          const want = i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
          expect(y.data[(b * 5 + p) * d + i] - x.data[(b * 5 + p) * d + i]).toBeCloseTo(want, 5);
        }
      }
    }
    // A shorter sequence after a longer one reads the first rows of the same table.
    const short = pe.forward(ops.narrow(x, 1, 0, 2));
    expect(Array.from(short.data.subarray(0, 2 * d))).toEqual(Array.from(y.data.subarray(0, 2 * d)));
    expect(() => pe.forward(randomTensor(rng, [21, d]))).toThrow(/has 21 positions, more than maxLength 20/);
    expect(() => pe.forward(randomTensor(rng, [3, 4]))).toThrow(/input of shape \[3,4\] must be \[\.\.\., length, 7\]/);
    gradcheck(([t]) => pe.forward(t), [x], { label: `sinusoidal (seed ${seed})` });
  });

  it('learned: x + weight[0:length], gradient to both input and table', () => {
    const pe = new nn.LearnedPositionalEncoding(6, 3, { seed: 4 });
    const x = randomTensor(rng, [2, 4, 3]);
    const y = pe.forward(x);
    expect(y.data[(1 * 4 + 2) * 3 + 1]).toBeCloseTo(x.data[(1 * 4 + 2) * 3 + 1] + pe.weight.data[2 * 3 + 1], 6);
    gradcheck(([t, w]) => ops.add(t, ops.narrow(w, 0, 0, 4)), [x, pe.weight], { label: `learned (seed ${seed})` });
    pe.zeroGrad();
    ops.sum(pe.forward(x)).backward();
    expect(Array.from(pe.weight.grad!.data.subarray(4 * 3))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(pe.weight.grad!.data.subarray(0, 3))).toEqual([2, 2, 2]);
  });
});
