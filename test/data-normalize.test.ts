// Tests for standardize(): statistics from the training set only, applied to every dataset given.
import { describe, it, expect } from 'vitest';
import { standardize } from '../lib/data/normalize';
import { SeededRandom } from '../lib/data/split';

const seed = (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;

function randomData(rng: SeededRandom, n: number, features: number, shift: number): { x: Float32Array; features: number } {
  const x = new Float32Array(n * features);
  for (let i = 0; i < x.length; i++) x[i] = shift + (i % features) + rng.next() * 3;
  return { x, features };
}

describe(`standardize (seed ${seed})`, () => {
  it("global (asked for): train gets mean 0 / std 1, test is transformed with the train statistics", () => {
    const rng = new SeededRandom(seed);
    const train = randomData(rng, 200, 5, 10);
    const test = randomData(rng, 50, 5, 10);
    const testBefore = Float32Array.from(test.x);
    const { mean, std } = standardize(train, [test], { per: 'global' });
    expect(mean.length).toBe(1);
    let m = 0;
    for (const v of train.x) m += v / train.x.length;
    let v2 = 0;
    for (const v of train.x) v2 += (v - m) ** 2 / train.x.length;
    expect(m, `seed ${seed}`).toBeCloseTo(0, 4);
    expect(Math.sqrt(v2), `seed ${seed}`).toBeCloseTo(1, 4);
    for (let i = 0; i < test.x.length; i++) expect(test.x[i]).toBeCloseTo((testBefore[i] - mean[0]) / std[0], 4);
  });

  it('per feature: each column standardised; a constant column is only centred', () => {
    const rng = new SeededRandom(seed);
    const train = randomData(rng, 100, 3, 0);
    for (let r = 0; r < 100; r++) train.x[r * 3 + 2] = 7;
    const { mean, std } = standardize(train, [], { per: 'feature' });
    expect(mean[2]).toBe(7);
    expect(std[2]).toBe(1);
    for (let c = 0; c < 2; c++) {
      let m = 0;
      for (let r = 0; r < 100; r++) m += train.x[r * 3 + c] / 100;
      expect(m, `seed ${seed}`).toBeCloseTo(0, 4);
    }
    for (let r = 0; r < 100; r++) expect(train.x[r * 3 + 2]).toBe(0);
  });

  it('defaults to per feature for 2-D data (issue 11): each column gets its own mean and std', () => {
    // Two columns on very different scales: a global mean/std would leave column 0 near -1 everywhere.
    const x = new Float32Array([1, 1000, 2, 2000, 3, 3000, 4, 4000]);
    const { mean, std } = standardize({ x, features: 2 });
    expect(Array.from(mean)).toEqual([2.5, 2500]);
    expect(std[0]).toBeCloseTo(Math.sqrt(1.25), 5);
    expect(std[1]).toBeCloseTo(Math.sqrt(1.25) * 1000, 1);
    expect(x[0]).toBeCloseTo(x[1], 5); // both columns standardised alike
  });

  it('NaN or infinity in the data is an error naming the row and column, not NaN statistics (issue 11)', () => {
    const x = new Float32Array([1, 2, 3, 4, 5, NaN, 7, 8, 9]);
    expect(() => standardize({ x, features: 3 })).toThrow(/standardize: row 1, column 2 \(0-based\) is NaN: statistics need finite values/);
    expect(() => standardize({ x, features: 3 }, [], { per: 'global' })).toThrow(/row 1, column 2 \(0-based\) is NaN/);
    const test = { x: new Float32Array([1, Infinity, 3]), features: 3 };
    expect(() => standardize({ x: new Float32Array([1, 2, 3, 4, 5, 6]), features: 3 }, [test])).toThrow(/standardize: others\[0\]: row 0, column 1 \(0-based\) is Infinity/);
    expect(() => standardize({ x: new Float32Array(3), features: 3 }, [], { per: 'columns' as never })).toThrow(/per must be 'feature' or 'global', got 'columns'/);
    expect(() => standardize({ x: new Float32Array(3), features: 3 }, [], { perFeature: true } as never)).toThrow(/unknown option 'perFeature'/);
  });

  it('rejects datasets of different widths', () => {
    expect(() => standardize({ x: new Float32Array(6), features: 3 }, [{ x: new Float32Array(4), features: 2 }]))
      .toThrow('standardize: datasets differ in width: 2 vs 3 features');
  });
});
