// The sequence kernel family (gatherRows, scatterAddRows): native and its TypeScript twin against a reference
// and each other on random shapes, awkward ones included; a scatter-add sums repeated rows in index order.
import { describe, expect, it } from 'vitest';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import { freshSeed, makeRng } from './helpers/reference';

const SEED = freshSeed();
const SHAPES: [number, number, number][] = [
  // [V, D, n]
  [1, 1, 1], [3, 17, 5], [17, 1, 65], [65, 3, 257], [257, 65, 17], [5, 128, 300], [2, 257, 3], [1000, 31, 0],
];

describe.each(backendsUnderTest())(`gatherRows / scatterAddRows on $label (seed ${SEED})`, (entry) => {
  it('gather copies the rows picked; scatter-add adds into them, skipping one row', () => {
    const b = requireBackend(entry);
    const rng = makeRng(SEED);
    for (const [V, D, n] of SHAPES) {
      const table = Float32Array.from({ length: V * D }, () => rng.uniform(-1, 1));
      const idx = Int32Array.from({ length: n }, () => rng.int(V));
      const out = new Float32Array(n * D).fill(NaN);
      b.gatherRows(V, D, n, table, idx, out);
      for (let i = 0; i < n; i++) for (let k = 0; k < D; k++) expect(out[i * D + k]).toBe(table[idx[i] * D + k]);
      for (const skip of [V, idx[0] ?? 0]) {
        const src = Float32Array.from({ length: n * D }, () => rng.uniform(-1, 1));
        const got = Float32Array.from(table);
        b.scatterAddRows(V, D, n, got, idx, src, skip);
        // Reference: the same float32 additions in index order.
        const want = Float32Array.from(table);
        for (let i = 0; i < n; i++) {
          if (idx[i] === skip) continue;
          for (let k = 0; k < D; k++) want[idx[i] * D + k] = Math.fround(want[idx[i] * D + k] + src[i * D + k]);
        }
        expect(Array.from(got), `V=${V} D=${D} n=${n} skip=${skip}`).toEqual(Array.from(want));
      }
    }
  });

  it('rejects an index outside the table before touching memory', () => {
    const b = requireBackend(entry);
    const table = new Float32Array(3 * 40);
    expect(() => b.gatherRows(3, 40, 2, table, new Int32Array([0, 3]), new Float32Array(80))).toThrow(/^gatherRows: index 3 at row 1 is out of range \[0, 3\)$/);
    expect(() => b.scatterAddRows(3, 40, 1, table, new Int32Array([-1]), new Float32Array(40), 3)).toThrow(/^scatterAddRows: index -1 at row 0 is out of range \[0, 3\)$/);
    expect(() => b.gatherRows(3, 40, 2, table, new Int32Array([0, 1]), new Float32Array(79))).toThrow(/^gatherRows: out has 79 elements, expected n\*D = 80 \(n=2, D=40\)$/);
  });
});
