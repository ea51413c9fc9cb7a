// Shape ops: reshape, flatten, transpose (last two dims), concat, row slicing and row gathering.
import { isTracing, record } from '../autograd';
import { Tensor, shapeToString, sizeOf } from '../tensor-core';
import { normalizeAxis } from './reduce';
import { argumentError, checkTensor, describe, invalid } from '../validate';

/**
 * Same data, new shape (one dimension may be -1 and is inferred). Shares the data array.
 * @param x the input tensor.
 * @param shape the new shape (one dimension may be -1, inferred).
 * @returns a tensor sharing x's data.
 * @throws Error when x is not a Tensor, shape is not an array of non-negative integers with at most one -1, or the element counts differ.
 * @example reshape(arange(6), [2, -1]) // [[0, 1, 2], [3, 4, 5]]
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', 'input', x);
  if (!Array.isArray(shape as unknown)) invalid('reshape', 'shape', 'an array of integers such as [2, -1]', shape);
  const s = shape.slice();
  const inferAt = s.indexOf(-1);
  if (inferAt !== s.lastIndexOf(-1)) {
    throw new Error(`reshape: only one dimension can be -1, got ${shapeToString(s)}`);
  }
  s.forEach((d: unknown, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || (d < 0 && d !== -1)) {
      throw argumentError('reshape', `dimension ${i} of the target shape is ${describe(d)}, expected a non-negative integer (or -1 once, inferred)`);
    }
  });
  if (inferAt >= 0) {
    const known = sizeOf(s.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) {
      throw new Error(`reshape: cannot reshape ${shapeToString(x.shape)} (${x.size} elements) into ${shapeToString(shape)}`);
    }
    s[inferAt] = x.size / known;
  }
  if (sizeOf(s) !== x.size) {
    throw new Error(
      `reshape: cannot reshape ${shapeToString(x.shape)} (${x.size} elements) into ${shapeToString(s)} (${sizeOf(s)} elements)`,
    );
  }
  return record(new Tensor(x.data, s), 'reshape', [x], (g) => [g]);
}

/**
 * Keeps dimensions before startDim and flattens the rest into one: [B, C, H, W] -> [B, C*H*W].
 * @param x the input tensor.
 * @param startDim the first dimension folded (default 1).
 * @throws Error when x is not a Tensor or startDim is out of range.
 * @example flatten(zeros([2, 3, 4])).shape // [2, 12]
 */
export function flatten(x: Tensor, startDim = 1): Tensor {
  checkTensor('flatten', 'input', x);
  if (x.ndim === 0) return reshape(x, [1]);
  const start = normalizeAxis('flatten', startDim, x.ndim, x.shape);
  return reshape(x, [...x.shape.slice(0, start), sizeOf(x.shape.slice(start))]);
}

/** Transposes each [R, C] matrix of x (viewed as [batch, R, C]) into out. */
function transposeData(x: Float32Array, batch: number, R: number, C: number): Float32Array {
  const out = new Float32Array(x.length);
  const B = 32; // tile edge: keeps both the read and the write side in cache
  for (let b = 0; b < batch; b++) {
    const off = b * R * C;
    for (let r0 = 0; r0 < R; r0 += B) {
      const r1 = Math.min(R, r0 + B);
      for (let c0 = 0; c0 < C; c0 += B) {
        const c1 = Math.min(C, c0 + B);
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) out[off + c * R + r] = x[off + r * C + c];
        }
      }
    }
  }
  return out;
}

/**
 * 2-D transpose; for more dimensions, swaps the last two (batched transpose).
 * @param x the input tensor, at least 2-D.
 * @throws Error when x is not a Tensor or has fewer than 2 dimensions.
 * @example transpose(tensor([[1, 2, 3]])) // [[1], [2], [3]]
 */
export function transpose(x: Tensor): Tensor {
  checkTensor('transpose', 'input', x);
  if (x.ndim < 2) throw new Error(`transpose: expected at least 2 dimensions, got shape ${shapeToString(x.shape)}`);
  const R = x.shape[x.ndim - 2];
  const C = x.shape[x.ndim - 1];
  const batch = sizeOf(x.shape.slice(0, -2));
  const out = transposeData(x.data, batch, R, C);
  const shape = [...x.shape.slice(0, -2), C, R];
  return record(new Tensor(out, shape), 'transpose', [x], (g) => [transposeData(g, batch, C, R)]);
}

