// data.Dataset: combinators (map, filter, batch, shuffle, take/skip, repeat, prefetch, concatenate, zip) and constructors (arrays, generators, CSV, IDX, file globs with shards), with their errors.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Dataset, type Row, type Batch } from '../lib/data/dataset';
import { readCsv } from '../lib/data/csv';
import { readIdx } from '../lib/data/idx';
import * as zlib from 'zlib';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-dataset-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const range = (n: number): Dataset<number> => Dataset.fromGenerator(async function* g() { for (let i = 0; i < n; i++) yield i; });

function idx(file: string, dtype: number, shape: number[], data: number[]): string {
  const head = Buffer.alloc(4 + 4 * shape.length);
  head[2] = dtype;
  head[3] = shape.length;
  shape.forEach((s, i) => head.writeUInt32BE(s, 4 + 4 * i));
  const p = path.join(dir, file);
  fs.writeFileSync(p, Buffer.concat([head, Buffer.from(data)]));
  return p;
}

describe('Dataset combinators', () => {
  it('map (sync and async), filter, take, skip, repeat, concatenate', async () => {
    expect(await range(6).map((v) => v * 2).toArray()).toEqual([0, 2, 4, 6, 8, 10]);
    expect(await range(4).map(async (v, i) => v + i).toArray()).toEqual([0, 2, 4, 6]);
    expect(await range(10).filter((v) => v % 3 === 0).toArray()).toEqual([0, 3, 6, 9]);
    expect(await range(10).skip(7).toArray()).toEqual([7, 8, 9]);
    expect(await range(10).take(2).toArray()).toEqual([0, 1]);
    expect(await range(3).take(0).toArray()).toEqual([]);
    expect(await range(2).repeat(3).toArray()).toEqual([0, 1, 0, 1, 0, 1]);
    expect(await range(3).repeat().take(7).toArray()).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(await range(0).repeat().toArray()).toEqual([]);
    expect(await range(2).concatenate(range(3)).toArray()).toEqual([0, 1, 0, 1, 2]);
  });

  it('is read again on every iteration', async () => {
    const d = range(3).map((v) => v + 1);
    expect(await d.toArray()).toEqual([1, 2, 3]);
    expect(await d.toArray()).toEqual([1, 2, 3]);
  });

  it('zip: arrays and records, until the shortest ends; the longer source is closed', async () => {
    let closed = false;
    const long = Dataset.fromGenerator(async function* g() {
      try { for (let i = 0; ; i++) yield i * 10; } finally { closed = true; }
    });
    expect(await Dataset.zip([range(3), long]).toArray()).toEqual([[0, 0], [1, 10], [2, 20]]);
    expect(closed).toBe(true);
    expect(await Dataset.zip({ a: range(2), b: range(5).map((v) => -v) }).toArray()).toEqual([{ a: 0, b: -0 }, { a: 1, b: -1 }]);
  });

  it('shuffle: a permutation, reproducible from the seed, different per epoch, local for a small buffer', async () => {
    const a = range(100).shuffle(100, { seed: 7 });
    const e1 = await a.toArray();
    const e2 = await a.toArray();
    expect([...e1].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(e1).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(e2).not.toEqual(e1);
    const b = range(100).shuffle(100, { seed: 7 });
    expect(await b.toArray()).toEqual(e1);
    expect(await b.toArray()).toEqual(e2);
    expect(await range(100).shuffle(100, { seed: 8 }).toArray()).not.toEqual(e1);
    // A buffer of 4 moves an element at most a few places earlier than it could be read.
    const local = await range(200).shuffle(4, { seed: 1 }).toArray();
    local.forEach((v, i) => expect(v).toBeLessThanOrEqual(i + 4));
  });

  it('prefetch reads ahead at most depth elements and keeps the order', async () => {
    let produced = 0;
    const d = Dataset.fromGenerator(async function* g() { for (let i = 0; i < 20; i++) { produced++; yield i; } }).prefetch(3);
    const it = d[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(produced).toBeLessThanOrEqual(1 + 3);
    expect(produced).toBeGreaterThanOrEqual(2);
    const rest: number[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
  });

  it('prefetch passes a source error on, in order', async () => {
    const d = Dataset.fromGenerator(async function* g() { yield 1; yield 2; throw new Error('boom at 3'); }).prefetch(4);
    const got: number[] = [];
    await expect((async () => { for await (const v of d) got.push(v); })()).rejects.toThrow('boom at 3');
    expect(got).toEqual([1, 2]);
  });

  it('batch: labels, targets, no y; remainder kept or dropped; unbatch gives the rows back', async () => {
    const rows: Row[] = Array.from({ length: 5 }, (_, i) => ({ x: [i, i + 0.5], y: i % 3 }));
    const ds = Dataset.fromGenerator(() => rows);
    const b = await ds.batch(2).toArray();
    expect(b.map((x) => x.n)).toEqual([2, 2, 1]);
    expect(Array.from(b[1].x)).toEqual([2, 2.5, 3, 3.5]);
    expect(b[1].y).toBeInstanceOf(Int32Array);
    expect(Array.from(b[2].y!)).toEqual([1]);
    expect(b[2].x.length).toBe(2);
    expect((await ds.batch(2, { dropRemainder: true }).toArray()).length).toBe(2);
    const t = await Dataset.fromGenerator(() => [{ x: [1], y: [0.5, 1.5] }, { x: [2], y: Float32Array.of(2.5, 3.5) }]).batch(4).toArray();
    expect(t[0].y).toBeInstanceOf(Float32Array);
    expect(Array.from(t[0].y!)).toEqual([0.5, 1.5, 2.5, 3.5]);
    const back = await ds.batch(2).unbatch().toArray();
    expect(back.map((r) => [Array.from(r.x), r.y])).toEqual(rows.map((r) => [r.x, r.y]));
    const none = await Dataset.fromGenerator(() => [{ x: [1] }, { x: [2] }]).batch(2).toArray();
    expect(none[0].y).toBeUndefined();
  });

  it('batch errors name the element', async () => {
    const bad = (rows: unknown[]): Promise<unknown> => Dataset.fromGenerator(() => rows as Row[]).batch(4).toArray();
    await expect(bad([{ x: [1, 2], y: 0 }, { x: [1], y: 0 }])).rejects.toThrow('Dataset.batch: element 1: x has 1 values, the rows before it have 2');
    await expect(bad([{ x: [1], y: 0 }, { x: [1], y: [0] }])).rejects.toThrow('element 1: y is targets (an array), the rows before it have a class label (a number)');
    await expect(bad([{ x: [1], y: 0.5 }])).rejects.toThrow('element 0: y = 0.5 is not an integer class label (give a regression target as [0.5]');
    await expect(bad([{ y: 1 }])).rejects.toThrow('element 0 must be a row { x, y }');
    await expect(bad([{ x: 'abc', y: 1 }])).rejects.toThrow("element 0: x must be a Float32Array or an array of numbers, got 'abc'");
  });

  it('bad options are errors naming the option and the value', () => {
    expect(() => range(3).batch(0)).toThrow('Dataset.batch: size must be a positive integer, got 0');
    expect(() => range(3).shuffle(10, { seed: -1 })).toThrow('Dataset.shuffle: seed must be an integer in [0, 2^32), got -1');
    expect(() => range(3).shuffle(10, { sed: 1 } as never)).toThrow("did you mean 'seed'?");
    expect(() => range(3).prefetch(1.5)).toThrow('Dataset.prefetch: depth must be a positive integer, got 1.5');
    expect(() => range(3).take(-1)).toThrow('Dataset.take: count must be a non-negative integer, got -1');
    expect(() => range(3).map((v) => v, { workers: -2 })).toThrow('Dataset.map: workers must be a non-negative integer, got -2');
    expect(() => range(3).map('x' as never)).toThrow('Dataset.map: fn');
    expect(() => Dataset.fromGenerator((async function* g() { yield 1; })() as never)).toThrow('pass the generator function, not a generator object');
    expect(() => range(3).batch(2).batch(2)).toThrow('already yields batches');
    expect(() => range(3).concatenate([] as never)).toThrow('Dataset.concatenate: other must be a data.Dataset');
  });
});

describe('Dataset constructors', () => {
  it('fromArrays: rows as views, or batches; labels, targets, nested arrays', async () => {
    const x = Float32Array.from({ length: 12 }, (_, i) => i);
    const rows = await (Dataset.fromArrays({ x, y: [0, 1, 2] }) as Dataset<Row>).toArray();
    expect(rows.length).toBe(3);
    expect((rows[1].x as Float32Array).buffer).toBe(x.buffer);
    expect(Array.from(rows[2].x)).toEqual([8, 9, 10, 11]);
    expect(rows[2].y).toBe(2);
    const batches = await (Dataset.fromArrays({ x, y: Float32Array.of(1, 2, 3, 4, 5, 6), features: 4 }, { batchSize: 2 }) as Dataset<Batch>).toArray();
    expect(batches.map((b) => [b.n, b.features])).toEqual([[2, 4], [1, 4]]);
    expect(Array.from(batches[1].y!)).toEqual([5, 6]);
    const nested = await (Dataset.fromArrays({ x: [[1, 2], [3, 4]], y: [1, 0] }) as Dataset<Row>).toArray();
    expect(Array.from(nested[1].x)).toEqual([3, 4]);
    expect(() => Dataset.fromArrays({ x, y: [0, 1, 2, 3, 4] })).toThrow('Dataset.fromArrays: x has 12 values, not a whole number of rows for 5 rows');
    expect(() => Dataset.fromArrays({ x, features: 5 })).toThrow('not a multiple of features = 5');
    expect(() => Dataset.fromArrays({ x, y: [0, 1.5, 2] })).toThrow('y[1] = 1.5 is not an integer class label');
  });

  it('fromCsv: rows equal readCsv; batches from the parser; labels as classes or targets', async () => {
    const file = path.join(dir, 'small.csv');
    const lines = ['a,b,label'];
    for (let i = 0; i < 50; i++) lines.push(`${i * 0.5},${-i},${i % 3}`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const table = await readCsv(file, { labelColumn: 'label' });
    const rows = await (Dataset.fromCsv(file, { labelColumn: 'label' }) as Dataset<Row>).toArray();
    expect(rows.length).toBe(50);
    rows.forEach((r, i) => {
      expect(Array.from(r.x)).toEqual(Array.from(table.x.subarray(2 * i, 2 * i + 2)));
      expect(r.y).toBe(table.y![i]);
    });
    const batches = await (Dataset.fromCsv(file, { labelColumn: 'label', batchSize: 16 }) as Dataset<Batch>).toArray();
    expect(batches.map((b) => b.n)).toEqual([16, 16, 16, 2]);
    expect(batches[0].y).toBeInstanceOf(Int32Array);
    const reg = await (Dataset.fromCsv(file, { labelColumn: 'label', task: 'regression', batchSize: 64 }) as Dataset<Batch>).toArray();
    expect(reg[0].y).toBeInstanceOf(Float32Array);
    const rrows = await (Dataset.fromCsv(file, { labelColumn: 'a' }) as Dataset<Row>).toArray();
    expect(rrows[1].y).toBeInstanceOf(Float32Array); // 0.5 is not a class: regression targets
  });

  it('fromCsv errors name the file, line and column', async () => {
    const file = path.join(dir, 'bad.csv');
    fs.writeFileSync(file, 'a,b,label\n1,2,0\n3,oops,1\n');
    await expect(Dataset.fromCsv(file, { labelColumn: 'label' }).toArray()).rejects.toThrow(/bad\.csv: line 3, column 2/);
    const drift = path.join(dir, 'drift.csv');
    const lines = ['a,label'];
    for (let i = 0; i < 20; i++) lines.push(`${i},${i % 2}`);
    lines.push('5,0.5');
    fs.writeFileSync(drift, lines.join('\n') + '\n');
    await expect(Dataset.fromCsv(drift, { labelColumn: 'label', batchSize: 10 }).toArray()).rejects.toThrow(
      "drift.csv: row 1 of the batch from line 22 has the label 0.5: the first batch's labels were integers in [0, 50), so labels are read as classes: pass task: 'regression'",
    );
    expect(() => Dataset.fromCsv(path.join(dir, 'nope.csv'))).toThrow("Dataset.fromCsv: no such file '");
    expect(() => Dataset.fromCsv(file, { task: 'sort' as never })).toThrow("Dataset.fromCsv: task must be one of");
    await expect(Dataset.fromCsv(file, { labelColum: 'x' } as never).toArray()).rejects.toThrow("did you mean 'labelColumn'?");
  });

  it('fromIdx: images and labels, scaled', async () => {
    const images = idx('img.idx', 0x08, [3, 2, 2], [0, 255, 51, 102, 1, 2, 3, 4, 9, 9, 9, 9]);
    const labels = idx('lab.idx', 0x08, [3], [7, 1, 4]);
    const rows = await Dataset.fromIdx(images, labels, { scale: 1 / 255 }).toArray();
    expect(rows.map((r) => r.y)).toEqual([7, 1, 4]);
    expect(Array.from(rows[0].x)).toEqual([0, 1, 0.2, 0.4].map((v) => Math.fround(v)));
    const int16 = idx('i16.idx', 0x0b, [2, 1], [0xff, 0xfe, 0x01, 0x00]);
    expect((await Dataset.fromIdx(int16).toArray()).map((r) => r.x[0])).toEqual([-2, 256]);
    const short = idx('short.idx', 0x08, [2], [1, 2]);
    await expect(Dataset.fromIdx(images, short).toArray()).rejects.toThrow('labels have shape [2], expected [3]');
    expect(() => Dataset.fromIdx(path.join(dir, 'none.idx'))).toThrow('Dataset.fromIdx: images: no such file');
  });

  it('fromIdx streams: rows spanning chunks, raw and gzip, equal readIdx; truncated data and trailing bytes are errors', async () => {
    const rows = 3001;
    const pixels = Array.from({ length: rows * 785 }, (_, i) => (i * 7919) % 251);
    const raw = idx('big.idx', 0x08, [rows, 785], pixels); // 2.36 MB: rows straddle the 1 MiB read chunks
    const gz = path.join(dir, 'big.idx.gz');
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(raw)));
    const whole = readIdx(raw);
    for (const file of [raw, gz]) {
      const got = await Dataset.fromIdx(file).toArray();
      expect(got.length).toBe(rows);
      for (const i of [0, 1335, 1336, 2671, 3000]) expect(Array.from(got[i].x)).toEqual(Array.from(whole.data.subarray(i * 785, (i + 1) * 785)));
    }
    expect((await Dataset.fromIdx(gz).take(2).toArray()).length).toBe(2);
    const cut = path.join(dir, 'cut.idx');
    fs.writeFileSync(cut, fs.readFileSync(raw).subarray(0, 8 + 8 + 785 * 10 + 5));
    await expect(Dataset.fromIdx(cut).toArray()).rejects.toThrow(`readIdx: ${cut}: truncated data: shape [3001, 785] of uint8 needs 2355797 bytes, got 7871`);
    const extra = path.join(dir, 'extra.idx');
    fs.writeFileSync(extra, Buffer.concat([fs.readFileSync(idx('two.idx', 0x08, [2, 2], [1, 2, 3, 4])), Buffer.from([9])]));
    await expect(Dataset.fromIdx(extra).toArray()).rejects.toThrow('unexpected trailing bytes after the data (shape [2, 2] of uint8 needs 16 bytes)');
    const bad = path.join(dir, 'bad.idx');
    fs.writeFileSync(bad, Buffer.from([1, 2, 3, 4, 5]));
    await expect(Dataset.fromIdx(bad).toArray()).rejects.toThrow('wrong magic number 01 02 03 04');
    const corrupt = path.join(dir, 'corrupt.idx.gz');
    fs.writeFileSync(corrupt, zlib.gzipSync(fs.readFileSync(raw)).subarray(0, 5000));
    await expect(Dataset.fromIdx(corrupt).toArray()).rejects.toThrow(`readIdx: ${corrupt}: corrupt gzip data`);
  });

  it('fromFiles: a glob, sorted, sharded; shards cover every file once', async () => {
    const sub = path.join(dir, 'parts');
    fs.mkdirSync(sub);
    for (let p = 0; p < 5; p++) {
      const lines = ['v,label'];
      for (let i = 0; i < 3; i++) lines.push(`${p * 10 + i},${i}`);
      fs.writeFileSync(path.join(sub, `part-${p}.csv`), lines.join('\n') + '\n');
    }
    const all = await (Dataset.fromFiles(path.join(sub, 'part-*.csv'), { labelColumn: 'label' }) as Dataset<Row>).toArray();
    expect(all.map((r) => r.x[0])).toEqual([0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42]);
    const shards = await Promise.all([0, 1].map((index) => (Dataset.fromFiles(path.join(sub, '*.csv'), { labelColumn: 'label', shard: { index, count: 2 } }) as Dataset<Row>).toArray()));
    expect(shards[0].map((r) => r.x[0])).toEqual([0, 1, 2, 20, 21, 22, 40, 41, 42]);
    expect(shards[1].map((r) => r.x[0])).toEqual([10, 11, 12, 30, 31, 32]);
    expect(() => Dataset.fromFiles(path.join(sub, '*.tsv'))).toThrow('Dataset.fromFiles: no files match');
    expect(() => Dataset.fromFiles(path.join(sub, '*.csv'), { shard: { index: 2, count: 2 } })).toThrow('Dataset.fromFiles: shard.index must be an integer in [0, 2), got 2');
    expect(() => Dataset.fromFiles(path.join(sub, '*.csv'), { shard: { index: 5, count: 6 } })).toThrow('shard 5 of 6 has no files (5 file(s) matched');
  });
});
