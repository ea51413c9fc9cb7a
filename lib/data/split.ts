// Seeded shuffling, train/test splitting and row-gathering helpers shared by the datasets and fit().
import { Rng } from '../random';
import { checkBoolean, checkElementCount, checkNumber, checkOptions, checkPositiveInt, checkSeed, describe, invalid } from '../validate';

/** Most rows a dataset can have: rows are indexed by Int32Array permutations. */
const MAX_ROWS = 2 ** 31 - 1;

/** A dataset in flat row-major form: x is [n, features], y is n labels or [n, targets] values. */
export interface Dataset {
  x: Float32Array;
  /** Int32Array of class labels (classification) or Float32Array of targets, n * targets long. */
  y: Int32Array | Float32Array;
  n: number;
  features: number;
}

/** A labelled classification dataset. */
export interface LabeledDataset extends Dataset {
  y: Int32Array;
}

/**
 * @deprecated Use Rng (the one seeded generator, exported at the top level): SeededRandom is Rng with
 * its former method name nextInt(bound) = int(bound). Since issue 12 it draws Rng's sequence
 * (mulberry32), so a seed shuffles differently than before.
 */
export class SeededRandom extends Rng {
  /**
   * Uniform integer in [0, bound); the same as int(bound).
   * @param bound the number of possible values, an integer in [1, 2^32].
   * @returns an integer in [0, bound).
   * @throws Error when bound is not an integer in [1, 2^32].
   * @example new data.SeededRandom(1).nextInt(10)
   */
  nextInt(bound: number): number {
    return this.below(bound, 'SeededRandom.nextInt', 'bound');
  }
}

/**
 * Shuffles an index array in place (Fisher-Yates) with the given generator.
 * @param indices the array to shuffle (an Int32Array or an array).
 * @param rng the generator of the swaps.
 * @throws Error when indices is neither an Int32Array nor an array, or rng is not an Rng.
 * @example const idx = Int32Array.of(0, 1, 2, 3); data.shuffleInPlace(idx, new Rng(1));
 */
export function shuffleInPlace(indices: Int32Array | number[], rng: Rng): void {
  if (!(indices instanceof Int32Array) && !Array.isArray(indices)) invalid('shuffleInPlace', 'indices', 'an Int32Array or an array', indices);
  if (!(rng instanceof Rng)) invalid('shuffleInPlace', 'rng', 'an Rng', rng);
  for (let i = indices.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = indices[i];
    indices[i] = indices[j];
    indices[j] = t;
  }
}

/**
 * A random permutation of 0..n-1, reproducible from the seed (or generator).
 * @param n the length, a non-negative integer (at most the row limit).
 * @param seed an integer in [0, 2^32), or an Rng to draw from (it advances).
 * @returns an Int32Array holding 0..n-1 once each.
 * @throws Error when n is not a non-negative integer within the row limit, or seed is neither an Rng nor an
 * integer in [0, 2^32).
 * @example data.permutation(5, 42) // e.g. Int32Array [3, 0, 4, 1, 2]
 */
export function permutation(n: number, seed: number | Rng): Int32Array {
  checkNumber('permutation', 'n', n, { integer: true, min: 0, max: MAX_ROWS });
  const rng = seed instanceof Rng ? seed : new Rng(checkSeed('permutation', 'seed', seed));
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  shuffleInPlace(out, rng);
  return out;
}

/**
 * Copies rows indices[start..end) of `src` (rows of rowSize elements) into `dst`, packed from row 0.
 * @param src the rows, flat (a Float32Array or Int32Array).
 * @param rowSize elements per row, a positive integer.
 * @param indices row numbers into src.
 * @param start the first position of indices to copy (an integer in [0, indices.length]).
 * @param end one past the last position (an integer in [start, indices.length]).
 * @param dst the destination, at least (end - start) * rowSize elements.
 * @returns the number of rows copied (end - start).
 * @throws Error when src or dst is not a Float32Array or Int32Array, rowSize is not a positive integer, indices
 * is not an index list, start or end is out of range, dst is too short, or an index is not a row of src.
 * @example data.gatherRows(x, 64, order, 0, 32, batchX) // batch 0 of a shuffled epoch
 */
export function gatherRows<T extends Float32Array | Int32Array>(
  src: T, rowSize: number, indices: ArrayLike<number>, start: number, end: number, dst: T,
): number {
  return gatherRowsFor('gatherRows', src, rowSize, indices, start, end, dst);
}

