// fit / evaluate / predict on a data.Dataset: the same results as the in-memory path when the order is the same, options and errors of the streaming driver.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor } from '../lib/tensor';
import { Sequential } from '../lib/nn/sequential';
import { Linear } from '../lib/nn/linear';
import { ReLU } from '../lib/nn/activations';
import { fit, evaluate, predict } from '../lib/train';
import { Dataset, type Row } from '../lib/data/dataset';
import { readCsv } from '../lib/data/csv';
import { Module } from '../lib/nn/module';
import { concat } from '../lib/ops';
import type { LayerConfig } from '../lib/nn/config';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-fit-dataset-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** n rows of 6 seeded features and 3 classes (a rule of the features, so training learns). */
function blobs(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296 - 0.5; };
  const x = new Float32Array(n * 6);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 6; j++) x[i * 6 + j] = r();
    y[i] = x[i * 6] + x[i * 6 + 1] > 0.2 ? 2 : x[i * 6 + 2] > 0 ? 1 : 0;
  }
  return { x, y };
}

const mlp = (): Sequential => new Sequential(new Linear(6, 16, { seed: 1 }), new ReLU(), new Linear(16, 3, { seed: 2 }));
const weights = (m: Sequential): number[][] => m.parameters().map((p) => Array.from(p.data));

