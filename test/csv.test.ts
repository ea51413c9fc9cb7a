// CSV reader: header detection, delimiters, label columns, gzip, batching and line/column errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { Readable } from 'stream';
import { spawnSync } from 'child_process';
import {
  readCsv, readCsvBatches, splitCsvLine, LineSplitter, blockBytes, CsvBatch, LineScanStats, DEFAULT_MAX_LINE_LENGTH, DEFAULT_MAX_COLUMNS,
  MAX_BATCH_VALUES,
} from '../lib/data/csv';
import { ensureDist, ROOT } from './helpers/dist';
import { lcg, scratchDir } from './helpers/scratch';

const seed = (Date.now() ^ (process.pid << 8)) >>> 0;
const rand = lcg(seed);
const scratch = scratchDir('myelin-csv-');
const write = scratch.write;
let dir = '';
beforeAll(() => { dir = scratch.dir(); });

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
    await expect(readCsv(write('bad3.csv', '1,,2\n'))).rejects.toThrow(/line 1, column 2: missing value ''/);
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

describe('first-line header detection (issue 10 item 6)', () => {
  it('a typo in the first data row is an error naming the line and column, not a header', async () => {
    // Reproduction: '0.5x' used to make line 1 a header, so every row was read one line late.
    const p = write('typo.csv', '0.5x,1,2\n3,4,5\n6,7,8\n');
    await expect(readCsv(p)).rejects.toThrow(
      /typo\.csv: line 1, column 1: '0\.5x' is not a number, but 2 other cell\(s\) of the first line are numbers, so it is neither a header nor a data row/,
    );
    await expect(collect(readCsvBatches(p, { batchSize: 2 }))).rejects.toThrow(/line 1, column 1: '0\.5x'/);
  });

  it('a line with no numeric cell is a header; header: true/false override; headerNames recognise numeric names', async () => {
    expect((await readCsv(write('h1.csv', 'a,b\n1,2\n'))).featureNames).toEqual(['a', 'b']);
    expect((await readCsv(write('h2.csv', 'a,,c\n1,2,3\n'))).featureNames).toEqual(['a', '', 'c']);
    // Mixed header line, declared.
    const mixed = write('h3.csv', 'id,2020,2021\n1,2,3\n');
    await expect(readCsv(mixed)).rejects.toThrow(/line 1, column 1: 'id' is not a number/);
    const t = await readCsv(mixed, { header: true });
    expect(t.featureNames).toEqual(['id', '2020', '2021']);
    expect(Array.from(t.x)).toEqual([1, 2, 3]);
    // A model's saved column names mark the header even when some are numeric.
    const named = await readCsv(mixed, { headerNames: ['id', '2020', '2021'] });
    expect(named.n).toBe(1);
    await expect(readCsv(mixed, { headerNames: ['id', '2019'] })).rejects.toThrow(/'id' is not a number/);
    // header: false makes the first line data, so text there is a plain bad value.
    await expect(readCsv(write('h4.csv', 'a,b\n1,2\n'), { header: false })).rejects.toThrow(/line 1, column 1: 'a' is not a number/);
    await expect(readCsv(write('h5.csv', '1,2\n'), { header: 'yes' as never })).rejects.toThrow(/header must be true, false or 'auto', got "yes"/);
  });

  it('rejects non-finite values and float32 overflow like NaN, naming file, line and column', async () => {
    const cases: [string, RegExp][] = [
      ['Infinity', /inf\.csv: line 3, column 2 \('b'\): 'Infinity' is not a finite number/],
      ['-Infinity', /line 3, column 2 \('b'\): '-Infinity' is not a finite number/],
      ['1e39', /line 3, column 2 \('b'\): '1e39' overflows float32 \(largest magnitude 3\.4028235e38\)/],
      ['-4e38', /'-4e38' overflows float32/],
      ['NaN', /line 3, column 2 \('b'\): missing value 'NaN' \(pass missing: 'drop'/],
    ];
    for (const [v, re] of cases) {
      const p = write('inf.csv', `a,b\n1,2\n3,${v}\n`);
      await expect(readCsv(p), v).rejects.toThrow(re);
      await expect(collect(readCsvBatches(p, { batchSize: 1 })), v).rejects.toThrow(re);
    }
    // The largest float32 and the smallest subnormals are fine.
    const ok = await readCsv(write('big.csv', '3.4028234e38,-3.4028234e38,1e-45\n'));
    expect(Array.from(ok.x).every(Number.isFinite)).toBe(true);
    // A value in the first line: the same rule (the line has numeric cells, so it is data).
    await expect(readCsv(write('inf1.csv', '1,Infinity\n'))).rejects.toThrow(/line 1, column 2: 'Infinity' is not a finite number/);
  });
});

describe('gzip errors (issue 10 item 16)', () => {
  it('a truncated .gz names the file (path) or the source (stream)', async () => {
    const gz = zlib.gzipSync(Buffer.from('a,b\n' + '1,2\n'.repeat(50000)));
    const p = write('cut.csv.gz', gz.subarray(0, Math.floor(gz.length / 2)));
    await expect(readCsv(p)).rejects.toThrow(/^csv: .*cut\.csv\.gz: corrupt or truncated gzip data: unexpected end of file/);
    await expect(readCsv(Readable.from([gz.subarray(0, 100)]), { source: 'upload.csv.gz' }))
      .rejects.toThrow(/^csv: upload\.csv\.gz: corrupt or truncated gzip data/);
  });
});

describe('long lines and wide files (issue 10 item 10)', () => {
  it('splits lines in linear time: each byte is scanned once, however the line is chunked', async () => {
    // The old splitter re-scanned the carried part of a line for every chunk: quadratic in line length.
    const chunk = Buffer.from('x'.repeat(65536));
    const chunks = 128; // one 8 MiB line
    const stats: LineScanStats = { scanned: 0 };
    const gen = async function* (): AsyncGenerator<Buffer> {
      for (let i = 0; i < chunks; i++) yield chunk;
      yield Buffer.from('y\nshort\r\nlast');
    };
    const splitter = new LineSplitter(gen(), DEFAULT_MAX_LINE_LENGTH, 'gen', stats);
    const lines: string[] = [];
    for (let b = await splitter.next(1); b !== null; b = await splitter.next(1)) lines.push(blockBytes(b).toString('latin1'));
    expect(lines.map((l) => l.length)).toEqual([chunks * 65536 + 2, 7, 4]);
    expect(lines[1]).toBe('short\r\n');
    const total = chunks * 65536 + 'y\nshort\r\nlast'.length;
    expect(stats.scanned).toBe(total);
  });

  it('refuses a line over maxLineLength, naming it, as soon as the limit is passed', async () => {
    const stats: LineScanStats = { scanned: 0 };
    const gen = async function* (): AsyncGenerator<Buffer> {
      yield Buffer.from('a,b\n1,2\n');
      for (let i = 0; i < 1000; i++) yield Buffer.from('1,'.repeat(512));
    };
    const splitter = new LineSplitter(gen(), 10_000, 'wide.csv', stats);
    await expect((async () => { while ((await splitter.next(1)) !== null) { /* drain */ } })())
      .rejects.toThrow('csv: wide.csv: line 3 is longer than the maximum line length of 10000 bytes (raise maxLineLength / --max-line-length if the file is right)');
    expect(stats.scanned).toBeLessThan(20_000); // stopped reading at the limit, not at the end
    await expect(readCsv(Readable.from(['1,2\n', '3'.repeat(100)]), { maxLineLength: 50 })).rejects.toThrow(/stream: line 2 is longer than the maximum line length of 50/);
    await expect(readCsv(Readable.from(['1,2\n']), { maxLineLength: 0 })).rejects.toThrow(/maxLineLength must be a positive integer, got 0/);
    expect(DEFAULT_MAX_LINE_LENGTH).toBe(32 * 1024 * 1024);
    expect(DEFAULT_MAX_COLUMNS).toBe(1_000_000);
  });

  it('refuses more than maxColumns columns before splitting the line', async () => {
    await expect(readCsv(write('cols.csv', '1,2,3,4\n'), { maxColumns: 3 }))
      .rejects.toThrow(/cols\.csv: line 1 has 4 columns, more than the maximum of 3 \(raise maxColumns \/ --max-columns/);
    await expect(readCsv(write('cols2.csv', '"a","b","c","d"\n1,2,3,4\n'), { maxColumns: 3 })).rejects.toThrow(/line 1 has 4 columns, more than the maximum of 3/);
    await expect(readCsv(write('cols3.csv', '1,2\n' + '1,'.repeat(5000) + '1\n'))).rejects.toThrow(/line 2 has 5001 columns, expected 2/);
  });

  it('a 40 MB line is refused with the documented error, and a wide row never allocates batchSize x columns floats', () => {
    // Run in a child under a 2.5 GB address-space limit: the old reader asked for 1024 x 2,000,000 floats (8 GB).
    ensureDist();
    const long = path.join(dir, 'long.csv');
    const fd = fs.openSync(long, 'w');
    const piece = '0.5,'.repeat(1 << 18);
    for (let w = 0; w < 40e6; w += piece.length) fs.writeSync(fd, piece);
    fs.writeSync(fd, '1\n');
    fs.closeSync(fd);
    const wide = path.join(dir, 'wide.csv');
    const cols = 2_000_000;
    const row = '0,'.repeat(cols - 1) + '1\n';
    fs.writeFileSync(wide, row);
    const script = `
      const { readCsv, readCsvBatches } = require(${JSON.stringify(path.join(ROOT, 'dist', 'data', 'csv.js'))});
      (async () => {
        const base = process.memoryUsage().rss;
        try { await readCsv(${JSON.stringify(long)}); console.log('long: parsed'); } catch (e) { console.log('long: ' + e.message); }
        const rows = [];
        for await (const b of readCsvBatches(${JSON.stringify(wide)}, { batchSize: 1024, maxColumns: 3000000 })) rows.push(b.rows + 'x' + b.features);
        console.log('wide: ' + rows.join(' '));
        console.log('rss growth MB ' + Math.round((process.memoryUsage().rss - base) / 1e6));
      })().catch((e) => { console.log('failed: ' + e.message); process.exitCode = 1; });`;
    const r = spawnSync('bash', ['-c', `ulimit -v 2500000; exec "${process.execPath}" -e '${script.replace(/'/g, "'\\''")}'`], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`long: csv: ${long}: line 1 is longer than the maximum line length of 33554432 bytes`);
    expect(r.stdout).toContain(`wide: 1x${cols}`);
    expect(Math.floor(MAX_BATCH_VALUES / cols)).toBe(8); // what the reader allocates: 8 rows, 64 MB
  });
});
