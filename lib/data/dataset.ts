// data.Dataset: a re-iterable async stream of { x, y } rows or batches, with combinators (map, filter, batch, shuffle, ...) and constructors (arrays, generators, CSV, IDX, file globs).
import { Tensor } from '../tensor';
import { Rng, deriveSeed, randomSeed } from '../random';
import {
  checkFunction, checkNonNegativeInt, checkOptions, checkPositiveInt, checkSeed, describe, invalid, isPlainObject,
} from '../validate';
import { csvElements, idxRows, shardFiles, type CsvDatasetOptions, type FilesOptions, type IdxOptions } from './dataset-sources';
import { mapOnWorkers, mapPool } from './dataset-workers';

/** One example: x its features (a flat row), y a class label (an integer) or regression targets (an array), absent for unlabelled data. */
export interface Row {
  x: Float32Array | readonly number[];
  y?: number | Float32Array | readonly number[];
}

/**
 * A batch of rows, in the form fit/evaluate/predict take: x is n rows of `features` values (row-major),
 * y n class labels (Int32Array) or n rows of float targets (Float32Array), absent for unlabelled data.
 * The arrays own their buffers, so worker threads can hand them over without a copy.
 */
export interface Batch {
  x: Float32Array;
  y?: Int32Array | Float32Array;
  n: number;
  features: number;
}

/** In-memory data for Dataset.fromArrays (the forms fit takes). */
export interface ArraysData {
  x: Tensor | Float32Array | readonly (readonly number[])[];
  y?: Int32Array | readonly number[] | Float32Array | Tensor;
  /** Values per row of a flat Float32Array x. */
  features?: number;
}

/** Options of Dataset.map. */
export interface MapOptions {
  /**
   * Run the function on this many worker threads (default 0: on the calling thread). The function is
   * sent to the workers as source text, so it must be self-contained (no variables from around it);
   * elements travel as plain data (typed arrays whose buffers they own are transferred, not copied).
   * Results come back in order.
   */
  workers?: number;
}

/** Source of a Dataset's elements: called once per iteration (an epoch), so the dataset can be read again. */
export type DatasetSource<T> = () => AsyncIterable<T> | Iterable<T>;

const DATASET_BRAND: unique symbol = Symbol.for('myelin.Dataset');

/**
 * True for a data.Dataset (also one from another copy of the package: the check reads a brand, not the class).
 * @param v any value.
 * @returns whether v is a Dataset.
 * @example data.isDataset(data.Dataset.fromArrays({ x, y, features: 4 })) // true
 */
export function isDataset(v: unknown): v is Dataset<unknown> {
  return v !== null && typeof v === 'object' && (v as { [DATASET_BRAND]?: boolean })[DATASET_BRAND] === true;
}

function iterate<T>(src: AsyncIterable<T> | Iterable<T>, where: string): AsyncIterator<T> | Iterator<T> {
  const s = src as { [Symbol.asyncIterator]?: () => AsyncIterator<T>; [Symbol.iterator]?: () => Iterator<T> };
  if (s !== null && typeof s === 'object' && typeof s[Symbol.asyncIterator] === 'function') return s[Symbol.asyncIterator]!();
  if (s !== null && typeof s === 'object' && typeof s[Symbol.iterator] === 'function') return s[Symbol.iterator]!();
  return invalid(where, 'source', 'a function returning an async iterable or an iterable', src);
}

/**
 * A stream of elements (usually { x, y } rows or batches) that can be read again: every iteration (each
 * epoch of fit) calls the source anew. Combinators return new datasets and read lazily; memory stays
 * bounded by the batch, the shuffle buffer and the prefetch depth. `batched` says whether elements are
 * batches (fit batches a dataset of rows itself, with its batchSize).
 */
export class Dataset<T = Row | Batch> implements AsyncIterable<T> {
  readonly [DATASET_BRAND] = true;
  /** True when the elements are batches (made by batch(), or by a constructor given batchSize). */
  readonly batched: boolean;
  private readonly source: DatasetSource<T>;

