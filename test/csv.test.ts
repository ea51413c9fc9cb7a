// CSV reader: header detection, delimiters, label columns, gzip, batching and line/column errors.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { Readable } from 'stream';
import { readCsv, readCsvBatches, splitCsvLine, CsvBatch } from '../lib/data/csv';

const seed = (Date.now() ^ (process.pid << 8)) >>> 0;
let state = seed;
const rand = (): number => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 4294967296;
};

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-csv-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function write(name: string, text: string | Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

async function collect(it: AsyncGenerator<CsvBatch>): Promise<CsvBatch[]> {
  const out: CsvBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('readCsv', () => {
  it('detects a header and takes the label by name', async () => {
    const p = write('h.csv', 'a,b,label,c\n1,2,0,3\n4,5,1,6\n');
    const t = await readCsv(p, { labelColumn: 'label' });
    expect(t.n).toBe(2);
    expect(t.features).toBe(3);
    expect(Array.from(t.x)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(t.y!)).toEqual([0, 1]);
    expect(t.featureNames).toEqual(['a', 'b', 'c']);
    expect(t.labelName).toBe('label');
  });

  it('treats an all-numeric first line as data; label by index, last, negative index, or none', async () => {
    const p = write('n.csv', '1,2,3\r\n4,5,6\r\n\r\n7,8,9');
    expect(Array.from((await readCsv(p, { labelColumn: 'last' })).y!)).toEqual([3, 6, 9]);
    expect(Array.from((await readCsv(p, { labelColumn: 0 })).x)).toEqual([2, 3, 5, 6, 8, 9]);
    expect(Array.from((await readCsv(p, { labelColumn: -2 })).y!)).toEqual([2, 5, 8]);
    const none = await readCsv(p);
    expect(none.y).toBeNull();
    expect(none.features).toBe(3);
    expect(none.n).toBe(3);
  });

  it('auto-detects tab and semicolon delimiters and honours an explicit one', async () => {
    expect(Array.from((await readCsv(write('t.tsv', 'x\ty\n1.5\t-2e3\n'))).x)).toEqual([1.5, -2000]);
    expect(Array.from((await readCsv(write('s.csv', '1;2\n3;4\n'))).x)).toEqual([1, 2, 3, 4]);
    expect(Array.from((await readCsv(write('p.csv', '1|2\n3|4\n'), { delimiter: '|' })).x)).toEqual([1, 2, 3, 4]);
  });

  it('handles quoted header fields', async () => {
    const t = await readCsv(write('q.csv', '"a,1","b ""x"""\n1,2\n'), { labelColumn: 'b "x"' });
    expect(t.featureNames).toEqual(['a,1']);
    expect(splitCsvLine('"a,b",c,"d""e"', ',')).toEqual(['a,b', 'c', 'd"e']);
  });

  it('reads gzip files (by magic bytes) and gzip streams', async () => {
    const text = 'f1,f2,y\n1,2,1\n3,4,0\n';
    const p = write('g.csv.gz', zlib.gzipSync(text));
    expect(Array.from((await readCsv(p, { labelColumn: 'y' })).y!)).toEqual([1, 0]);
    const t = await readCsv(Readable.from([zlib.gzipSync(text)]), { labelColumn: 'y' });
    expect(Array.from(t.x)).toEqual([1, 2, 3, 4]);
  });

  it('errors name the file, line and column', async () => {
    const p = write('bad.csv', 'a,b\n1,2\n3,oops\n');
    await expect(readCsv(p)).rejects.toThrow(/bad\.csv: line 3, column 2 \('b'\): 'oops' is not a number/);
    await expect(readCsv(write('bad2.csv', '1,2\n3\n'))).rejects.toThrow(/bad2\.csv: line 2 has 1 columns, expected 2/);
    await expect(readCsv(write('bad3.csv', '1,,2\n'))).rejects.toThrow(/line 1, column 2: '' is not a number/);
    await expect(readCsv(write('h2.csv', 'a,b\n1,2\n'), { labelColumn: 'zzz' })).rejects.toThrow(/no column named 'zzz' in the header \(columns: a, b\)/);
    await expect(readCsv(write('h3.csv', '1,2\n'), { labelColumn: 'name' })).rejects.toThrow(/label column 'name' given by name but the file has no header/);
    await expect(readCsv(write('h4.csv', '1,2\n'), { labelColumn: 5 })).rejects.toThrow(/label column index 5 is out of range for 2 columns/);
    await expect(readCsv(write('empty.csv', '\n\n'))).rejects.toThrow(/empty\.csv: no data rows/);
    await expect(readCsv(write('onlyhdr.csv', 'a,b\n'))).rejects.toThrow(/onlyhdr\.csv: no data rows/);
    await expect(readCsv(path.join(dir, 'nope.csv'))).rejects.toThrow(/cannot open .*nope\.csv/);
  });
});

describe('readCsvBatches', () => {
  it('yields batches of the requested size whose concatenation equals the file (random sizes)', async () => {
    const rows = 1 + Math.floor(rand() * 3000);
    const cols = 1 + Math.floor(rand() * 12);
    const batchSize = 1 + Math.floor(rand() * 500);
    const values: number[] = [];
    const lines: string[] = [];
    for (let r = 0; r < rows; r++) {
      const row: number[] = [];
      for (let c = 0; c < cols; c++) row.push(Math.round((rand() - 0.5) * 1e4) / 100);
      values.push(...row.map((v) => Number(String(v))));
      lines.push(row.join(','));
    }
    const p = write('r.csv', lines.join('\n') + '\n');
    const batches = await collect(readCsvBatches(p, { batchSize }));
    const msg = `seed ${seed}, rows ${rows}, cols ${cols}, batch ${batchSize}`;
    expect(batches.length, msg).toBe(Math.ceil(rows / batchSize));
    expect(batches.slice(0, -1).every((b) => b.rows === batchSize), msg).toBe(true);
    expect(batches[1]?.firstLine ?? batchSize + 1, msg).toBe(batchSize + 1);
    const all = new Float32Array(rows * cols);
    let off = 0;
    for (const b of batches) { all.set(b.x, off); off += b.x.length; }
    expect(Array.from(all), msg).toEqual(Array.from(Float32Array.from(values)));
  });

  it('reads from a stream split at awkward chunk boundaries', async () => {
    const text = 'a,b\n1.25,2\n3,4\n5,6\n';
    const chunks = Array.from(text).map((ch) => Buffer.from(ch));
    const batches = await collect(readCsvBatches(Readable.from(chunks), { batchSize: 2, labelColumn: 'last' }));
    expect(batches.map((b) => Array.from(b.x))).toEqual([[1.25, 3], [5]]);
    expect(batches.map((b) => Array.from(b.y!))).toEqual([[2, 4], [6]]);
  });

  it('rejects a bad batch size and delimiter', async () => {
    await expect(collect(readCsvBatches(Readable.from(['1\n']), { batchSize: 0 }))).rejects.toThrow(/batchSize must be a positive integer/);
    await expect(collect(readCsvBatches(Readable.from(['1\n']), { delimiter: '::' }))).rejects.toThrow(/delimiter must be one character/);
  });
});
