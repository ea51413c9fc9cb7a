// Sequence ops (permute, gather, embedding, maskedFill, triu/tril, cumsum, broadcasting bmm, softmax on any axis,
// topk, multinomial) and IntTensor: forward against naive references, finite-difference gradients, errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../lib/tensor';
import { IntTensor, intTensor } from '../lib/int-tensor';
import * as ops from '../lib/ops';
import { Rng } from '../lib/random';
import { backendsUnderTest, freshRng, gradcheck, ladderTensor, randomTensor, setBackend } from './helpers/gradcheck';

const { seed, rng } = freshRng();
const label = (what: string): string => `${what} (seed ${seed})`;
const dim = (lo: number, hi: number): number => lo + rng.int(hi - lo + 1);

/** Value of x (shape `shape`) at a multi-index, by strides: the naive reference indexing. */
function at(x: Tensor, idx: number[]): number {
  let off = 0;
  for (let d = 0; d < idx.length; d++) off = off * x.shape[d] + idx[d];
  return x.data[off];
}

/** Every multi-index of a shape, in row-major order. */
function* indices(shape: number[]): Generator<number[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    yield idx.slice();
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

function randomInts(n: number, bound: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(bound);
  return a;
}

describe('IntTensor', () => {
  it('holds int32 values from nested arrays, typed arrays and integer-valued Tensors', () => {
    const t = intTensor([[1, 2, 3], [4, 5, -6]]);
    expect(t.dtype).toBe('int32');
    expect(t.data).toBeInstanceOf(Int32Array);
    expect(t.shape).toEqual([2, 3]);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, -6]]);
    expect(intTensor(tensor([7, 8])).toArray()).toEqual([7, 8]);
    expect(intTensor(new Int32Array([1, 2, 3, 4]), [2, 2]).reshape(-1).shape).toEqual([4]);
    expect(t.slice(1).toArray()).toEqual([[4, 5, -6]]);
    expect(t.toFloat()).toBeInstanceOf(Tensor);
    expect(intTensor(3).item()).toBe(3);
  });
  it('names the element that is not an int32', () => {
    expect(() => intTensor([[1, 2], [3, 1.5]])).toThrow(/^intTensor: element at \[1,1\] is 1\.5, expected an integer in the int32 range$/);
    expect(() => intTensor([2 ** 31])).toThrow(/element at \[0\] is 2147483648/);
    expect(() => intTensor([[1, 2], [3]])).toThrow(/ragged nested array/);
    expect(() => intTensor(tensor([0.5]))).toThrow(/element 0 of the Tensor is 0\.5/);
    expect(() => intTensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2,2\]/);
  });
});

