// Tests for the embedded digits dataset and the seeded train/test split.
import { describe, it, expect } from 'vitest';
import { loadDigits, parseDigitsCsv } from '../lib/data/digits';
import { trainTestSplit, permutation, gatherRows, batchRanges, SeededRandom } from '../lib/data/split';

const seed = (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;

function rowKey(x: Float32Array, features: number, r: number): string {
  return Array.from(x.subarray(r * features, (r + 1) * features)).join(',');
}

describe('loadDigits', () => {
  const d = loadDigits();

  it('loads 1797 rows of 64 pixels in [0, 1] with labels 0..9', () => {
    expect(d.n).toBe(1797);
    expect(d.features).toBe(64);
    expect(d.classes).toBe(10);
    expect(d.x).toBeInstanceOf(Float32Array);
    expect(d.y).toBeInstanceOf(Int32Array);
    expect(d.x.length).toBe(1797 * 64);
    let min = Infinity;
    let max = -Infinity;
    for (const v of d.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    const counts = new Array(10).fill(0);
    for (const l of d.y) counts[l]++;
    for (const c of counts) expect(c).toBeGreaterThan(170);
    // First row of the UCI file: 0,0,5,13,9,1,0,0 ... label 0.
    expect(Array.from(d.x.subarray(0, 4))).toEqual([0, 0, 5 / 16, 13 / 16]);
    expect(d.y[0]).toBe(0);
  });

  it('holds out a stratified 20% by default, disjoint and covering every row', () => {
    expect(d.test.n).toBeGreaterThanOrEqual(355);
    expect(d.test.n).toBeLessThanOrEqual(365);
    expect(d.train.n + d.test.n).toBe(d.n);
    const all = new Map<string, number>();
    for (let r = 0; r < d.n; r++) {
      const k = rowKey(d.x, 64, r) + '|' + d.y[r];
      all.set(k, (all.get(k) ?? 0) + 1);
    }
    for (const part of [d.train, d.test]) {
      for (let r = 0; r < part.n; r++) {
        const k = rowKey(part.x, 64, r) + '|' + part.y[r];
        const left = all.get(k);
        expect(left, `row ${r} of a split is not in the dataset (or appears twice)`).toBeGreaterThan(0);
        all.set(k, (left as number) - 1);
      }
    }
    const testCounts = new Array(10).fill(0);
    for (const l of d.test.y) testCounts[l]++;
    for (const c of testCounts) expect(c).toBeGreaterThanOrEqual(34);
  });

  it('gives the same split for the same seed and a different one for another seed', () => {
    const a = loadDigits({ seed: 7, split: 0.3 });
    const b = loadDigits({ seed: 7, split: 0.3 });
    const c = loadDigits({ seed: 8, split: 0.3 });
    expect(a.test.y).toEqual(b.test.y);
    expect(a.test.x).toEqual(b.test.x);
    expect(Math.abs(a.test.n - 0.3 * 1797)).toBeLessThan(10);
    expect(a.test.x).not.toEqual(c.test.x);
  });

  it('reports malformed CSV lines with their line number', () => {
    const good = new Array(64).fill('1').join(',') + ',3';
    expect(() => parseDigitsCsv(`${good}\n1,2,3\n`, 'f.csv')).toThrow('f.csv: line 2 has 3 values, expected 65');
    expect(() => parseDigitsCsv(good.replace(/,3$/, ',12'), 'f.csv')).toThrow("line 1: label '12'");
    expect(() => parseDigitsCsv('17,' + good.slice(2), 'f.csv')).toThrow("column 1: pixel '17'");
  });

  it('names the file when it cannot be read', () => {
    expect(() => loadDigits({ path: '/nonexistent/digits.csv.gz' })).toThrow('loadDigits: cannot read /nonexistent/digits.csv.gz');
  });
});

describe(`trainTestSplit and batching helpers (seed ${seed})`, () => {
  const rng = new SeededRandom(seed);

  it('splits x/y rows consistently for regression targets with several outputs', () => {
    const n = 50 + rng.nextInt(50);
    const features = 1 + rng.nextInt(5);
    const x = new Float32Array(n * features);
    const y = new Float32Array(n * 2);
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < features; f++) x[r * features + f] = r * 100 + f;
      y[2 * r] = r;
      y[2 * r + 1] = -r;
    }
    const s = trainTestSplit(x, y, { testFraction: 0.25, seed, features });
    expect(s.test.n, `seed ${seed}`).toBe(Math.round(n * 0.25));
    expect(s.train.n + s.test.n).toBe(n);
    for (const part of [s.train, s.test]) {
      for (let r = 0; r < part.n; r++) {
        const src = part.y[2 * r];
        expect(part.y[2 * r + 1]).toBe(-src);
        expect(part.x[r * features]).toBe(src * 100);
      }
    }
  });

  it('rejects bad fractions and mismatched sizes', () => {
    const x = new Float32Array(10);
    const y = new Int32Array(3);
    expect(() => trainTestSplit(x, y)).toThrow('x has 10 elements, not a whole number of rows for 3 labels');
    expect(() => trainTestSplit(new Float32Array(6), y, { testFraction: 1 })).toThrow('trainTestSplit: testFraction must be in (0, 1), got 1');
    expect(() => trainTestSplit(new Float32Array(6), new Float32Array(3), { stratify: true })).toThrow('stratify needs');
  });

  it('permutation is a reproducible permutation', () => {
    const n = 1 + rng.nextInt(1000);
    const p = permutation(n, seed);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(permutation(n, seed)).toEqual(p);
  });

  it('gatherRows copies the indexed rows and batchRanges covers [0, n)', () => {
    const src = Float32Array.from({ length: 12 }, (_, i) => i);
    const dst = new Float32Array(6);
    expect(gatherRows(src, 3, [3, 0, 2], 1, 3, dst)).toBe(2);
    expect(Array.from(dst.subarray(0, 6))).toEqual([0, 1, 2, 6, 7, 8]);
    expect(() => gatherRows(src, 3, [0, 1, 2], 0, 3, dst)).toThrow('destination has 6 elements, needs 3 x 3');
    expect(batchRanges(10, 4)).toEqual([[0, 4], [4, 8], [8, 10]]);
    expect(() => batchRanges(10, 0)).toThrow('batchSize must be a positive integer');
  });
});
