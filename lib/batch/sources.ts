// Row sources for batch prediction: CSV (a whole file, stdin, or a shard's byte range) and IDX (a record range), batch by batch.
import * as fs from 'fs';
import { Readable } from 'stream';
import { readCsvBatches, CsvOptions } from '../data/csv';
import { parseIdx, readIdx, isGzip } from '../data/idx';
import type { Range } from './shard';

/** A batch of input rows: [rows, features]; `ready` when the input transform was already applied. */
export interface RowBatch { x: Float32Array; rows: number; features: number; firstLine: number; ready: boolean }

export function isIdxPath(p: string): boolean {
  return /\.idx(\d)?(\.gz)?$/i.test(p) || /-ubyte(\.gz)?$/i.test(p);
}

/** Bytes per element of each IDX dtype code. */
const IDX_ELEMENT_BYTES: Record<number, number> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 };

/** An IDX file's layout: record count (first dimension), bytes per record, where the data starts; null for gzip files. */
export function idxLayout(file: string): { records: number; recordBytes: number; headerBytes: number; header: Buffer } | null {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const got = fs.readSync(fd, head, 0, 4, 0);
    if (isGzip(head.subarray(0, got))) return null;
    if (got < 4 || head[0] !== 0 || head[1] !== 0 || IDX_ELEMENT_BYTES[head[2]] === undefined || head[3] < 1) {
      return parseIdx(head.subarray(0, got), file) && null; // throws the reader's error (too short, magic, dtype)
    }
    const headerBytes = 4 + 4 * head[3];
    const header = Buffer.alloc(headerBytes);
    if (fs.readSync(fd, header, 0, headerBytes, 0) < headerBytes) throw new Error(`readIdx: ${file}: truncated header`);
    let per = IDX_ELEMENT_BYTES[head[2]];
    for (let d = 1; d < head[3]; d++) per *= header.readUInt32BE(4 + 4 * d);
    const records = header.readUInt32BE(4);
    const size = fs.fstatSync(fd).size;
    if (size !== headerBytes + records * per) {
      throw new Error(`readIdx: ${file}: ${size} bytes, but its header describes ${headerBytes + records * per} (${records} records of ${per} bytes after a ${headerBytes}-byte header)`);
    }
    return { records, recordBytes: per, headerBytes, header };
  } finally {
    fs.closeSync(fd);
  }
}

/** The record count of an IDX file (its first dimension). */
export function idxRecords(file: string): number {
  return idxLayout(file)?.records ?? readIdx(file).shape[0];
}

function checkFinite(x: Float32Array, data: ArrayLike<number>, file: string, firstRow: number, features: number): void {
  for (let i = 0; i < x.length; i++) {
    if (x[i] - x[i] !== 0) {
      // NaN, +-Infinity, or a float64 beyond float32's range.
      throw new Error(`predict: ${file}: row ${firstRow + Math.floor(i / features) + 1}, value ${(i % features) + 1} is ${data[i]}, not a finite float32 number`);
    }
  }
}

/**
 * Rows [range.start, range.end) of an IDX file (first dimension = rows; default all), batch by batch;
 * uint8 values are scaled like training data. An uncompressed file is read one batch at a time.
 */
export async function* idxBatches(file: string, batch: number, range?: Range): AsyncGenerator<RowBatch> {
  const layout = idxLayout(file);
  if (layout === null) {
    const idx = readIdx(file);
    if (idx.shape.length < 1 || idx.shape[0] === 0) throw new Error(`predict: ${file}: IDX array of shape [${idx.shape.join(',')}] has no rows`);
    const features = idx.data.length / idx.shape[0];
    const { start, end } = range ?? { start: 0, end: idx.shape[0] };
    for (let s = start; s < end; s += batch) {
      const e = Math.min(end, s + batch);
      const data = idx.data.subarray(s * features, e * features);
      const x = Float32Array.from(data);
      checkFinite(x, data, file, s, features);
      yield { x, rows: e - s, features, firstLine: s + 1, ready: false };
    }
    return;
  }
  const { records, recordBytes, headerBytes, header } = layout;
  if (records === 0) throw new Error(`predict: ${file}: IDX array with 0 records has no rows`);
  const { start, end } = range ?? { start: 0, end: records };
  const fd = fs.openSync(file, 'r');
  try {
    for (let s = start; s < end; s += batch) {
      const e = Math.min(end, s + batch);
      // A small IDX file of the batch's records, decoded by the IDX reader.
      const buf = Buffer.alloc(headerBytes + (e - s) * recordBytes);
      header.copy(buf);
      buf.writeUInt32BE(e - s, 4);
      fs.readSync(fd, buf, headerBytes, (e - s) * recordBytes, headerBytes + s * recordBytes);
      const idx = parseIdx(buf, file);
      const features = idx.data.length / (e - s);
      const x = Float32Array.from(idx.data);
      checkFinite(x, idx.data, file, s, features);
      yield { x, rows: e - s, features, firstLine: s + 1, ready: false };
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The first line, then bytes [range.start, range.end) of a file, as one stream. */
function rangeStream(file: string, firstLine: Buffer, range: Range): Readable {
  return Readable.from((async function* (): AsyncGenerator<Buffer> {
    yield firstLine;
    for await (const chunk of fs.createReadStream(file, { start: range.start, end: range.end - 1, highWaterMark: 1 << 18 })) yield chunk as Buffer;
  })(), { objectMode: false });
}

/**
 * CSV rows, batch by batch, through readCsvBatches with `options`. With a byte range (a shard's: see
 * csvSplit), the file's first line is read first, so a header is recognised as in the whole file, and
 * when that line is data (not a header) its row is dropped: it belongs to shard 0.
 */
export async function* csvBatches(input: string, options: CsvOptions, split?: { firstLine: Buffer; range: Range }): AsyncGenerator<RowBatch> {
  const ready = options.preprocessor != null;
  if (split === undefined) {
    for await (const b of readCsvBatches(input, options)) yield { x: b.x, rows: b.rows, features: b.features, firstLine: b.firstLine, ready };
    return;
  }
  const { range } = split;
  if (range.end <= range.start) return;
  const prefix = range.start === 0 ? Buffer.alloc(0) : split.firstLine;
  const source = range.start === 0 ? input : `${input} (bytes ${range.start}-${range.end}, line numbers counted from there)`;
  let first = true;
  let seen = 0;
  try {
    for await (const b of readCsvBatches(rangeStream(input, prefix, range), { ...options, source })) {
      seen += b.rows;
      let { x, rows } = b;
      if (first && range.start > 0 && b.firstLine === 1) {
        // The file's first line is a data row (no header): shard 0 predicts it.
        x = x.slice(b.features);
        rows--;
      }
      first = false;
      if (rows > 0) yield { x, rows, features: b.features, firstLine: b.firstLine, ready };
    }
  } catch (err) {
    // A range of a header and blank lines only: no rows in this shard.
    if (seen === 0 && (err as Error).message.endsWith(`${source}: no data rows`)) return;
    throw err;
  }
}