describe.each(backendsUnderTest())('sequence ops on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));

  it('permute matches naive indexing and its gradient checks', () => {
    const shape = [dim(1, 3), dim(1, 4), dim(1, 3), dim(2, 3)];
    const x = randomTensor(rng, shape);
    for (const dims of [[0, 1, 2, 3], [3, 2, 1, 0], [0, 2, 1, 3], [1, 3, 0, 2], [-1, 0, 1, 2]]) {
      const p = dims.map((d) => (d < 0 ? d + 4 : d));
      const y = ops.permute(x, dims);
      expect(y.shape).toEqual(p.map((d) => shape[d]));
      for (const idx of indices(y.shape)) {
        const src = new Array<number>(4);
        p.forEach((d, i) => (src[d] = idx[i]));
        expect(at(y, idx)).toBe(at(x, src));
      }
      gradcheck(([t]) => ops.permute(t, dims), [x], { label: label(`permute ${dims}`) });
    }
    expect(() => ops.permute(x, [0, 0, 1, 2])).toThrow(/permute: dims must be a permutation of the 4 axes/);
    expect(() => ops.permute(x, [0, 1])).toThrow(/permute: dims must be an array of 4 axes/);
  });

  it('gather picks along any axis (negative indices count from the end) and scatter-adds its gradient', () => {
    const shape = [dim(2, 4), dim(2, 5), dim(1, 3)];
    const x = randomTensor(rng, shape);
    for (let axis = 0; axis < 3; axis++) {
      const ishape = shape.map((d, i) => (i === axis ? dim(1, 6) : dim(1, d)));
      const n = ishape.reduce((a, b) => a * b, 1);
      const idx = new IntTensor(randomInts(n, shape[axis]), ishape);
      const y = ops.gather(x, axis, idx);
      expect(y.shape).toEqual(ishape);
      let i = 0;
      for (const pos of indices(ishape)) {
        const src = pos.slice();
        src[axis] = idx.data[i++];
        expect(at(y, pos)).toBe(at(x, src));
      }
      // Repeated indices: the gradient of a position read twice is the sum of both.
      gradcheck(([t]) => ops.gather(t, axis, idx), [x], { label: label(`gather axis ${axis}`) });
    }
    const neg = ops.gather(tensor([[1, 2, 3]]), 1, intTensor([[-1, 0]]));
    expect(neg.toArray()).toEqual([[3, 1]]);
    expect(() => ops.gather(tensor([[1, 2, 3]]), 1, intTensor([[3]]))).toThrow(/gather: index 3 at position 0 is out of range for axis 1 of length 3 \(shape \[1,3\]\) \(valid: -3 to 2\)/);
    expect(() => ops.gather(tensor([[1, 2, 3]]), 1, intTensor([0]))).toThrow(/must have the input's rank \(2\)/);
  });

  it('embedding looks rows up for indices of any shape; gradient by finite differences (leaf and non-leaf weight)', () => {
    const V = dim(3, 9);
    const D = dim(1, 5);
    const w = randomTensor(rng, [V, D]);
    const idx = new IntTensor(randomInts(6, V), [2, 3]);
    const y = ops.embedding(w, idx);
    expect(y.shape).toEqual([2, 3, D]);
    for (let i = 0; i < 6; i++) for (let k = 0; k < D; k++) expect(y.data[i * D + k]).toBe(w.data[idx.data[i] * D + k]);
    gradcheck(([t]) => ops.embedding(t, idx), [w], { label: label('embedding (leaf weight)') });
    // A weight computed by another op goes through the tape (dense gradient) instead.
    const base = randomTensor(rng, [V, D]);
    gradcheck(([t]) => ops.embedding(ops.mul(t, 2), idx), [base], { label: label('embedding (non-leaf weight)') });
  });

  it('embedding: the paddingIdx row gets no gradient; other rows get the sum over their occurrences', () => {
    const w = new Tensor(new Float32Array(4 * 2).fill(1), [4, 2], true);
    const y = ops.embedding(w, intTensor([0, 2, 2, 1, 2]), { paddingIdx: 2 });
    y.backward(new Float32Array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]));
    expect(Array.from(w.grad!.data)).toEqual([1, 1, 4, 4, 0, 0, 0, 0]);
    // A second backward accumulates into the same buffer.
    const g = w.grad!.data;
    ops.embedding(w, intTensor([3])).backward(new Float32Array([1, 2]));
    expect(w.grad!.data).toBe(g);
    expect(Array.from(g)).toEqual([1, 1, 4, 4, 0, 0, 1, 2]);
    expect(() => ops.embedding(w, intTensor([4]))).toThrow(/embedding: index 4 at position 0 is out of range for an embedding table of 4 rows \(valid: 0 to 3\)/);
    expect(() => ops.embedding(w, [0], { paddingIdx: 4 })).toThrow(/embedding: paddingIdx must be an integer in \[-4, 3\], got 4/);
  });

  it('embedding backward on a leaf allocates no [vocab x dim] array per step (only .grad, once)', () => {
    const V = 20000;
    const D = 16;
    const w = new Tensor(new Float32Array(V * D), [V, D], true);
    const idx = intTensor([1, 5, 5, 19999]);
    const Orig = globalThis.Float32Array;
    let big = 0;
    const counting = new Proxy(Orig, {
      construct(target, args, newTarget) {
        const n = args[0];
        if ((typeof n === 'number' && n >= V * D) || (n && typeof n === 'object' && (n as ArrayLike<number>).length >= V * D)) big++;
        return Reflect.construct(target, args, newTarget);
      },
    });
    (globalThis as { Float32Array: unknown }).Float32Array = counting;
    try {
      for (let step = 0; step < 3; step++) {
        w.zeroGrad();
        ops.sum(ops.embedding(w, idx)).backward();
      }
      const leafAllocations = big;
      // The counter sees dense gradients: the same lookup on a non-leaf weight makes one per step.
      big = 0;
      for (let step = 0; step < 3; step++) ops.sum(ops.embedding(ops.mul(w, 1), idx)).backward();
      const denseAllocations = big;
      expect(leafAllocations).toBe(1); // the first .grad
      expect(denseAllocations).toBeGreaterThanOrEqual(3);
    } finally {
      (globalThis as { Float32Array: unknown }).Float32Array = Orig;
    }
    expect(w.grad!.data[5 * D]).toBe(2 + 6); // 2 per step in the leaf loop (zeroed each step) plus 2 x 3 from the non-leaf loop
  });

  it('maskedFill fills where the (broadcast) mask is nonzero; gradient flows elsewhere', () => {
    const x = randomTensor(rng, [2, 3, 4]);
    const mask = tensor([[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]]);
    const y = ops.maskedFill(x, mask, -Infinity);
    for (const [b, i, j] of indices([2, 3, 4])) expect(at(y, [b, i, j])).toBe(at(mask, [i, j]) ? -Infinity : at(x, [b, i, j]));
    gradcheck(([t]) => ops.maskedFill(t, mask, 7), [x], { label: label('maskedFill') });
    expect(() => ops.maskedFill(x, tensor([1, 0]), 0)).toThrow(/maskedFill: shapes cannot be broadcast together/);
    expect(() => ops.maskedFill(tensor([1, 2]), tensor([[1, 0], [0, 1]]), 0)).toThrow(/maskedFill: mask of shape \[2,2\] must broadcast to the input's shape \[2\]/);
  });

  it('triu / tril keep a triangle of the last two dims, with any diagonal', () => {
    const x = randomTensor(rng, [2, dim(1, 5), dim(1, 5)]);
    const [R, C] = x.shape.slice(1);
    for (const k of [-2, -1, 0, 1, 3]) {
      const u = ops.triu(x, k);
      const l = ops.tril(x, k);
      for (const [b, i, j] of indices([2, R, C])) {
        expect(at(u, [b, i, j])).toBe(j - i >= k ? at(x, [b, i, j]) : 0);
        expect(at(l, [b, i, j])).toBe(j - i <= k ? at(x, [b, i, j]) : 0);
      }
      gradcheck(([t]) => ops.triu(t, k), [x], { label: label(`triu ${k}`) });
      gradcheck(([t]) => ops.tril(t, k), [x], { label: label(`tril ${k}`) });
    }
    expect(ops.causalMask(3).toArray()).toEqual([[0, 1, 1], [0, 0, 1], [0, 0, 0]]);
    expect(() => ops.triu(tensor([1, 2]))).toThrow(/triu: expected at least a 2-D tensor, got shape \[2\]/);
  });

  it('cumsum along every axis matches running sums; gradient checks', () => {
    const x = randomTensor(rng, [dim(1, 3), dim(1, 5), dim(1, 4)]);
    for (const axis of [0, 1, 2, -1]) {
      const a = axis < 0 ? axis + 3 : axis;
      const y = ops.cumsum(x, axis);
      for (const idx of indices(x.shape)) {
        let s = 0;
        for (let j = 0; j <= idx[a]; j++) {
          const p = idx.slice();
          p[a] = j;
          s += at(x, p);
        }
        expect(at(y, idx)).toBeCloseTo(s, 5);
      }
      gradcheck(([t]) => ops.cumsum(t, axis), [x], { label: label(`cumsum axis ${axis}`) });
    }
  });

  const bmmCases: [number[], number[]][] = [
    [[3, 4], [4, 2]],
    [[2, 3, 4], [2, 4, 5]],
    [[2, 3, 4], [4, 5]],
    [[3, 4], [2, 4, 5]],
    [[2, 1, 3, 4], [3, 4, 2]],
    [[1, 3, 4], [5, 4, 1]],
    [[2, 1, 1, 3], [1, 3, 3, 2]],
    [[4, 1, 17], [1, 17, 3]],
  ];
  it.each(bmmCases)('bmm / matmul broadcast %j x %j over leading dims', (sa, sb) => {
    const a = randomTensor(rng, sa);
    const b = randomTensor(rng, sb);
    const y = ops.bmm(a, b);
    const M = sa[sa.length - 2];
    const K = sa[sa.length - 1];
    const N = sb[sb.length - 1];
    const batch = y.shape.slice(0, -2);
    expect(y.shape).toEqual([...batch, M, N]);
    const pick = (t: Tensor, bIdx: number[], i: number, j: number): number => {
      const tb = t.shape.slice(0, -2);
      const local = tb.map((d, k) => (d === 1 ? 0 : bIdx[bIdx.length - tb.length + k]));
      return at(t, [...local, i, j]);
    };
    for (const idx of indices(y.shape)) {
      const bIdx = idx.slice(0, -2);
      const [i, j] = idx.slice(-2);
      let s = 0;
      for (let k = 0; k < K; k++) s += pick(a, bIdx, i, k) * pick(b, bIdx, k, j);
      expect(at(y, idx)).toBeCloseTo(s, 4);
    }
    expect(Array.from(ops.matmul(a, b).data)).toEqual(Array.from(y.data));
    gradcheck(([p, q]) => ops.bmm(p, q), [a, b], { label: label(`bmm ${JSON.stringify(sa)} x ${JSON.stringify(sb)}`) });
  });

  it('bmm names shapes that do not multiply or broadcast', () => {
    expect(() => ops.bmm(tensor([[1, 2]]), tensor([[1, 2]]))).toThrow(/bmm: inner dimensions differ: \[1,2\] x \[1,2\]/);
    expect(() => ops.matmul(randomTensor(rng, [2, 1, 2]), randomTensor(rng, [3, 2, 1]))).toThrow(/^matmul: batch dimensions differ: \[2,1,2\] x \[3,2,1\] \(leading dims must be equal or 1 to broadcast\)$/);
  });

  it('softmax / logSoftmax on any axis equal the last-axis op on the permuted tensor; gradients check', () => {
    const x = randomTensor(rng, [dim(1, 3), dim(2, 4), dim(2, 5)], { scale: 2 });
    for (const axis of [0, 1, -2]) {
      const y = ops.softmax(x, axis);
      const a = axis < 0 ? axis + 3 : axis;
      for (const idx of indices(x.shape)) {
        let z = 0;
        for (let j = 0; j < x.shape[a]; j++) {
          const p = idx.slice();
          p[a] = j;
          z += Math.exp(at(x, p));
        }
        expect(at(y, idx)).toBeCloseTo(Math.exp(at(x, idx)) / z, 5);
        expect(at(ops.logSoftmax(x, axis), idx)).toBeCloseTo(at(x, idx) - Math.log(z), 5);
      }
      gradcheck(([t]) => ops.softmax(t, axis), [x], { label: label(`softmax axis ${axis}`) });
      gradcheck(([t]) => ops.logSoftmax(t, axis), [x], { label: label(`logSoftmax axis ${axis}`) });
    }
  });

  it('topk returns the k largest (or smallest) along an axis with their indices; values carry a gradient', () => {
    const x = ladderTensor(rng, [dim(1, 3), dim(3, 7), dim(1, 3)]);
    for (const axis of [0, 1, 2]) {
      const len = x.shape[axis];
      for (const largest of [true, false]) {
        const k = dim(0, len);
        const { values, indices: pos } = ops.topk(x, k, { axis, largest });
        expect(pos).toBeInstanceOf(IntTensor);
        for (const idx of indices(values.shape)) {
          const column: number[] = [];
          for (let j = 0; j < len; j++) {
            const p = idx.slice();
            p[axis] = j;
            column.push(at(x, p));
          }
          const sorted = column.slice().sort((p, q) => (largest ? q - p : p - q));
          expect(at(values, idx)).toBe(sorted[idx[axis]]);
          let off = 0;
          for (let d = 0; d < idx.length; d++) off = off * values.shape[d] + idx[d];
          expect(column[pos.data[off]]).toBe(at(values, idx));
        }
        if (k > 0) gradcheck(([t]) => ops.topk(t, k, { axis, largest }).values, [x], { label: label(`topk axis ${axis}`) });
      }
    }
    expect(ops.topk(tensor([1, 3, 3, 2]), 2).indices.toArray()).toEqual([1, 2]);
    expect(() => ops.topk(tensor([1, 2]), 3)).toThrow(/topk: k 3 is larger than axis 0 of length 2/);
  });
});

