// data.Dataset on worker threads (the compiled package, where the CSV parse worker exists): CSV parsing and map off the main thread, in order, buffers transferred.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensureDist, ROOT } from './helpers/dist';
import type * as DataModule from '../lib/data';
import type * as Myelin from '../lib';
import type { Batch, Row } from '../lib/data/dataset';

let data: typeof DataModule;
let myelin: typeof Myelin;
let dir = '';
let file = '';

beforeAll(() => {
  ensureDist();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  myelin = require(path.join(ROOT, 'dist', 'index.js')) as typeof Myelin;
  data = myelin.data;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-dataset-workers-'));
  file = path.join(dir, 'table.csv');
  const lines = ['a,b,c,d,label'];
  let s = 99;
  const r = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  for (let i = 0; i < 20_000; i++) lines.push(`${(r() * 10).toFixed(3)},${Math.floor(r() * 255)},${(r() - 0.5).toPrecision(5)},${i},${i % 4}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const flat = (bs: Batch[]): number[] => bs.flatMap((b) => Array.from(b.x));

describe('Dataset with workers', () => {
  it('fromCsv parses on worker threads: the same batches, in file order, as on the main thread', async () => {
    const main = await (data.Dataset.fromCsv(file, { labelColumn: 'label', batchSize: 500, workers: 0 }) as DataModule.Dataset<Batch>).toArray();
    const pooled = await (data.Dataset.fromCsv(file, { labelColumn: 'label', batchSize: 500, workers: 2 }) as DataModule.Dataset<Batch>).toArray();
    expect(pooled.length).toBe(40);
    expect(flat(pooled)).toEqual(flat(main));
    expect(pooled.flatMap((b) => Array.from(b.y!))).toEqual(main.flatMap((b) => Array.from(b.y!)));
    // Each batch owns its buffers (they came back from the workers whole).
    for (const b of pooled) expect(b.x.byteLength).toBe(b.x.buffer.byteLength);
  });

  it('map on workers: the same results in order; batches are transferred (the sent buffer is detached), not copied', async () => {
    const batches = data.Dataset.fromCsv(file, { labelColumn: 'label', batchSize: 1000, workers: 0 }) as DataModule.Dataset<Batch>;
    const scale = (b: Batch): Batch => {
      const x = new Float32Array(b.x.length);
      for (let i = 0; i < x.length; i++) x[i] = b.x[i] * 0.5 + 1;
      return { x, y: b.y, n: b.n, features: b.features };
    };
    const inline = await batches.map(scale).toArray();
    const sent: Batch[] = [];
    const onWorkers = await batches.map((b) => { sent.push(b); return b; }).map(scale, { workers: 2 }).toArray();
    expect(flat(onWorkers)).toEqual(flat(inline));
    expect(onWorkers.flatMap((b) => Array.from(b.y!))).toEqual(inline.flatMap((b) => Array.from(b.y!)));
    expect(sent.length).toBe(20);
    for (const b of sent) expect(b.x.buffer.byteLength).toBe(0); // handed to a worker without a copy
    // Rows (views into a batch) are cloned, so the batch they share stays readable.
    const rows = await (data.Dataset.fromArrays({ x: Float32Array.of(1, 2, 3, 4), y: [0, 1] }) as DataModule.Dataset<Row>)
      .map(async (r) => ({ x: Array.from(r.x as Float32Array, (v) => v * 10), y: r.y }), { workers: 1 }).toArray();
    expect(rows).toEqual([{ x: [10, 20], y: 0 }, { x: [30, 40], y: 1 }]);
  });

  it('map on workers: errors say what went wrong', async () => {
    const k = 3;
    const ds = data.Dataset.fromGenerator(() => [1, 2, 3]);
    await expect(ds.map((v) => v * k, { workers: 1 }).toArray()).rejects.toThrow(/Dataset\.map: worker: k is not defined \(a map function run on workers must be self-contained/);
    await expect(ds.map((v) => { if (v === 2) throw new Error('two is bad'); return v; }, { workers: 2 }).toArray()).rejects.toThrow('Dataset.map: worker: two is bad');
    const obj = { f(v: number): number { return v; } };
    await expect(ds.map(obj.f, { workers: 1 }).toArray()).rejects.toThrow('is not a function expression');
    await expect(ds.map(Math.abs, { workers: 1 }).toArray()).rejects.toThrow('a built-in or bound function cannot run on worker threads');
  });

  it('fit through parse and map workers trains exactly as the in-memory path on the same rows in the same order', async () => {
    const { nn, fit } = myelin;
    const model = (): Myelin.nn.Sequential => new nn.Sequential(new nn.Linear(4, 8, { seed: 5 }), new nn.ReLU(), new nn.Linear(8, 4, { seed: 6 }));
    const table = await data.readCsv(file, { labelColumn: 'label' });
    const scale = (x: Float32Array): Float32Array => x.map((v, i) => (i % 4 === 3 ? v / 20000 : i % 4 === 1 ? v / 255 : v / 10));
    const a = model();
    const ha = await fit(a, { x: scale(table.x), y: table.y!, features: 4 }, { epochs: 2, batchSize: 500, shuffle: false, verbose: 0, lr: 0.01 });
    const b = model();
    const stream = data.Dataset.fromCsv(file, { labelColumn: 'label', batchSize: 500, workers: 2 })
      .map((bt: Batch) => ({ ...bt, x: bt.x.map((v, i) => (i % 4 === 3 ? v / 20000 : i % 4 === 1 ? v / 255 : v / 10)) }), { workers: 2 });
    const hb = await fit(b, stream, { epochs: 2, verbose: 0, lr: 0.01 });
    expect(hb.loss).toEqual(ha.loss);
    expect(b.parameters().map((p) => Array.from(p.data))).toEqual(a.parameters().map((p) => Array.from(p.data)));
  });

  it('map on workers keeps its threads across epochs (the pool is not started again for each pass)', async () => {
    const seen: number[][] = [];
    const ds = data.Dataset.fromGenerator(() => [1, 2, 3, 4, 5, 6])
      .map((v: number) => ({ v, thread: (require('worker_threads') as typeof import('worker_threads')).threadId }), { workers: 2 });
    for (let epoch = 0; epoch < 3; epoch++) {
      const out = await ds.toArray();
      expect(out.map((o) => o.v)).toEqual([1, 2, 3, 4, 5, 6]);
      seen.push([...new Set(out.map((o) => o.thread))].sort((a, b) => a - b));
    }
    expect(seen[0].length).toBe(2);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    // A pass stopped early leaves the pool usable for the next one.
    const it = ds[Symbol.asyncIterator]();
    await it.next();
    await it.return?.();
    expect((await ds.toArray()).map((o) => o.v)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