  /**
   * Wraps a source function that returns a fresh (async) iterable of elements each time it is called.
   * @param source called once per iteration (epoch); returns an AsyncIterable or Iterable of elements.
   * @param options batched: the elements are batches (default false).
   * @throws Error when source is not a function or an option is unknown.
   * @example
   * ```ts
   * const ds = new data.Dataset(function* () { yield { x: [1, 2], y: 0 }; yield { x: [3, 4], y: 1 }; });
   * ```
   */
  constructor(source: DatasetSource<T>, options: { batched?: boolean } = {}) {
    this.source = checkFunction('Dataset', 'source', source);
    options = checkOptions('Dataset', options, ['batched']);
    this.batched = options.batched === true;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    const it = iterate(this.source(), 'Dataset');
    return {
      next: async () => it.next(),
      return: async (v?: unknown) => (it.return !== undefined ? it.return(v) : { done: true, value: v }) as IteratorResult<T>,
    };
  }

  private derive<U>(gen: () => AsyncGenerator<U>, batched = this.batched): Dataset<U> {
    return new Dataset<U>(gen, { batched });
  }

  /**
   * Applies fn to every element (fn may be async; its index is the element's position in this
   * iteration). With { workers: n } fn runs on n worker threads, in order (see MapOptions).
   * @param fn called with each element and its index (may be async); with workers, a self-contained function.
   * @param options workers: worker threads to run fn on (an integer in [0, 64], default 0: the calling thread).
   * @returns a new dataset of fn's results, in order.
   * @throws Error when fn is not a function, an option is unknown, or workers is not an integer in [0, 64].
   * @example ds.map((r) => ({ x: r.x, y: r.y === 3 ? 1 : 0 }))
   */
  map<U>(fn: (element: T, index: number) => U | Promise<U>, options: MapOptions = {}): Dataset<U> {
    checkFunction('Dataset.map', 'fn', fn);
    options = checkOptions('Dataset.map', options, ['workers']);
    const workers = options.workers === undefined ? 0 : checkNonNegativeInt('Dataset.map', 'workers', options.workers);
    if (workers > 64) invalid('Dataset.map', 'workers', 'an integer in [0, 64]', workers);
    if (workers > 0) {
      const self = this;
      const pool = mapPool(fn, workers); // one pool for every epoch's pass
      return this.derive(() => mapOnWorkers<T, U>(self, pool, workers));
    }
    const self = this;
    return this.derive(async function* mapped() {
      let i = 0;
      for await (const e of self) yield await fn(e, i++);
    });
  }

  /**
   * Keeps the elements for which pred returns true (pred may be async).
   * @param pred called with each element and its index; the element is kept when it returns true.
   * @returns a new dataset.
   * @example ds.filter((r) => r.y !== 0)
   */
  filter(pred: (element: T, index: number) => boolean | Promise<boolean>): Dataset<T> {
    checkFunction('Dataset.filter', 'pred', pred);
    const self = this;
    return this.derive(async function* filtered() {
      let i = 0;
      for await (const e of self) if (await pred(e, i++)) yield e;
    });
  }

  /**
   * Groups rows into batches of `size` (the last one smaller unless dropRemainder). Each row's x must
   * have the same length; y is a class label (an integer) in every row, or targets of the same length
   * in every row, or absent in every row. Errors name the element.
   * @param size rows per batch, a positive integer.
   * @param options dropRemainder: drop a last batch smaller than size (default false).
   * @returns a dataset of batches { x, y, n, features }.
   * @throws Error when size is not a positive integer, an option is unknown, or this dataset already yields batches; while reading, an Error naming the element whose x or y does not match the rows before it.
   * @example data.Dataset.fromArrays({ x, y, features: 4 }).shuffle(1000, { seed: 1 }).batch(32)
   */
  batch(size: number, options: { dropRemainder?: boolean } = {}): Dataset<Batch> {
    checkPositiveInt('Dataset.batch', 'size', size);
    options = checkOptions('Dataset.batch', options, ['dropRemainder']);
    if (this.batched) throw new Error('Dataset.batch: this dataset already yields batches (call unbatch() first to re-batch its rows)');
    const drop = options.dropRemainder === true;
    const self = this as unknown as Dataset<Row>;
    return this.derive(async function* batched() {
      const b = new RowBatcher(size);
      let index = 0;
      for await (const row of self) {
        const full = b.add(row, index++);
        if (full !== null) yield full;
      }
      const last = b.flush();
      if (last !== null && !drop) yield last;
    }, true) as Dataset<Batch>;
  }

