// The element sources behind Dataset.fromCsv / fromIdx / fromFiles: CSV batches as rows or batches with resolved labels, IDX rows, file globs and shards.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { globSync } from 'tinyglobby';
import { readCsvBatches, AUTO_MAX_CLASSES, type CsvOptions } from './csv';
import { readIdx, parseIdxHeader, decodeIdx, isGzip, type IdxHeader } from './idx';
import { checkNumber, checkOneOf, checkOptions, checkPositiveInt, describe, invalid, isPlainObject } from '../validate';
import type { Row, Batch } from './dataset';

/** Dataset.fromCsv's options: readCsvBatches' (schema, missing values, workers, ...), plus how labels become y. */
export interface CsvDatasetOptions extends CsvOptions {
  /**
   * How the label column becomes y: 'classification' (integer class labels, an Int32Array in batches),
   * 'regression' (float targets), or 'auto' (default): classes when the first batch's labels are integers
   * in [0, 50), as readCsv decides on the whole file; a later label that is not such an integer is then
   * an error naming the lines. With classNames, text labels are classes.
   */
  task?: 'auto' | 'classification' | 'regression';
  /** Yield the parser's batches of this many rows (no copy) instead of rows. */
  batchSize?: number;
}

/** Dataset.fromIdx's options. */
export interface IdxOptions {
  /** Multiplies every value (e.g. 1/255 for pixels in [0, 1]). Default 1. */
  scale?: number;
}

/** Dataset.fromFiles' options: a shard to read, plus fromCsv's options for every file. */
export interface FilesOptions extends CsvDatasetOptions {
  /** Keep the files at positions index, index + count, ... of the sorted list (0 <= index < count). */
  shard?: { index: number; count: number };
}

function checkCsvPath(where: string, file: unknown): string {
  if (typeof file !== 'string' || file === '') return invalid(where, 'path', 'a file path', file);
  if (!fs.existsSync(file)) throw new Error(`${where}: no such file '${file}'`);
  return file;
}

/** The element source of Dataset.fromCsv: each call streams the file again. */
export function csvElements(file: string, options: CsvDatasetOptions): () => AsyncGenerator<Row | Batch> {
  const where = 'Dataset.fromCsv';
  checkCsvPath(where, file);
  if (options === null || typeof options !== 'object') invalid(where, 'options', 'an object', options);
  const task = checkOneOf(where, 'task', options.task ?? 'auto', ['auto', 'classification', 'regression'] as const);
  const batched = options.batchSize !== undefined;
  if (batched) checkPositiveInt(where, 'batchSize', options.batchSize);
  const { task: _task, ...csv } = options;
  void _task;
  const source = options.source ?? file;
  return async function* csvDataset() {
    let classes: boolean | null = options.classNames !== undefined ? true : task === 'auto' ? null : task === 'classification';
    for await (const b of readCsvBatches(file, { ...csv, source })) {
      let y: Int32Array | Float32Array | undefined;
      if (b.y !== null) {
        classes ??= isClassLabels(b.y);
        if (classes) {
          const bad = b.y.findIndex((v) => !(Number.isInteger(v) && v >= 0));
          if (bad >= 0) {
            const why = task === 'auto' && options.classNames === undefined
              ? `the first batch's labels were integers in [0, ${AUTO_MAX_CLASSES}), so labels are read as classes: pass task: 'regression' for numeric targets`
              : "task 'classification' needs non-negative integer labels";
            throw new Error(`csv: ${source}: row ${bad + 1} of the batch from line ${b.firstLine} has the label ${b.y[bad]}: ${why}`);
          }
          y = Int32Array.from(b.y);
        } else {
          y = b.y;
        }
      }
      if (batched) {
        yield y === undefined ? { x: b.x, n: b.rows, features: b.features } : { x: b.x, y, n: b.rows, features: b.features };
        continue;
      }
      const f = b.features;
      for (let i = 0; i < b.rows; i++) {
        const x = b.x.subarray(i * f, (i + 1) * f);
        if (y === undefined) yield { x };
        else if (y instanceof Int32Array) yield { x, y: y[i] };
        else yield { x, y: y.subarray(i, i + 1) };
      }
    }
  };
}

/** readCsv's 'auto' rule on one batch: integers in [0, AUTO_MAX_CLASSES) are classes. */
function isClassLabels(y: Float32Array): boolean {
  for (let i = 0; i < y.length; i++) if (!(Number.isInteger(y[i]) && y[i] >= 0 && y[i] < AUTO_MAX_CLASSES)) return false;
  return true;
}

/** The decompressed bytes of an IDX file (gzip detected by its magic bytes), streamed; errors name the file. */
async function* idxBytes(file: string): AsyncGenerator<Buffer> {
  const magic = Buffer.alloc(2);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new Error(`readIdx: cannot read ${file}: ${(err as Error).message}`);
  }
  let gz: boolean;
  try {
    gz = isGzip(magic.subarray(0, fs.readSync(fd, magic, 0, 2, 0)));
  } finally {
    fs.closeSync(fd);
  }
  const raw = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const stream = gz ? raw.pipe(zlib.createGunzip({ chunkSize: 1 << 20 })) : raw;
  if (gz) raw.on('error', (err) => stream.destroy(err));
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    throw new Error(`readIdx: ${file}: ${gz ? 'corrupt gzip data' : 'read error'}: ${(err as Error).message}`);
  } finally {
    stream.destroy();
    raw.destroy();
  }
}

