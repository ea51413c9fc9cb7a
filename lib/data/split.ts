// Seeded shuffling, train/test splitting and row-gathering helpers shared by the datasets and fit().

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
 * Small seeded pseudo-random generator (32-bit state, splitmix-style mixing). Deterministic for a
 * given seed on every platform; not for cryptography.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`SeededRandom: seed must be a finite number, got ${seed}`);
    // Fold any number (negative, fractional, > 2^32) into 32 bits.
    this.state = (Math.floor(seed) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  }

  /** Next uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, bound) (bound <= 2^32). */
  nextInt(bound: number): number {
    return Math.floor(this.next() * bound);
  }
}

/** Shuffles an index array in place (Fisher-Yates) with the given generator. */
export function shuffleInPlace(indices: Int32Array | number[], rng: SeededRandom): void {
  for (let i = indices.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = indices[i];
    indices[i] = indices[j];
    indices[j] = t;
  }
}

/** A random permutation of 0..n-1, reproducible from the seed (or generator). */
export function permutation(n: number, seed: number | SeededRandom): Int32Array {
  const rng = typeof seed === 'number' ? new SeededRandom(seed) : seed;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  shuffleInPlace(out, rng);
  return out;
}

/**
 * Copies rows indices[start..end) of `src` (rows of rowSize elements) into `dst`, packed from row 0.
 * dst must hold at least (end - start) * rowSize elements. Returns the number of rows copied.
 */
export function gatherRows<T extends Float32Array | Int32Array>(
  src: T, rowSize: number, indices: ArrayLike<number>, start: number, end: number, dst: T,
): number {
  const rows = end - start;
  if (dst.length < rows * rowSize) {
    throw new Error(`gatherRows: destination has ${dst.length} elements, needs ${rows} x ${rowSize}`);
  }
  if (rowSize === 1) {
    for (let r = 0; r < rows; r++) dst[r] = src[indices[start + r]];
    return rows;
  }
  for (let r = 0; r < rows; r++) {
    const from = indices[start + r] * rowSize;
    dst.set(src.subarray(from, from + rowSize), r * rowSize);
  }
  return rows;
}

/** Splits [0, n) into consecutive [start, end) ranges of at most batchSize rows. */
export function batchRanges(n: number, batchSize: number): Array<[number, number]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchRanges: batchSize must be a positive integer, got ${batchSize}`);
  }
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += batchSize) out.push([s, Math.min(n, s + batchSize)]);
  return out;
}

/** Selects the given rows of a flat dataset into a new, packed dataset. */
export function takeRows<Y extends Int32Array | Float32Array>(
  x: Float32Array, y: Y, features: number, targets: number, indices: ArrayLike<number>,
): { x: Float32Array; y: Y; n: number; features: number } {
  const n = indices.length;
  const xs = new Float32Array(n * features);
  const ys = (y instanceof Int32Array ? new Int32Array(n * targets) : new Float32Array(n * targets)) as Y;
  gatherRows(x, features, indices, 0, n, xs);
  gatherRows(y, targets, indices, 0, n, ys);
  return { x: xs, y: ys, n, features };
}

export interface SplitOptions {
  /** Fraction of rows that go to the test part, in [0, 1). Default 0.2. */
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
 */
export function trainTestSplit<Y extends Int32Array | Float32Array>(
  x: Float32Array, y: Y, options: SplitOptions = {},
): Split<Y> {
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new Error(`trainTestSplit: testFraction must be in [0, 1), got ${testFraction}`);
  }
  let n: number;
  let features: number;
  if (options.features !== undefined) {
    features = options.features;
    if (!Number.isInteger(features) || features < 1 || x.length % features !== 0) {
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
  const rng = new SeededRandom(options.seed ?? 0);

  let testIdx: number[];
  let trainIdx: number[];
  if (options.stratify) {
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
  return {
    train: takeRows(x, y, features, targets, trainIdx),
    test: takeRows(x, y, features, targets, testIdx),
  };
}