describe('fit on a data.Dataset', () => {
  it('equals the in-memory fit when the order is the same (rows, batches, validation arrays or dataset)', async () => {
    const train = blobs(203, 11);
    const val = blobs(50, 12);
    const opts = { epochs: 3, batchSize: 16, verbose: 0 as const, lr: 0.01, metrics: ['accuracy', 'f1'] as const };
    const a = mlp();
    const ha = await fit(a, { x: train.x, y: train.y, features: 6 }, { ...opts, shuffle: false, validationData: { x: val.x, y: val.y, features: 6 } });
    const b = mlp();
    const hb = await fit(b, Dataset.fromArrays({ ...train, features: 6 }), { ...opts, validationData: { x: val.x, y: val.y, features: 6 } });
    const c = mlp();
    const { batchSize: _b, ...noBatch } = opts;
    void _b;
    const hc = await fit(c, Dataset.fromArrays({ ...train, features: 6 }, { batchSize: 16 }).prefetch(2), {
      ...noBatch, validationData: Dataset.fromArrays({ ...val, features: 6 }, { batchSize: 256 }),
    });
    expect(weights(b)).toEqual(weights(a));
    expect(weights(c)).toEqual(weights(a));
    for (const h of [hb, hc]) {
      expect(h.loss).toEqual(ha.loss);
      expect(h.accuracy).toEqual(ha.accuracy);
      expect(h.valLoss).toEqual(ha.valLoss);
      expect(h.valAccuracy).toEqual(ha.valAccuracy);
      expect(h.metrics.f1).toEqual(ha.metrics.f1);
    }
    expect(ha.loss[2]).toBeLessThan(ha.loss[0]);
  });

  it('equals the in-memory fit on a CSV file (readCsv vs Dataset.fromCsv), regression targets', async () => {
    const file = path.join(dir, 'reg.csv');
    const d = blobs(300, 5);
    const lines = ['f0,f1,f2,f3,f4,f5,target'];
    for (let i = 0; i < 300; i++) lines.push([...d.x.subarray(i * 6, i * 6 + 6)].map((v) => v.toFixed(4)).join(',') + `,${(d.x[i * 6] * 3 + 0.25).toFixed(4)}`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const table = await readCsv(file, { labelColumn: 'target' });
    expect(table.task).toBe('regression');
    const model = (): Sequential => new Sequential(new Linear(6, 8, { seed: 3 }), new ReLU(), new Linear(8, 1, { seed: 4 }));
    const a = model();
    const ha = await fit(a, { x: table.x, y: table.y!, features: 6 }, { epochs: 2, batchSize: 32, shuffle: false, verbose: 0 });
    const b = model();
    const hb = await fit(b, Dataset.fromCsv(file, { labelColumn: 'target' }), { epochs: 2, batchSize: 32, verbose: 0 });
    expect(weights(b)).toEqual(weights(a));
    expect(hb.loss).toEqual(ha.loss);
    // Evaluate and predict on the dataset equal the in-memory calls.
    const ea = evaluate(a, { x: table.x, y: table.y!, features: 6 }, { batchSize: 256 }); // the dataset's batches below
    const eb = await evaluate(a, Dataset.fromCsv(file, { labelColumn: 'target', batchSize: 256 }));
    expect(eb.loss).toBe(ea.loss);
    const pa = predict(a, new Tensor(table.x, [300, 6]));
    const pb = await predict(a, Dataset.fromCsv(file, { labelColumn: 'target' }).map((r) => ({ x: (r as Row).x })));
    expect(pb.shape).toEqual([300, 1]);
    expect(Array.from(pb.data)).toEqual(Array.from(pa.data));
  });

  it('stepsPerEpoch reads on across epochs and restarts an ended dataset; an endless one trains', async () => {
    const d = blobs(40, 3);
    let passes = 0;
    const ds = Dataset.fromGenerator(function* g() {
      passes++;
      for (let i = 0; i < 40; i++) yield { x: d.x.subarray(i * 6, i * 6 + 6), y: d.y[i] } as Row;
    });
    const seen: number[] = [];
    const h = await fit(mlp(), ds, { epochs: 3, batchSize: 16, stepsPerEpoch: 2, verbose: 0, onBatchEnd: (_b, logs) => { seen.push(logs.size); } });
    // 40 rows = batches 16, 16, 8; six steps read 16,16 | 8,16 | 16,8.
    expect(seen).toEqual([16, 16, 8, 16, 16, 8]);
    expect(passes).toBe(2);
    expect(h.loss.length).toBe(3);
    const endless = await fit(mlp(), Dataset.fromArrays({ ...d, features: 6 }).repeat(), { epochs: 2, stepsPerEpoch: 5, batchSize: 8, verbose: 0 });
    expect(endless.loss.length).toBe(2);
  });

  it('signal aborts at a batch boundary and callbacks see the epoch', async () => {
    const d = blobs(64, 9);
    const ac = new AbortController();
    const h = await fit(mlp(), Dataset.fromArrays({ ...d, features: 6 }), {
      epochs: 5, batchSize: 8, verbose: 0, signal: ac.signal, onEpochEnd: (e) => { if (e === 1) ac.abort(); },
    });
    expect(h.aborted).toBe(true);
    expect(h.loss.length).toBe(2);
    const stopped = await fit(mlp(), Dataset.fromArrays({ ...d, features: 6 }), {
      epochs: 5, batchSize: 8, verbose: 0, onEpochEnd: (e, _logs, ctx) => { expect(ctx.samples).toBe(64); expect(ctx.stepsPerEpoch).toBe(8); if (e === 2) ctx.stopTraining = true; },
    });
    expect(stopped.stopReason).toBe('stopped');
    expect(stopped.loss.length).toBe(3);
    await expect(fit(mlp(), Dataset.fromArrays({ ...d, features: 6 }), null as never)).rejects.toThrow('fit: options must be');
  });

  it('errors: array-only options, batchSize on batches, bad labels in a later batch, empty data, stepsPerEpoch for arrays', async () => {
    const d = blobs(30, 2);
    const ds = Dataset.fromArrays({ ...d, features: 6 });
    await expect(fit(mlp(), ds, { shuffle: true, verbose: 0 })).rejects.toThrow("fit: option 'shuffle' is for in-memory data, not a data.Dataset: shuffle the dataset itself: dataset.shuffle(bufferSize, { seed })");
    await expect(fit(mlp(), ds, { validationSplit: 0.2, verbose: 0 })).rejects.toThrow("option 'validationSplit' is for in-memory data");
    await expect(fit(mlp(), ds, { epoch: 2 } as never)).rejects.toThrow("did you mean 'epochs'?");
    await expect(fit(mlp(), ds.batch(8), { batchSize: 8, verbose: 0 })).rejects.toThrow('fit: batchSize applies to a dataset of rows');
    await expect(fit(mlp(), ds, { stepsPerEpoch: 0, verbose: 0 })).rejects.toThrow('fit: stepsPerEpoch must be a positive integer, got 0');
    await expect(fit(mlp(), ds, { classWeight: 'balanced', verbose: 0 })).rejects.toThrow("classWeight 'balanced' needs the class counts");
    const bad = Dataset.fromGenerator(function* g() { for (let i = 0; i < 30; i++) yield { x: [0, 0, 0, 0, 0, 0], y: i === 25 ? 7 : 1 } as Row; });
    await expect(fit(mlp(), bad, { batchSize: 8, verbose: 0 })).rejects.toThrow('fit: dataset batch 3 of epoch 1.y[1] = 7 is out of range: labels must be integers in [0, 3)');
    const nan = Dataset.fromGenerator(function* g() { yield { x: [0, 0, NaN, 0, 0, 0], y: 1 } as Row; });
    await expect(fit(mlp(), nan, { verbose: 0 })).rejects.toThrow('fit: dataset element 0.x row 0, column 2 (0-based) is NaN');
    await expect(fit(mlp(), Dataset.fromGenerator(() => [] as Row[]), { verbose: 0 })).rejects.toThrow('fit: the dataset yielded no batches');
    await expect(fit(mlp(), { x: d.x, y: d.y, features: 6 }, { stepsPerEpoch: 2 })).rejects.toThrow('fit: stepsPerEpoch is for a data.Dataset');
    const wide = Dataset.fromGenerator(function* g() { yield { x: [1, 2, 3], y: 0 } as Row; });
    await expect(fit(mlp(), wide, { verbose: 0 })).rejects.toThrow('fit: the model cannot run on dataset element 0.x rows of shape [3]');
  });

  it('closes the source when training stops early (no reads left pending)', async () => {
    let closed = 0;
    const d = blobs(64, 4);
    const ds = Dataset.fromGenerator(async function* g() {
      try { for (let i = 0; i < 64; i++) yield { x: d.x.subarray(i * 6, i * 6 + 6), y: d.y[i] } as Row; } finally { closed++; }
    });
    await expect(fit(mlp(), ds.map((r, i) => { if (i === 20) throw new Error('bad row 20'); return r; }), { batchSize: 8, verbose: 0 })).rejects.toThrow('bad row 20');
    expect(closed).toBe(1);
  });

  it('several inputs and several outputs: batches of { x: { a, b }, y: { cls, reg } } train as the in-memory fit does (same order)', async () => {
    class TwoInTwoOut extends Module {
      readonly left = this.registerModule('left', new Linear(4, 8, { seed: 7 }));
      readonly right = this.registerModule('right', new Linear(2, 8, { seed: 8 }));
      readonly cls = this.registerModule('cls', new Linear(16, 3, { seed: 9 }));
      readonly reg = this.registerModule('reg', new Linear(16, 1, { seed: 10 }));
      override forward(x: { a: Tensor; b: Tensor }): { cls: Tensor; reg: Tensor } {
        const h = concat([this.left.forward(x.a).relu(), this.right.forward(x.b).relu()], 1);
        return { cls: this.cls.forward(h), reg: this.reg.forward(h) };
      }
      override toConfig(): LayerConfig { return { type: 'TwoInTwoOut' }; }
      override describe(): string { return 'TwoInTwoOut'; }
    }
    const n = 96;
    const d = blobs(n, 41);
    const a = new Float32Array(n * 4);
    const b = new Float32Array(n * 2);
    const reg = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a.set(d.x.subarray(i * 6, i * 6 + 4), i * 4);
      b.set(d.x.subarray(i * 6 + 4, i * 6 + 6), i * 2);
      reg[i] = d.x[i * 6 + 4] - d.x[i * 6 + 5];
    }
    const rows = (s: number, e: number): { x: { a: Tensor; b: Tensor }; y: { cls: Int32Array; reg: Tensor } } => ({
      x: { a: new Tensor(a.slice(s * 4, e * 4), [e - s, 4]), b: new Tensor(b.slice(s * 2, e * 2), [e - s, 2]) },
      y: { cls: d.y.slice(s, e), reg: new Tensor(reg.slice(s, e), [e - s, 1]) },
    });
    const batches = Dataset.fromGenerator(function* g() { for (let s = 0; s < n; s += 16) yield rows(s, Math.min(n, s + 16)); }, { batched: true });
    const opts = { epochs: 3, lr: 0.01, verbose: 0 as const, loss: { cls: 'crossEntropy', reg: 'mse' } as const, lossWeights: { reg: 0.5 } };
    const m1 = new TwoInTwoOut();
    const h1 = await fit(m1, rows(0, n), { ...opts, batchSize: 16, shuffle: false, validationData: rows(0, 32) });
    const m2 = new TwoInTwoOut();
    const h2 = await fit(m2, batches, { ...opts, validationData: rows(0, 32) });
    expect(h2.loss).toEqual(h1.loss);
    expect(h2.valLoss).toEqual(h1.valLoss);
    expect(h2.metrics).toEqual(h1.metrics);
    expect(m2.parameters().map((p) => Array.from(p.data))).toEqual(m1.parameters().map((p) => Array.from(p.data)));
    const e1 = evaluate(m1, rows(0, n), { loss: opts.loss, lossWeights: opts.lossWeights });
    const e2 = await evaluate(m2, batches, { loss: opts.loss, lossWeights: opts.lossWeights });
    expect(e2.loss).toBeCloseTo(e1.loss, 6);
    expect(e2.clsAccuracy).toBe(e1.clsAccuracy);
  });
});
