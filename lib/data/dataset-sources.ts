// The element sources behind Dataset.fromCsv / fromIdx / fromFiles: CSV batches as rows or batches with resolved labels, IDX rows, file globs and shards.
import * as fs from 'fs';
import * as path from 'path';
import { globSync } from 'tinyglobby';
import { readCsvBatches, AUTO_MAX_CLASSES, type CsvOptions } from './csv';
import { readIdx } from './idx';
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

/** The element source of Dataset.fromIdx: rows of the images file (converted one at a time), labels from the labels file. */
export function idxRows(images: string, labels: string | undefined, options: IdxOptions): () => Generator<Row> {
  const where = 'Dataset.fromIdx';
  options = checkOptions(where, options, ['scale']);
  const scale = options.scale === undefined ? 1 : checkNumber(where, 'scale', options.scale);
  for (const [name, p] of [['images', images], ['labels', labels]] as const) {
    if (p === undefined && name === 'labels') continue;
    if (typeof p !== 'string' || !fs.existsSync(p)) throw new Error(`${where}: ${name}: no such file ${describe(p)}`);
  }
  return function* idx() {
    const img = readIdx(images);
    const lab = labels === undefined ? null : readIdx(labels);
    const n = img.shape[0] ?? 0;
    if (lab !== null && (lab.shape.length !== 1 || lab.shape[0] !== n)) {
      throw new Error(`${where}: ${labels}: labels have shape [${lab.shape.join(',')}], expected [${n}] (one per image of ${images})`);
    }
    const size = n === 0 ? 0 : img.data.length / n;
    for (let i = 0; i < n; i++) {
      const x = new Float32Array(size);
      const src = img.data;
      for (let j = 0, k = i * size; j < size; j++, k++) x[j] = src[k] * scale;
      yield lab === null ? { x } : { x, y: lab.data[i] };
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