/**
 * Concatenates tensors along an axis; all other dimensions must match.
 * @param tensors the tensors (at least one), of equal shapes except along axis.
 * @param axis the axis joined along (default 0).
 * @throws Error when tensors is not a non-empty array of Tensors, axis is out of range, or the other dimensions differ.
 * @example concat([zeros([2, 3]), ones([1, 3])]).shape // [3, 3]
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors as unknown)) invalid('concat', 'tensors', 'an array of Tensors', tensors);
  if (tensors.length === 0) throw new Error('concat: needs at least one tensor');
  tensors.forEach((t, i) => checkTensor('concat', `tensors[${i}]`, t));
  const first = tensors[0];
  const a = normalizeAxis('concat', axis, first.ndim, first.shape);
  for (const t of tensors) {
    const ok = t.ndim === first.ndim && t.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!ok) {
      throw new Error(
        `concat: shapes differ outside axis ${a}: ${tensors.map((u) => shapeToString(u.shape)).join(', ')}`,
      );
    }
  }
  let outer = 1;
  for (let i = 0; i < a; i++) outer *= first.shape[i];
  const inner = sizeOf(first.shape.slice(a + 1));
  const lens = tensors.map((t) => t.shape[a]);
  const total = lens.reduce((s, l) => s + l, 0);
  const shape = first.shape.slice();
  shape[a] = total;
  const out = new Float32Array(outer * total * inner);
  let offset = 0;
  for (let k = 0; k < tensors.length; k++) {
    const chunk = lens[k] * inner;
    const src = tensors[k].data;
    for (let o = 0; o < outer; o++) out.set(src.subarray(o * chunk, (o + 1) * chunk), o * total * inner + offset);
    offset += chunk;
  }
  return record(new Tensor(out, shape), 'concat', tensors.slice(), (g) => {
    const grads: (Float32Array | null)[] = [];
    let off = 0;
    for (let k = 0; k < tensors.length; k++) {
      const chunk = lens[k] * inner;
      if (tensors[k].requiresGrad) {
        const gk = new Float32Array(outer * chunk);
        for (let o = 0; o < outer; o++) gk.set(g.subarray(o * total * inner + off, o * total * inner + off + chunk), o * chunk);
        grads.push(gk);
      } else {
        grads.push(null);
      }
      off += chunk;
    }
    return grads;
  }, isTracing() ? { axis: a } : undefined);
}

/**
 * Rows [start, end) along the first dimension, copied (negative indices count from the end; clamped like
 * Array.slice, so a range may be empty). Differentiable.
 * @param x a Tensor of at least 1 dimension.
 * @param start the first row, an integer.
 * @param end one past the last row, an integer (default: all rows).
 * @returns a Tensor [end - start, ...x.shape.slice(1)].
 * @throws Error when x is not a Tensor, is 0-d, or start or end is not an integer.
 * @example ops.slice(zeros([10, 3]), 2, 5).shape // [3, 3]
 */
export function slice(x: Tensor, start: number, end?: number): Tensor {
  checkTensor('slice', 'input', x);
  if (x.ndim < 1) throw new Error(`slice: cannot slice a 0-d tensor`);
  const rows = x.shape[0];
  if (typeof start !== 'number' || !Number.isInteger(start)) invalid('slice', 'start', 'an integer', start);
  if (end !== undefined && (typeof end !== 'number' || !Number.isInteger(end))) invalid('slice', 'end', 'an integer (or omitted)', end);
  const clamp = (i: number): number => Math.min(rows, Math.max(0, i < 0 ? i + rows : i));
  const s = clamp(start);
  const e = Math.max(s, clamp(end ?? rows));
  const rowSize = rows === 0 ? 0 : x.size / rows;
  const out = x.data.slice(s * rowSize, e * rowSize);
  return record(new Tensor(out, [e - s, ...x.shape.slice(1)]), 'slice', [x], (g) => {
    const dx = new Float32Array(x.size);
    dx.set(g, s * rowSize);
    return [dx];
  }, isTracing() ? { start: s, end: e } : undefined);
}

/**
 * Gathers rows of x along the first dimension: out[i] = x[indices[i]] (rows may repeat; the backward adds
 * their gradients). Differentiable in x.
 * @param x a Tensor of at least 1 dimension.
 * @param indices row numbers in [0, x.shape[0]): an Int32Array or an array of integers.
 * @returns a Tensor [indices.length, ...x.shape.slice(1)].
 * @throws Error when x is not a Tensor, is 0-d, indices is neither an Int32Array nor an array, or an index is
 * not an integer in range (its position is named).
 * @example ops.indexRows(tensor([[1, 2], [3, 4]]), [1, 1, 0]).toArray() // [[3, 4], [3, 4], [1, 2]]
 */
export function indexRows(x: Tensor, indices: Int32Array | readonly number[]): Tensor {
  checkTensor('indexRows', 'input', x);
  if (x.ndim < 1) throw new Error(`indexRows: cannot index a 0-d tensor`);
  if (!(indices instanceof Int32Array) && !Array.isArray(indices as unknown)) {
    invalid('indexRows', 'indices', 'an Int32Array or an array of row indices', indices);
  }
  const rows = x.shape[0];
  const rowSize = rows === 0 ? 0 : x.size / rows;
  const idx = indices instanceof Int32Array ? indices : Int32Array.from(indices);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (!Number.isInteger(r) || r < 0 || r >= rows) {
      throw new Error(`indexRows: index ${describe(r)} at position ${i} is out of range [0, ${rows}) for shape ${shapeToString(x.shape)}`);
    }
  }
  const out = new Float32Array(idx.length * rowSize);
  for (let i = 0; i < idx.length; i++) out.set(x.data.subarray(idx[i] * rowSize, (idx[i] + 1) * rowSize), i * rowSize);
  return record(new Tensor(out, [idx.length, ...x.shape.slice(1)]), 'indexRows', [x], (g) => {
    const dx = new Float32Array(x.size);
    for (let i = 0; i < idx.length; i++) {
      const dst = idx[i] * rowSize;
      const src = i * rowSize;
      for (let j = 0; j < rowSize; j++) dx[dst + j] += g[src + j];
    }
    return [dx];
  }, isTracing() ? { axis: 0, indices: idx } : undefined);
}
