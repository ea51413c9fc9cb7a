// Integer-id inputs (IntTensor) through fit (validation split, validationData, shuffling), predict and predictAsync, and
// the CLI: `myelin train --embedding` on a CSV of token ids, `myelin predict` on one; errors name the bad id and vocab size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { intTensor, IntTensor } from '../lib/int-tensor';
import * as nn from '../lib/nn';
import { fit } from '../lib/train';
import { save } from '../lib/io/model-file';
import { ensureDist, DIST_CLI } from './helpers/dist';

/** Sequences of 6 ids in [0, 40); label 1 when id 7 or 8 occurs. */
function dataset(n: number, seed: number): { ids: IntTensor; labels: Int32Array } {
  let s = seed;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const ids = new Int32Array(n * 6);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 6; j++) ids[i * 6 + j] = Math.floor(rnd() * 40);
    labels[i] = ids.subarray(i * 6, i * 6 + 6).some((v) => v === 7 || v === 8) ? 1 : 0;
  }
  return { ids: intTensor(ids, [n, 6]), labels };
}

const model = (): nn.Sequential => new nn.Sequential([new nn.Embedding(40, 8), new nn.GRU(8, 12, { batchFirst: true, returnSequences: false }), new nn.Linear(12, 2)], { seed: 3 });

describe('IntTensor inputs through fit, predict and predictAsync', () => {
  it('fit trains on ids with a validation split and shuffling, exactly as on their float values', async () => {
    const { ids, labels } = dataset(240, 1);
    const a = model();
    const b = model();
    const opts = { epochs: 4, batchSize: 16, lr: 1e-2, validationSplit: 0.25, shuffle: true, seed: 5, verbose: 0 as const };
    const ha = await fit(a, { x: ids, y: labels }, opts);
    const hb = await fit(b, { x: ids.toFloat(), y: labels }, opts);
    expect(ha.loss).toEqual(hb.loss);
    expect(ha.valLoss).toEqual(hb.valLoss);
    expect(ha.valLoss.length).toBe(4);
    expect(ha.loss[3]).toBeLessThan(ha.loss[0]);
    // validationData with ids, and predict / predictAsync on ids give forward's outputs
    const val = dataset(40, 2);
    const hc = await fit(a, { x: ids, y: labels }, { epochs: 1, batchSize: 16, validationData: { x: val.ids, y: val.labels }, verbose: 0 });
    expect(hc.valAccuracy.length).toBe(1);
    a.eval();
    const want = a.forward(val.ids) as import('../lib/tensor').Tensor;
    expect(Array.from(a.predict(val.ids).data)).toEqual(Array.from(want.data));
    const got = await a.predictAsync(val.ids);
    expect(got.shape).toEqual([40, 2]);
    for (let i = 0; i < got.size; i++) expect(Math.abs(got.data[i] - want.data[i])).toBeLessThan(1e-6);
  });

  it('bad ids: out of range names the id and the table size; beyond 2^24 cannot pass as float32', async () => {
    const m = model();
    const bad = intTensor([[1, 2, 3, 4, 5, 40]]);
    expect(() => m.predict(bad)).toThrow(/index 40 at position 5 is out of range for an embedding table of 40 rows \(valid: 0 to 39\)/);
    await expect(m.predictAsync(bad)).rejects.toThrow(/index 40 .* embedding table of 40 rows/);
    await expect(fit(m, { x: bad, y: [0] }, { epochs: 1, verbose: 0 })).rejects.toThrow(/index 40 .* embedding table of 40 rows/);
    const huge = intTensor([[1, 2, 3, 4, 5, 2 ** 25]]);
    await expect(fit(m, { x: huge, y: [0] }, { epochs: 1, verbose: 0 })).rejects.toThrow(/fit: data.x: id 33554432 at position 5 is beyond 2\^24/);
    await expect(m.predictAsync(huge)).rejects.toThrow(/predictAsync: id 33554432 at position 5 is beyond 2\^24/);
  });
});

describe('CLI with token-id CSVs', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-ids-'));
  const cli = (args: string[]) => spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  beforeAll(() => {
    ensureDist();
    const { ids, labels } = dataset(300, 7);
    const rows = ['t0,t1,t2,t3,t4,t5,label'];
    for (let i = 0; i < 300; i++) rows.push(`${Array.from(ids.data.subarray(i * 6, i * 6 + 6)).join(',')},${labels[i]}`);
    fs.writeFileSync(path.join(dir, 'train.csv'), rows.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'ids.csv'), 't0,t1,t2,t3,t4,t5\n7,1,2,3,4,5\n1,2,3,4,5,6\n');
    fs.writeFileSync(path.join(dir, 'ids-bad.csv'), 't0,t1,t2,t3,t4,t5\n7,1,2,3,4,5\n1,2,3,4,5,41\n');
    fs.writeFileSync(path.join(dir, 'train-bad.csv'), 't0,t1,label\n1,2,0\n3,2.5,1\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('train --embedding fits Embedding + MLP on token ids; predict reads id rows', () => {
    const out = path.join(dir, 'model');
    const t = cli(['train', '--data', path.join(dir, 'train.csv'), '--embedding', '40:8', '--layers', '32', '--epochs', '40', '--lr', '0.01', '--seed', '1', '--out', out, '-q']);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/trained Embedding\(40, 8\) \+ 48-32-2 MLP/);
    expect(t.stdout).toMatch(/scaling: +none for token ids/);
    const acc = Number(/train accuracy: +([\d.]+)%/.exec(t.stdout)?.[1]);
    expect(acc, t.stdout).toBeGreaterThan(80);
    const p = cli(['predict', '--model', out, '--input', path.join(dir, 'ids.csv')]);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout.trim().split('\n')).toEqual(['class', '1', '0']);
    const bad = cli(['predict', '--model', out, '--input', path.join(dir, 'ids-bad.csv')]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/ids-bad\.csv: embedding: index 41 .* embedding table of 40 rows \(valid: 0 to 39\)/);
  });

  it('predict: a saved Embedding-first model with no recorded input shape takes id rows of their own width', () => {
    // Before: the width came from the first Linear after Flatten ("rows have 6 values, the model expects 24").
    const m = new nn.Sequential([new nn.Embedding(40, 4), new nn.Flatten(), new nn.Linear(24, 2)], { seed: 2 });
    const out = path.join(dir, 'plain');
    save(m, out);
    const p = cli(['predict', '--model', out, '--input', path.join(dir, 'ids.csv')]);
    expect(p.status, p.stderr).toBe(0);
    const want = m.predict(intTensor([[7, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6]]));
    const rows = p.stdout.trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    rows.forEach((r, i) => r.forEach((v, j) => expect(Math.abs(v - want.data[i * 2 + j])).toBeLessThan(1e-5)));
  });

  it('train --embedding refuses ids that are not integers in [0, vocab), naming row, column and value', () => {
    const r = cli(['train', '--data', path.join(dir, 'train-bad.csv'), '--embedding', '40:4', '--out', path.join(dir, 'm2'), '-q']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/data row 2, t1: token id 2\.5 is not an integer token id/);
    const r2 = cli(['train', '--data', path.join(dir, 'train.csv'), '--embedding', '30:4', '--out', path.join(dir, 'm3'), '-q']);
    expect(r2.stderr).toMatch(/token id (3\d) is out of range for --embedding vocabulary size 30 \(ids are 0 to 29\)/);
    const r3 = cli(['train', '--data', path.join(dir, 'train.csv'), '--embedding', '40', '--out', path.join(dir, 'm4'), '-q']);
    expect(r3.stderr).toMatch(/--embedding must be <vocab size>:<dimension>/);
  });
});
