// The CSV parse pool (compiled dist/, where the worker script exists): same batches as parsing on the main thread, errors in file order.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { ensureDist, ROOT } from './helpers/dist';
import type * as CsvModule from '../lib/data/csv';

let csv: typeof CsvModule;
let dir = '';
const seed = (Date.now() ^ (process.pid << 6)) >>> 0;

beforeAll(() => {
  ensureDist();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  csv = require(path.join(ROOT, 'dist', 'data', 'csv.js')) as typeof CsvModule;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-csv-pool-'));
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** rows x cols of seeded values in several number forms, with a header; returns the path. */
function table(name: string, rows: number, cols: number, edit?: (lines: string[]) => void): string {
  let s = seed;
  const rand = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  const lines = [Array.from({ length: cols }, (_, j) => `c${j}`).join(',')];
  for (let r = 0; r < rows; r++) {
    const row: string[] = [];
    for (let c = 0; c < cols; c++) {
      const v = rand();
      row.push(c % 3 === 0 ? String(Math.floor(v * 256)) : c % 3 === 1 ? (v - 0.5).toPrecision(7) : String((v - 0.5) * 1e-3));
    }
    lines.push(row.join(','));
  }
  edit?.(lines);
  const p = path.join(dir, name);
  fs.writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

async function collect(file: string, options: CsvModule.CsvOptions): Promise<CsvModule.CsvBatch[]> {
  const out: CsvModule.CsvBatch[] = [];
  for await (const b of csv.readCsvBatches(file, options)) out.push(b);
  return out;
}

describe(`CSV parse pool (seed ${seed})`, () => {
  it('gives the same batches on 1, 2 or 3 workers as on the main thread, in file order', async () => {
    const file = table('t.csv', 5000, 17);
    const inline = await collect(file, { workers: 0, batchSize: 333, labelColumn: 'c5' });
    expect(inline.length).toBe(Math.ceil(5000 / 333));
    for (const workers of [1, 2, 3]) {
      const pooled = await collect(file, { workers, batchSize: 333, labelColumn: 'c5' });
      expect(pooled.map((b) => b.firstLine), `workers ${workers}`).toEqual(inline.map((b) => b.firstLine));
      pooled.forEach((b, i) => {
        expect(b.rows).toBe(inline[i].rows);
        expect(Buffer.from(b.x.buffer, b.x.byteOffset, b.x.byteLength).equals(Buffer.from(inline[i].x.buffer, inline[i].x.byteOffset, inline[i].x.byteLength))).toBe(true);
        expect(Array.from(b.y!)).toEqual(Array.from(inline[i].y!));
      });
    }
    // A preprocessor's transform applied on the parse threads gives the main thread's numbers.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { preprocessor } = require(path.join(ROOT, 'dist', 'data', 'preprocess.js')) as typeof import('../lib/data/preprocess');
    const all = await csv.readCsv(file, { workers: 0, labelColumn: 'c5' });
    const prep = preprocessor().fit({ x: all.x, features: all.features });
    const transformed = await collect(file, { workers: 2, batchSize: 333, labelColumn: 'c5', preprocessor: prep });
    const expected = prep.transformX(all.x).data;
    let off = 0;
    for (const b of transformed) { expect(Array.from(b.x)).toEqual(Array.from(expected.subarray(off, off + b.x.length))); off += b.x.length; }
    // readCsv of a gzip file through the pool: the whole table, identical.
    const gz = path.join(dir, 't.csv.gz');
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(file)));
    const a = await csv.readCsv(gz, { workers: 2, labelColumn: 'c5' });
    const b = await csv.readCsv(file, { workers: 0, labelColumn: 'c5' });
    expect(a.n).toBe(5000);
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
  });

  it('reports the first error in file order, whichever worker finds its error first', async () => {
    // An error near the end (a small block, parsed quickly) and an earlier one in a big block.
    const file = table('err.csv', 3000, 9, (lines) => {
      lines[2900] = lines[2900].replace(/^[^,]+/, 'oops');
      lines[1200] = lines[1200].replace(/,[^,]+$/, ',');
    });
    await expect(collect(file, { workers: 3, batchSize: 100 })).rejects.toThrow(/err\.csv: line 1201, column 9 \('c8'\): missing value ''/);
    await expect(csv.readCsv(file, { workers: 2, batchSize: 100 })).rejects.toThrow(/line 1201, column 9/);
    // Stopping early (break) ends the pool; a later full read works.
    for await (const _ of csv.readCsvBatches(table('ok.csv', 2000, 5), { workers: 2, batchSize: 50 })) break;
    expect((await csv.readCsv(path.join(dir, 'ok.csv'), { workers: 2 })).n).toBe(2000);
  });

  it("'auto' moves to workers past 4 MiB and still reads a small file on the main thread", async () => {
    expect(csv.WORKER_THRESHOLD_BYTES).toBe(4 * 1024 * 1024);
    const big = table('big.csv', 40000, 20);
    expect(fs.statSync(big).size).toBeGreaterThan(csv.WORKER_THRESHOLD_BYTES);
    const a = await csv.readCsv(big);
    const b = await csv.readCsv(big, { workers: 0 });
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    await expect(csv.readCsv(big, { workers: -1 })).rejects.toThrow(/workers must be 'auto' or an integer in \[0, 64\], got -1/);
  });
});