describe('multinomial', () => {
  it('is reproducible with a seed and follows the weights', () => {
    const p = tensor([0.1, 0, 0.6, 0.3]);
    const a = ops.multinomial(p, 20000, { replacement: true, seed: 7 });
    const b = ops.multinomial(p, 20000, { replacement: true, seed: 7 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(a.shape).toEqual([20000]);
    const counts = [0, 0, 0, 0];
    for (const v of a.data) counts[v]++;
    expect(counts[1]).toBe(0);
    // Binomial standard deviation at n = 20000 is at most 0.0035: 0.015 is over 4 of them.
    expect(Math.abs(counts[0] / 20000 - 0.1)).toBeLessThan(0.015);
    expect(Math.abs(counts[2] / 20000 - 0.6)).toBeLessThan(0.015);
    expect(Math.abs(counts[3] / 20000 - 0.3)).toBeLessThan(0.015);
    const other = ops.multinomial(p, 50, { replacement: true, seed: 8 });
    expect(Array.from(other.data)).not.toEqual(Array.from(a.data.subarray(0, 50)));
  });
  it('without replacement draws each category at most once, per row', () => {
    const p = tensor([[1, 1, 1, 1, 1], [5, 0, 1, 0, 2]]);
    const s = ops.multinomial(p, 3, { seed: 3 });
    expect(s.shape).toEqual([2, 3]);
    for (let r = 0; r < 2; r++) expect(new Set(s.data.subarray(r * 3, r * 3 + 3)).size).toBe(3);
    expect([...s.data.subarray(3)].every((v) => v === 0 || v === 2 || v === 4)).toBe(true);
    expect(() => ops.multinomial(p, 4)).toThrow(/multinomial: cannot draw 4 samples without replacement from row 1, which has 3 categories of non-zero weight/);
    expect(() => ops.multinomial(tensor([1, -1]), 1)).toThrow(/row 0 has -1 at position 1/);
    expect(() => ops.multinomial(tensor([0, 0]), 1)).toThrow(/row 0 of probs sums to 0/);
    const g = new Rng(5);
    const first = ops.multinomial(tensor([1, 1, 1]), 1, { generator: g }).item();
    expect(ops.multinomial(tensor([1, 1, 1]), 1, { generator: new Rng(5) }).item()).toBe(first);
  });
});