/** gatherRows with errors named after `where` (the public function that was called). */
function gatherRowsFor<T extends Float32Array | Int32Array>(
  where: string, src: T, rowSize: number, indices: ArrayLike<number>, start: number, end: number, dst: T,
): number {
  if (!(src instanceof Float32Array || src instanceof Int32Array)) invalid(where, 'src', 'a Float32Array or Int32Array', src);
  if (!(dst instanceof Float32Array || dst instanceof Int32Array)) invalid(where, 'dst', 'a Float32Array or Int32Array', dst);
  checkPositiveInt(where, 'rowSize', rowSize);
  if (!isIndexList(indices)) invalid(where, 'indices', 'an Int32Array or an array of row indices', indices);
  checkNumber(where, 'start', start, { integer: true, min: 0, max: indices.length });
  checkNumber(where, 'end', end, { integer: true, min: start, max: indices.length });
  const rows = end - start;
  if (dst.length < rows * rowSize) {
    throw new Error(`${where}: destination has ${dst.length} elements, needs ${rows} x ${rowSize}`);
  }
  const srcRows = Math.floor(src.length / rowSize);
  for (let r = 0; r < rows; r++) {
    const i = indices[start + r];
    if (!(i >= 0 && i < srcRows && Number.isInteger(i))) {
      throw new Error(`${where}: index ${describe(i)} at position ${start + r} is not a row of the data (${srcRows} rows of ${rowSize})`);
    }
    if (rowSize === 1) dst[r] = src[i];
    else dst.set(src.subarray(i * rowSize, (i + 1) * rowSize), r * rowSize);
  }
  return rows;
}

function isIndexList(v: unknown): v is ArrayLike<number> {
  return v instanceof Int32Array || Array.isArray(v);
}

/**
 * Splits [0, n) into consecutive [start, end) ranges of at most batchSize rows (the last may be shorter).
 * @param n the number of rows, a non-negative integer.
 * @param batchSize rows per range, a positive integer.
 * @returns the ranges in order.
 * @throws Error when n is not a non-negative integer within the row limit, or batchSize is not a positive integer.
 * @example data.batchRanges(5, 2) // [[0, 2], [2, 4], [4, 5]]
 */
export function batchRanges(n: number, batchSize: number): Array<[number, number]> {
  checkNumber('batchRanges', 'n', n, { integer: true, min: 0, max: MAX_ROWS });
  checkPositiveInt('batchRanges', 'batchSize', batchSize);
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += batchSize) out.push([s, Math.min(n, s + batchSize)]);
  return out;
}

/**
 * Selects the given rows of a flat dataset into a new, packed dataset.
 * @param x the features, flat (n * features values).
 * @param y the targets, flat (n * targets values): class labels (Int32Array) or floats.
 * @param features values per row of x, a positive integer.
 * @param targets values per row of y, a positive integer.
 * @param indices the rows to take, in order (repeats allowed).
 * @returns x and y of the selected rows, n (their count) and features.
 * @throws Error when x is not a Float32Array, y is neither an Int32Array nor a Float32Array, features or targets is
 * not a positive integer, indices is not an index list, the selection is too large, or an index is not a row.
 * @example const val = data.takeRows(x, y, 64, 1, data.permutation(n, 1).subarray(0, 100));
 */
export function takeRows<Y extends Int32Array | Float32Array>(
  x: Float32Array, y: Y, features: number, targets: number, indices: ArrayLike<number>,
): { x: Float32Array; y: Y; n: number; features: number } {
  if (!(x instanceof Float32Array)) invalid('takeRows', 'x', 'a Float32Array', x);
  if (!(y instanceof Int32Array || y instanceof Float32Array)) invalid('takeRows', 'y', 'an Int32Array or Float32Array', y);
  checkPositiveInt('takeRows', 'features', features);
  checkPositiveInt('takeRows', 'targets', targets);
  if (!isIndexList(indices)) invalid('takeRows', 'indices', 'an Int32Array or an array of row indices', indices);
  const n = indices.length;
  checkElementCount('takeRows', [n, features], 'the selected rows');
  checkElementCount('takeRows', [n, targets], 'the selected targets');
  const xs = new Float32Array(n * features);
  const ys = (y instanceof Int32Array ? new Int32Array(n * targets) : new Float32Array(n * targets)) as Y;
  gatherRowsFor('takeRows', x, features, indices, 0, n, xs);
  gatherRowsFor('takeRows', y, targets, indices, 0, n, ys);
  return { x: xs, y: ys, n, features };
}

/** Options of data.trainTestSplit: testFraction (default 0.2), seed, stratify (by label) and features (row width of a flat x). */
export interface SplitOptions {
  /** Fraction of rows that go to the test part, in (0, 1). Default 0.2. */
  testFraction?: number;
  /** Seed of the shuffle (default 0): the same seed gives the same split. */
  seed?: number;
  /** Keep each class's proportion equal in both parts (y must be integer labels). Default false. */
  stratify?: boolean;
  /** Features per row; default x.length / n with n = y.length (one label or target per row). */
  features?: number;
}