  /**
   * Splits batches back into rows (views of the batch's arrays, no copy).
   * @throws Error when this dataset yields rows, not batches.
   * @example ds.batch(32).map(augment).unbatch() // rows again, each a view into its batch
   */
  unbatch(): Dataset<Row> {
    if (!this.batched) throw new Error('Dataset.unbatch: this dataset yields rows, not batches');
    const self = this as unknown as Dataset<Batch>;
    return this.derive(async function* rows() {
      for await (const b of self) yield* rowsOf(b);
    }, false) as Dataset<Row>;
  }

  /**
   * Shuffles through a buffer of `bufferSize` elements: the buffer is filled, then each output is a
   * random element of it, replaced by the next input (tf.data's shuffle). bufferSize >= the dataset's
   * length gives a uniform shuffle. Seeded: the same seed gives the same order; each iteration (epoch)
   * uses a different order derived from the seed and the iteration count.
   * @param bufferSize elements held in the shuffle buffer, a positive integer (>= the dataset's length: a uniform shuffle).
   * @param options seed (default: a random seed).
   * @returns a new dataset in shuffled order, a different order each iteration.
   * @throws Error when bufferSize is not a positive integer, seed is not a valid seed, or an option is unknown.
   * @example ds.shuffle(10_000, { seed: 42 })
   */
  shuffle(bufferSize: number, options: { seed?: number } = {}): Dataset<T> {
    checkPositiveInt('Dataset.shuffle', 'bufferSize', bufferSize);
    options = checkOptions('Dataset.shuffle', options, ['seed']);
    const seed = options.seed === undefined ? randomSeed() : checkSeed('Dataset.shuffle', 'seed', options.seed);
    const self = this;
    let iteration = 0;
    return this.derive(async function* shuffled() {
      const rng = new Rng(deriveSeed(seed, iteration++));
      const buf: T[] = [];
      for await (const e of self) {
        if (buf.length < bufferSize) { buf.push(e); continue; }
        const j = rng.int(bufferSize);
        const out = buf[j];
        buf[j] = e;
        yield out;
      }
      while (buf.length > 0) {
        const j = rng.int(buf.length);
        const out = buf[j];
        buf[j] = buf[buf.length - 1];
        buf.pop();
        yield out;
      }
    });
  }

  /**
   * The first `count` elements.
   * @param count elements to keep, a non-negative integer.
   * @throws Error when count is not a non-negative integer.
   * @example ds.take(100)
   */
  take(count: number): Dataset<T> {
    checkNonNegativeInt('Dataset.take', 'count', count);
    const self = this;
    return this.derive(async function* taken() {
      if (count === 0) return;
      let i = 0;
      for await (const e of self) {
        yield e;
        if (++i >= count) return;
      }
    });
  }

  /**
   * All but the first `count` elements.
   * @param count elements to skip, a non-negative integer.
   * @throws Error when count is not a non-negative integer.
   * @example ds.skip(100)
   */
  skip(count: number): Dataset<T> {
    checkNonNegativeInt('Dataset.skip', 'count', count);
    const self = this;
    return this.derive(async function* skipped() {
      let i = 0;
      for await (const e of self) if (i++ >= count) yield e;
    });
  }

  /**
   * The dataset `count` times over (default: forever; give fit a stepsPerEpoch then).
   * @param count times to repeat, a non-negative integer (default: forever).
   * @throws Error when count is given and is not a non-negative integer.
   * @example ds.repeat(2)
   */
  repeat(count?: number): Dataset<T> {
    if (count !== undefined) checkNonNegativeInt('Dataset.repeat', 'count', count);
    const self = this;
    return this.derive(async function* repeated() {
      for (let r = 0; count === undefined || r < count; r++) {
        let any = false;
        for await (const e of self) { any = true; yield e; }
        if (!any) return; // an empty dataset repeated forever is still empty
      }
    });
  }

  /**
   * Reads up to `depth` elements ahead of the consumer, so the source's I/O, parsing and async map work
   * overlap with what the consumer does (e.g. a training step).
   * @param depth elements read ahead, a positive integer.
   * @throws Error when depth is not a positive integer.
   * @example ds.batch(64).prefetch(2)
   */
  prefetch(depth: number): Dataset<T> {
    checkPositiveInt('Dataset.prefetch', 'depth', depth);
    const self = this;
    return this.derive(async function* prefetched() {
      const it = self[Symbol.asyncIterator]();
      const ahead: Promise<IteratorResult<T>>[] = [];
      let ended = false;
      const pull = (): void => {
        const p = it.next();
        p.catch(() => { /* awaited in order below */ });
        ahead.push(p);
      };
      try {
        for (;;) {
          while (!ended && ahead.length < depth) pull();
          const r = await ahead.shift()!;
          if (r.done) { ended = true; break; }
          yield r.value;
        }
      } finally {
        // Pending reads settle before the source is closed (an async generator queues them anyway).
        await Promise.allSettled(ahead);
        if (!ended) await it.return?.();
      }
    });
  }

