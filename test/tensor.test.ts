// Tensor construction, factories, shape bookkeeping and their error messages.
import { describe, expect, it } from 'vitest';
import { Tensor, arange, full, ones, rand, randn, tensor, zeros } from '../lib/tensor';
import { manualSeed } from '../lib/random';

describe('tensor()', () => {
  it('infers the shape of nested arrays and flattens row-major', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(t.size).toBe(6);
    expect(t.ndim).toBe(2);
  });

  it('accepts typed arrays with a shape, a scalar, and converts integer arrays', () => {
    const f = new Float32Array([1, 2, 3, 4]);
    const t = tensor(f, [2, 2]);
    expect(t.data).toBe(f); // a Float32Array is used as-is
    expect(t.toArray()).toEqual([[1, 2], [3, 4]]);
    const i = tensor(new Int32Array([7, 8]));
    expect(i.data).toBeInstanceOf(Float32Array);
    expect(i.shape).toEqual([2]);
    const s = tensor(3.5);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(3.5);
    expect(s.toArray()).toBe(3.5);
  });

  it('reports ragged arrays with the path of the bad element', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array: element at \[1\] has length 1, expected 2/);
    expect(() => tensor([[[1], [2]], [[3], [4, 5]]])).toThrow(/element at \[1,1\] has length 2, expected 1/);
    expect(() => tensor([[1, 2], 3] as never)).toThrow(/element at \[1\] is 3, expected an array of length 2/);
    expect(() => tensor([1, [2]] as never)).toThrow(/element at \[1\] is \[2\] \(an array\), expected a number \(ragged nested array\?\)/);
  });

  it('rejects a shape the data cannot fill', () => {
    expect(() => tensor(new Float32Array(5), [2, 3])).toThrow(/5 values do not fill shape \[2,3\]/);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/do not fill shape \[2,2\]/);
  });
});

describe('factories', () => {
  it('zeros / ones / full / arange', () => {
    expect(Array.from(zeros([2, 2]).data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(ones([3]).data)).toEqual([1, 1, 1]);
    expect(full([2], 7).toArray()).toEqual([7, 7]);
    expect(arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(() => zeros([2, -1])).toThrow(/zeros: invalid shape \[2,-1\]/);
    expect(() => arange(0, 3, 0)).toThrow(/arange: step/);
  });

  it('randn and rand are reproducible with a seed and differ across seeds', () => {
    const a = randn([1000], { seed: 42 });
    const b = randn([1000], { seed: 42 });
    const c = randn([1000], { seed: 43 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    // Moments of 1000 standard normals: mean within ~4.5 sigma of 0, variance near 1.
    const mean = a.data.reduce((s, v) => s + v, 0) / a.size;
    const variance = a.data.reduce((s, v) => s + (v - mean) ** 2, 0) / a.size;
    expect(Math.abs(mean)).toBeLessThan(0.15);
    expect(variance).toBeGreaterThan(0.8);
    expect(variance).toBeLessThan(1.2);
    const u = rand([500], { seed: 1, low: -2, high: 3 });
    expect(Math.min(...u.data)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u.data)).toBeLessThan(3);
    expect(Array.from(rand([5], { seed: 9 }).data)).toEqual(Array.from(rand([5], { seed: 9 }).data));
  });

  it('manualSeed makes unseeded factories reproducible', () => {
    manualSeed(5);
    const a = randn([10]);
    manualSeed(5);
    const b = randn([10]);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });
});

describe('shape bookkeeping', () => {
  it('reshape keeps the data and infers -1', () => {
    const t = arange(6).reshape(2, 3);
    expect(t.toArray()).toEqual([[0, 1, 2], [3, 4, 5]]);
    expect(t.reshape(-1, 2).shape).toEqual([3, 2]);
    expect(t.reshape([6]).shape).toEqual([6]);
  });

  it('reshape errors name both shapes', () => {
    expect(() => arange(6).reshape(4, 2)).toThrow('reshape: cannot reshape [6] (6 elements) into [4,2] (8 elements)');
    expect(() => arange(6).reshape(-1, 4)).toThrow(/reshape: cannot reshape \[6\]/);
  });

  it('transpose (2-D and batched over the last two dims)', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.transpose().toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    const b = arange(12).reshape(2, 2, 3);
    expect(b.transpose().toArray()).toEqual([
      [[0, 3], [1, 4], [2, 5]],
      [[6, 9], [7, 10], [8, 11]],
    ]);
    expect(() => arange(3).transpose()).toThrow(/transpose: expected at least 2 dimensions, got shape \[3\]/);
  });

  it('a transpose of a large odd-sized matrix matches the index formula', () => {
    const R = 37;
    const C = 70;
    const t = arange(R * C).reshape(R, C).transpose();
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) expect(t.data[c * R + r]).toBe(r * C + c);
  });

  it('slice and indexRows', () => {
    const t = arange(12).reshape(4, 3);
    expect(t.slice(1, 3).toArray()).toEqual([[3, 4, 5], [6, 7, 8]]);
    expect(t.slice(-1).toArray()).toEqual([[9, 10, 11]]);
    expect(t.indexRows(new Int32Array([3, 0, 3])).toArray()).toEqual([[9, 10, 11], [0, 1, 2], [9, 10, 11]]);
    expect(() => t.indexRows([4])).toThrow('indexRows: index 4 at position 0 is out of range [0, 4) for shape [4,3]');
  });

  it('detach shares data without the graph; clone copies', () => {
    const t = tensor([1, 2], undefined, { requiresGrad: true });
    const d = t.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.data).toBe(t.data);
    const c = t.clone();
    c.data[0] = 9;
    expect(t.data[0]).toBe(1);
  });

  it('item() on a multi-element tensor throws', () => {
    expect(() => tensor([1, 2]).item()).toThrow('item: tensor of shape [2] has 2 elements, expected 1');
  });

  it('Tensor constructor validates the data length', () => {
    expect(() => new Tensor(new Float32Array(3), [2, 2])).toThrow('Tensor: data has 3 elements, shape [2,2] needs 4');
  });
});