/** The two parts of a split, each packed and ready for fit(). */
export interface Split<Y extends Int32Array | Float32Array> {
  train: { x: Float32Array; y: Y; n: number; features: number };
  test: { x: Float32Array; y: Y; n: number; features: number };
}

/**
 * Seeded train/test split of a flat dataset (x is [n, features]; y is n labels or [n, targets]).
 * Rows are shuffled, then the first round(n * testFraction) go to test. With stratify, each class
 * contributes round(count * testFraction) rows to test.
 * @param x the rows, a Float32Array [n, features].
 * @param y n labels (Int32Array) or targets (Float32Array, [n] or [n, targets]).
 * @param options testFraction (in (0, 1), default 0.2), seed (default 0), stratify (per-class fractions, needs Int32Array labels; default false), features (values per row; default x.length / y.length).
 * @returns the train and test parts, each { x, y, n, features }.
 * @throws Error when x or y has the wrong type, an option is unknown or out of range, x does not divide into rows of features, or stratify is given labels that are not one Int32Array entry per row.
 * @example
 * ```ts
 * const { train, test } = data.trainTestSplit(x, y, { testFraction: 0.25, seed: 1, stratify: true });
 * ```
 */
export function trainTestSplit<Y extends Int32Array | Float32Array>(
  x: Float32Array, y: Y, options: SplitOptions = {},
): Split<Y> {
  const where = 'trainTestSplit';
  if (!(x instanceof Float32Array)) invalid(where, 'x', 'a Float32Array of rows * features values', x);
  if (!(y instanceof Int32Array) && !(y instanceof Float32Array)) {
    invalid(where, 'y', 'an Int32Array of class labels or a Float32Array of targets', y);
  }
  const o = checkOptions(where, options, ['testFraction', 'seed', 'stratify', 'features']);
  // 0 would leave an empty test part (and 1 an empty training part): neither is a split.
  const testFraction = o.testFraction === undefined ? 0.2 : checkNumber(where, 'testFraction', o.testFraction, { above: 0, below: 1 });
  const seed = o.seed === undefined ? 0 : checkSeed(where, 'seed', o.seed);
  const stratify = o.stratify === undefined ? false : checkBoolean(where, 'stratify', o.stratify);
  let n: number;
  let features: number;
  if (o.features !== undefined) {
    features = checkPositiveInt(where, 'features', o.features);
    if (x.length % features !== 0) {
      throw new Error(`trainTestSplit: x has ${x.length} elements, not a multiple of features = ${features}`);
    }
    n = x.length / features;
  } else {
    n = y.length;
    if (n === 0 || x.length % n !== 0) {
      throw new Error(`trainTestSplit: x has ${x.length} elements, not a whole number of rows for ${n} labels`);
    }
    features = x.length / n;
  }
  if (y.length % n !== 0) {
    throw new Error(`trainTestSplit: y has ${y.length} elements, not a whole number per row for ${n} rows`);
  }
  const targets = y.length / n;
  const rng = new Rng(seed);

  let testIdx: number[];
  let trainIdx: number[];
  if (stratify) {
    if (!(y instanceof Int32Array) || targets !== 1) {
      throw new Error('trainTestSplit: stratify needs one integer label per row (y: Int32Array of length n)');
    }
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const rows = byClass.get(y[i]);
      if (rows) rows.push(i);
      else byClass.set(y[i], [i]);
    }
    testIdx = [];
    trainIdx = [];
    for (const cls of [...byClass.keys()].sort((a, b) => a - b)) {
      const rows = byClass.get(cls) as number[];
      shuffleInPlace(rows, rng);
      const k = Math.round(rows.length * testFraction);
      testIdx.push(...rows.slice(0, k));
      trainIdx.push(...rows.slice(k));
    }
    shuffleInPlace(testIdx, rng);
    shuffleInPlace(trainIdx, rng);
  } else {
    const order = Array.from(permutation(n, rng));
    const k = Math.round(n * testFraction);
    testIdx = order.slice(0, k);
    trainIdx = order.slice(k);
  }
  if (testIdx.length === 0 || trainIdx.length === 0) {
    throw new Error(
      `trainTestSplit: testFraction ${testFraction} of ${n} rows leaves the ${testIdx.length === 0 ? 'test' : 'training'} part empty ` +
        `(${testIdx.length} test rows, ${trainIdx.length} training rows)`,
    );
  }
  return {
    train: takeRows(x, y, features, targets, trainIdx),
    test: takeRows(x, y, features, targets, testIdx),
  };
}