  /**
   * This dataset's elements, then `other`'s.
   * @param other a dataset of the same kind (rows, or batches).
   * @throws Error when other is not a data.Dataset, or one dataset yields batches and the other rows.
   * @example train.concatenate(extra)
   */
  concatenate(other: Dataset<T>): Dataset<T> {
    if (!isDataset(other)) invalid('Dataset.concatenate', 'other', 'a data.Dataset', other);
    if (other.batched !== this.batched) throw new Error(`Dataset.concatenate: one dataset yields batches and the other rows (${this.batched ? 'this' : 'other'} is batched)`);
    const self = this;
    return this.derive(async function* concatenated() {
      yield* self;
      yield* other;
    });
  }

  /**
   * Reads the whole dataset into an array (for small data and tests).
   * @example const rows = await data.Dataset.fromArrays({ x, y, features: 4 }).toArray();
   */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const e of this) out.push(e);
    return out;
  }

  /**
   * Elements of several datasets side by side, until the shortest ends: Dataset.zip([a, b]) yields
   * [ea, eb]; Dataset.zip({ x: xs, y: ys }) yields { x, y }.
   * @param datasets an array or a record of datasets.
   * @returns a dataset of arrays (or records) of their elements.
   * @throws Error when datasets is not an array or object, or an entry is not a data.Dataset.
   * @example data.Dataset.zip({ x: xs, y: ys })
   */
  static zip<R extends Record<string, Dataset<unknown>> | Dataset<unknown>[]>(datasets: R): Dataset<{ [K in keyof R]: R[K] extends Dataset<infer E> ? E : never }> {
    const isArray = Array.isArray(datasets);
    if (!isArray && !isPlainObject(datasets)) invalid('Dataset.zip', 'datasets', 'an array or an object of datasets', datasets);
    const keys = Object.keys(datasets);
    const list = keys.map((k) => (datasets as Record<string, unknown>)[k]);
    list.forEach((d, i) => { if (!isDataset(d)) invalid('Dataset.zip', `datasets[${JSON.stringify(keys[i])}]`, 'a data.Dataset', d); });
    type Out = { [K in keyof R]: R[K] extends Dataset<infer E> ? E : never };
    return new Dataset<Out>(async function* zipped() {
      const its = (list as Dataset<unknown>[]).map((d) => d[Symbol.asyncIterator]());
      try {
        for (;;) {
          const rs = await Promise.all(its.map((it) => it.next()));
          if (rs.some((r) => r.done)) return;
          if (isArray) yield rs.map((r) => r.value) as unknown as Out;
          else {
            const o: Record<string, unknown> = {};
            keys.forEach((k, i) => { o[k] = rs[i].value; });
            yield o as Out;
          }
        }
      } finally {
        // The longer datasets are closed too (a CSV source stops its parse threads).
        await Promise.all(its.map((it) => it.return?.()));
      }
    });
  }

  /**
   * Rows of in-memory data: x [n, ...] (a Tensor, a flat Float32Array with `features` or n from y, or
   * an array of rows), y n class labels (Int32Array / number[]), or float targets (a Float32Array or
   * Tensor, n rows), or absent. Rows are views of x (no copy). Pass batchSize to get batches instead.
   * @param data x (a Tensor [n, ...], a flat Float32Array with features, or an array of rows), y (class labels, float targets, or absent), features.
   * @param options batchSize: yield batches of this many rows instead of rows (default: rows).
   * @returns a dataset of rows { x, y }, or of batches with batchSize.
   * @throws Error for an unknown option, a batchSize that is not a positive integer, rows of different lengths, x that does not divide into rows, x and y with different row counts, non-integer class labels in a number[] y, or a flat x without y or features.
   * @example
   * ```ts
   * const ds = data.Dataset.fromArrays({ x: new Float32Array(40), y: new Int32Array(10), features: 4 });
   * ```
   */
  static fromArrays(data: ArraysData, options: { batchSize: number }): Dataset<Batch>;
  static fromArrays(data: ArraysData, options?: { batchSize?: undefined }): Dataset<Row>;
  static fromArrays(data: ArraysData, options: { batchSize?: number } = {}): Dataset<Row> | Dataset<Batch> {
    options = checkOptions('Dataset.fromArrays', options, ['batchSize']);
    const arrays = flatArrays(data);
    const rows = new Dataset<Row>(function* fromArrays() {
      for (let i = 0; i < arrays.n; i++) {
        const x = arrays.x.subarray(i * arrays.features, (i + 1) * arrays.features);
        if (arrays.labels !== null) yield { x, y: arrays.labels[i] };
        else if (arrays.targets !== null) yield { x, y: arrays.targets.subarray(i * arrays.targetSize, (i + 1) * arrays.targetSize) };
        else yield { x };
      }
    });
    return options.batchSize === undefined ? rows : rows.batch(checkPositiveInt('Dataset.fromArrays', 'batchSize', options.batchSize));
  }

  /**
   * Elements of an async (or sync) generator function, called anew for every iteration. Pass
   * { batched: true } when it yields batches ({ x, y, n, features } or any { x, y } fit takes).
   * @param generator a function returning an (async) iterable, called anew for every iteration.
   * @param options batched: it yields batches (default false).
   * @throws Error when generator is not a function (e.g. a generator object, which could be read only once) or an option is unknown.
   * @example
   * ```ts
   * const ds = data.Dataset.fromGenerator(async function* () { for (let i = 0; i < 10; i++) yield { x: [i], y: [2 * i] }; });
   * ```
   */
  static fromGenerator<E>(generator: () => AsyncIterable<E> | Iterable<E>, options: { batched?: boolean } = {}): Dataset<E> {
    if (typeof generator !== 'function') {
      const hint = generator !== null && typeof generator === 'object' && Symbol.asyncIterator in (generator as object)
        ? ' (pass the generator function, not a generator object: a dataset is read again every epoch)' : '';
      invalid('Dataset.fromGenerator', 'generator', 'a generator function', generator, hint.trim() || undefined);
    }
    options = checkOptions('Dataset.fromGenerator', options, ['batched']);
    return new Dataset<E>(generator, { batched: options.batched === true });
  }

  /**
   * A CSV file streamed through the CSV reader (readCsvBatches: the same parser, schema options and
   * errors naming file, line and column; parsing on `workers` threads). Rows by default; with
   * `batchSize` the parser's batches themselves (no copy). Labels: see CsvDatasetOptions.task.
   * @param path the CSV file.
   * @param options readCsvBatches' options (labelColumn, delimiter, header, missing, workers...), task ('auto' default, 'classification' or 'regression'), batchSize (yield the parser's batches; default: rows).
   * @returns a dataset of rows, or of batches with batchSize.
   * @throws Error when path is not a string or the file does not exist, task is not one of the three, or batchSize is not a positive integer; while reading, the CSV reader's errors naming file, line and column.
   * @example
   * ```ts
   * const ds = data.Dataset.fromCsv('train.csv', { labelColumn: 'last' }).shuffle(10_000, { seed: 1 });
   * ```
   */
  static fromCsv(path: string, options: CsvDatasetOptions & { batchSize: number }): Dataset<Batch>;
  static fromCsv(path: string, options?: CsvDatasetOptions): Dataset<Row>;
  static fromCsv(path: string, options: CsvDatasetOptions = {}): Dataset<Row> | Dataset<Batch> {
    const batched = options?.batchSize !== undefined;
    return new Dataset(csvElements(path, options), { batched }) as Dataset<Row> | Dataset<Batch>;
  }

  /**
   * Rows of an IDX images file (and a labels file, e.g. MNIST's pair): x one image flattened, times
   * `scale` (e.g. 1/255), y its label. The images file (gzip or raw) is streamed and cut into rows as
   * its bytes arrive; the labels file is read whole.
   * @param images the IDX images file (gzip or raw).
   * @param labels the IDX labels file (optional: rows without y).
   * @param options scale: multiplies every value (default 1; e.g. 1/255).
   * @returns a dataset of rows { x, y }.
   * @throws Error when a file does not exist, scale is not a finite number, or an option is unknown; while reading, errors for a corrupt or mismatched file.
   * @example
   * ```ts
   * const train = data.Dataset.fromIdx('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', { scale: 1 / 255 });
   * ```
   */
  static fromIdx(images: string, labels?: string, options: IdxOptions = {}): Dataset<Row> {
    return new Dataset<Row>(idxRows(images, labels, options));
  }

  /**
   * CSV files from a glob ('data/part-*.csv') or a list, read one after another (sorted, for a stable
   * order); `shard: { index, count }` keeps every count-th file from index (one shard per worker or
   * process). The other options are fromCsv's.
   * @param files a glob pattern ('data/part-*.csv') or a list of CSV paths.
   * @param options shard { index, count } (default: every file), plus fromCsv's options.
   * @returns a dataset of the files' rows (or batches with batchSize), file after file.
   * @throws Error when no file matches the glob, the list is empty, files is neither, shard is not { index, count } with 0 <= index < count, a shard gets no files, or a file fails fromCsv's checks.
   * @example
   * ```ts
   * const ds = data.Dataset.fromFiles('data/part-*.csv', { labelColumn: 'last', shard: { index: 0, count: 2 } });
   * ```
   */
  static fromFiles(files: string | readonly string[], options: FilesOptions & { batchSize: number }): Dataset<Batch>;
  static fromFiles(files: string | readonly string[], options?: FilesOptions): Dataset<Row>;
  static fromFiles(files: string | readonly string[], options: FilesOptions = {}): Dataset<Row> | Dataset<Batch> {
    const { list, csv } = shardFiles(files, options);
    const parts = list.map((f) => new Dataset(csvElements(f, csv)));
    const batched = csv.batchSize !== undefined;
    return new Dataset(async function* files() {
      for (const p of parts) yield* p;
    }, { batched }) as Dataset<Row> | Dataset<Batch>;
  }
}