/**
 * The element source of Dataset.fromIdx: the images file is streamed (gzip or raw) and cut into rows
 * as its bytes arrive, so memory holds one chunk, not the file; the labels (one value per image) are
 * read whole. Errors as readIdx's: wrong magic, unknown dtype, truncated data, trailing bytes.
 */
export function idxRows(images: string, labels: string | undefined, options: IdxOptions): () => AsyncGenerator<Row> {
  const where = 'Dataset.fromIdx';
  options = checkOptions(where, options, ['scale']);
  const scale = options.scale === undefined ? 1 : checkNumber(where, 'scale', options.scale);
  for (const [name, p] of [['images', images], ['labels', labels]] as const) {
    if (p === undefined && name === 'labels') continue;
    if (typeof p !== 'string' || !fs.existsSync(p)) throw new Error(`${where}: ${name}: no such file ${describe(p)}`);
  }
  return async function* idx() {
    const lab = labels === undefined ? null : readIdx(labels);
    let head: IdxHeader | null = null;
    let n = 0;
    let rowElems = 0;
    let rowBytes = 0;
    let i = 0;
    let seen = 0; // bytes of the file so far
    let pending: Buffer | null = null;
    const shapeText = (): string => `shape [${head!.shape.join(', ')}] of ${head!.dtype}`;
    for await (const chunk of idxBytes(images)) {
      seen += chunk.length;
      const buf: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
      pending = null;
      let off = 0;
      if (head === null) {
        head = parseIdxHeader(buf, images);
        if (head === null) { pending = buf; continue; }
        if (head.shape.length === 0) throw new Error(`${where}: ${images}: a 0-dimensional IDX file has no rows`);
        n = head.shape[0];
        rowElems = n === 0 ? 0 : head.count / n;
        rowBytes = rowElems * head.bytes;
        if (n > 0 && rowBytes === 0) throw new Error(`${where}: ${images}: ${shapeText()} has no values per row`);
        if (lab !== null && (lab.shape.length !== 1 || lab.shape[0] !== n)) {
          throw new Error(`${where}: ${labels}: labels have shape [${lab.shape.join(',')}], expected [${n}] (one per image of ${images})`);
        }
        off = head.headerBytes;
      }
      for (; i < n && buf.length - off >= rowBytes; i++, off += rowBytes) {
        const values = decodeIdx(new DataView(buf.buffer, buf.byteOffset + off, rowBytes), 0, rowElems, head.dtype);
        const x = new Float32Array(rowElems);
        for (let j = 0; j < rowElems; j++) x[j] = values[j] * scale;
        yield lab === null ? { x } : { x, y: lab.data[i] };
      }
      if (i === n && off < buf.length) {
        const expected = head.headerBytes + head.count * head.bytes;
        throw new Error(`readIdx: ${images}: unexpected trailing bytes after the data (${shapeText()} needs ${expected} bytes)`);
      }
      if (off < buf.length) pending = Buffer.from(buf.subarray(off)); // a partial row (copied: the chunk is released)
    }
    if (head === null) throw new Error(`readIdx: ${images}: file has ${seen} bytes, too short for an IDX header`);
    if (i < n) {
      const expected = head.headerBytes + head.count * head.bytes;
      throw new Error(`readIdx: ${images}: truncated data: ${shapeText()} needs ${expected} bytes, got ${seen}`);
    }
  };
}

/** fromFiles: the sorted, sharded file list and the CSV options for each file. */
export function shardFiles(files: string | readonly string[], options: FilesOptions): { list: string[]; csv: CsvDatasetOptions } {
  const where = 'Dataset.fromFiles';
  if (options === null || typeof options !== 'object') invalid(where, 'options', 'an object', options);
  const { shard, ...csv } = options;
  let list: string[];
  if (typeof files === 'string') {
    if (/[*?[\]{}]/.test(files)) {
      list = globSync(files, { absolute: path.isAbsolute(files), onlyFiles: true, expandDirectories: false });
      if (list.length === 0) throw new Error(`${where}: no files match '${files}'`);
    } else list = [files];
  } else if (Array.isArray(files) && files.every((f) => typeof f === 'string')) {
    list = [...files];
    if (list.length === 0) throw new Error(`${where}: the file list is empty`);
  } else {
    return invalid(where, 'files', 'a glob pattern or a list of paths', files);
  }
  list.sort();
  if (shard !== undefined) {
    if (!isPlainObject(shard)) invalid(where, 'shard', 'an object { index, count }', shard);
    checkOptions(`${where}: shard`, shard, ['index', 'count']);
    const count = checkPositiveInt(where, 'shard.count', shard.count);
    const index = checkNumber(where, 'shard.index', shard.index, { integer: true, min: 0, below: count });
    const total = list.length;
    list = list.filter((_, i) => i % count === index);
    if (list.length === 0) throw new Error(`${where}: shard ${index} of ${count} has no files (${total} file(s) matched: use at most ${total} shards)`);
  }
  for (const f of list) checkCsvPath(where, f);
  return { list, csv };
}