/** The rows of a batch, as views of its arrays. */
function* rowsOf(b: Batch): Generator<Row> {
  const f = b.features;
  const ts = b.y instanceof Float32Array ? b.y.length / b.n : 0;
  for (let i = 0; i < b.n; i++) {
    const x = b.x.subarray(i * f, (i + 1) * f);
    if (b.y === undefined || b.y === null) yield { x };
    else if (b.y instanceof Int32Array) yield { x, y: b.y[i] };
    else yield { x, y: b.y.subarray(i * ts, (i + 1) * ts) };
  }
}

/** Collects rows into batch buffers (allocated per batch: a batch owns its buffers, so it can be transferred). */
class RowBatcher {
  private x: Float32Array | null = null;
  private y: Int32Array | Float32Array | null = null;
  private rows = 0;
  private features = -1;
  /** 'label', 'targets' or 'none', fixed by the first row. */
  private kind: 'label' | 'targets' | 'none' | null = null;
  private targetSize = 0;

  constructor(private readonly size: number) {}

  add(row: Row, index: number): Batch | null {
    const where = `Dataset.batch: element ${index}`;
    if (row === null || typeof row !== 'object' || row.x === undefined) throw new Error(`${where} must be a row { x, y }, got ${describe(row)}`);
    const x = row.x;
    if (!(x instanceof Float32Array) && !Array.isArray(x)) throw new Error(`${where}: x must be a Float32Array or an array of numbers, got ${describe(x)}`);
    if (this.features < 0) this.features = x.length;
    else if (x.length !== this.features) throw new Error(`${where}: x has ${x.length} values, the rows before it have ${this.features}`);
    const y = row.y;
    const kind = y === undefined ? 'none' : typeof y === 'number' ? 'label' : 'targets';
    if (kind === 'targets' && !(y instanceof Float32Array) && !Array.isArray(y)) throw new Error(`${where}: y must be an integer class label, a Float32Array or an array of targets, got ${describe(y)}`);
    if (this.kind === null) {
      this.kind = kind;
      if (kind === 'targets') this.targetSize = (y as Float32Array).length;
    } else if (kind !== this.kind) {
      const say = { label: 'a class label (a number)', targets: 'targets (an array)', none: 'no y' };
      throw new Error(`${where}: y is ${say[kind]}, the rows before it have ${say[this.kind]}`);
    }
    if (this.x === null) {
      this.x = new Float32Array(this.size * this.features);
      this.y = kind === 'label' ? new Int32Array(this.size) : kind === 'targets' ? new Float32Array(this.size * this.targetSize) : null;
    }
    this.x.set(x, this.rows * this.features);
    if (kind === 'label') {
      if (!Number.isInteger(y)) throw new Error(`${where}: y = ${String(y)} is not an integer class label (give a regression target as [${String(y)}] or a Float32Array)`);
      (this.y as Int32Array)[this.rows] = y as number;
    } else if (kind === 'targets') {
      const t = y as Float32Array;
      if (t.length !== this.targetSize) throw new Error(`${where}: y has ${t.length} targets, the rows before it have ${this.targetSize}`);
      (this.y as Float32Array).set(t, this.rows * this.targetSize);
    }
    this.rows++;
    return this.rows === this.size ? this.flush() : null;
  }

  flush(): Batch | null {
    if (this.rows === 0 || this.x === null) return null;
    const n = this.rows;
    const f = this.features;
    const x = n === this.size ? this.x : this.x.slice(0, n * f);
    let y = this.y;
    if (y !== null && n !== this.size) y = y.slice(0, n * (this.kind === 'targets' ? this.targetSize : 1));
    this.x = null;
    this.y = null;
    this.rows = 0;
    return y === null ? { x, n, features: f } : { x, y, n, features: f };
  }
}

interface FlatArrays { x: Float32Array; n: number; features: number; labels: Int32Array | null; targets: Float32Array | null; targetSize: number }

/** fromArrays' input as flat rows, checked (lib/data cannot use fit's prepareData: train sits above data). */
function flatArrays(data: ArraysData): FlatArrays {
  const where = 'Dataset.fromArrays';
  if (!isPlainObject(data) && !(data !== null && typeof data === 'object')) invalid(where, 'data', 'an object { x, y }', data);
  let x: Float32Array;
  let n: number | null = null;
  const dx = data.x;
  if (dx instanceof Tensor) {
    x = dx.data;
    n = dx.shape[0] ?? 1;
  } else if (dx instanceof Float32Array) {
    x = dx;
  } else if (Array.isArray(dx) && dx.every((r) => Array.isArray(r))) {
    n = dx.length;
    const f = n === 0 ? 0 : (dx[0] as number[]).length;
    x = new Float32Array(n * f);
    dx.forEach((r: number[], i) => {
      if (r.length !== f) throw new Error(`${where}: x[${i}] has ${r.length} values, x[0] has ${f}`);
      x.set(r, i * f);
    });
  } else {
    return invalid(where, 'data.x', 'a Tensor, a Float32Array or an array of rows', dx);
  }
  let labels: Int32Array | null = null;
  let targets: Float32Array | null = null;
  let yRows: number | null = null;
  const dy = data.y;
  if (dy instanceof Int32Array) labels = dy;
  else if (Array.isArray(dy)) {
    labels = new Int32Array(dy.length);
    dy.forEach((v, i) => { if (!Number.isInteger(v)) throw new Error(`${where}: y[${i}] = ${String(v)} is not an integer class label (give regression targets as a Float32Array)`); labels![i] = v; });
  } else if (dy instanceof Tensor) { targets = dy.data; yRows = dy.shape[0] ?? 1; } else if (dy instanceof Float32Array) targets = dy;
  else if (dy !== undefined) return invalid(where, 'data.y', 'an Int32Array or number[] of labels, a Float32Array or Tensor of targets, or nothing', dy);
  if (labels !== null) yRows = labels.length;
  if (n === null) {
    if (data.features !== undefined) {
      const f = checkPositiveInt(where, 'data.features', data.features);
      if (x.length % f !== 0) throw new Error(`${where}: x has ${x.length} values, not a multiple of features = ${f}`);
      n = x.length / f;
    } else if (yRows !== null) n = yRows;
    else if (targets !== null) n = targets.length;
    else throw new Error(`${where}: a flat Float32Array x without y needs data.features (values per row)`);
  }
  if (n === 0 || x.length % n !== 0) throw new Error(`${where}: x has ${x.length} values, not a whole number of rows for ${n} rows`);
  if (yRows !== null && yRows !== n) throw new Error(`${where}: x has ${n} rows but y has ${yRows}`);
  if (targets !== null && targets.length % n !== 0) throw new Error(`${where}: y has ${targets.length} values, not a whole number per row for ${n} rows`);
  return { x, n, features: x.length / n, labels, targets, targetSize: targets === null ? 0 : targets.length / n };
}
