// Shape ops on any axis: squeeze/unsqueeze (views), stack, narrow (a range of an axis) and indexSelect (gather along an axis).
import { isTracing, record } from '../autograd';
import { Tensor, shapeToString, sizeOf } from '../tensor-core';
import { IntTensor } from '../int-tensor';
import { normalizeAxis } from './reduce';
import { concat, reshape } from './shape';
import { argumentError, checkNumber, checkTensor, describe, invalid } from '../validate';

/**
 * The shape without size-1 dimensions (all of them, or just `axis` when it has size 1, as in PyTorch). Shares the data.
 * @param x the input tensor.
 * @param axis the one axis to drop if it has size 1 (default: every size-1 axis).
 * @throws Error when x is not a Tensor or axis is out of range.
 * @example squeeze(zeros([1, 3, 1])).shape // [3]
 */
export function squeeze(x: Tensor, axis?: number): Tensor {
  checkTensor('squeeze', 'input', x);
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  if (x.ndim === 0) {
    // PyTorch accepts axis 0 and -1 on a 0-d tensor (a no-op).
    if (axis !== 0 && axis !== -1) normalizeAxis('squeeze', axis, 0, x.shape);
    return reshape(x, []);
  }
  const a = normalizeAxis('squeeze', axis, x.ndim, x.shape);
  if (x.shape[a] !== 1) return reshape(x, x.shape);
  return reshape(x, [...x.shape.slice(0, a), ...x.shape.slice(a + 1)]);
}

/** A position for a new axis in a tensor of `shape`: an integer in [-ndim-1, ndim] (negative counts from the end). */
function newAxis(op: string, axis: unknown, shape: readonly number[]): number {
  const n = shape.length + 1;
  if (typeof axis !== 'number' || !Number.isInteger(axis)) invalid(op, 'axis', 'an integer', axis);
  const a = axis < 0 ? axis + n : axis;
  if (a < 0 || a >= n) {
    throw new Error(`${op}: axis ${axis} is out of range for a new axis of shape ${shapeToString(shape)} (valid: ${-n} to ${n - 1})`);
  }
  return a;
}

/**
 * A new size-1 dimension inserted at `axis` (in [-ndim-1, ndim], as in PyTorch). Shares the data.
 * @param x the input tensor.
 * @param axis where the new axis goes, in [-ndim-1, ndim].
 * @throws Error when x is not a Tensor or axis is out of range.
 * @example unsqueeze(zeros([3]), 0).shape // [1, 3]
 */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  checkTensor('unsqueeze', 'input', x);
  const a = newAxis('unsqueeze', axis, x.shape);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/**
 * Joins tensors of one shape along a new axis (in [-ndim-1, ndim]): n tensors of [A, B] stacked at 0 give [n, A, B].
 * @param tensors the tensors (at least one), all of one shape.
 * @param axis where the new axis goes, in [-ndim-1, ndim] (default 0).
 * @throws Error when tensors is not a non-empty array of Tensors, axis is out of range, or the shapes differ.
 * @example stack([zeros([2]), ones([2])]) // [[0, 0], [1, 1]]
 */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors as unknown)) invalid('stack', 'tensors', 'an array of Tensors', tensors);
  if (tensors.length === 0) throw new Error('stack: needs at least one tensor');
  tensors.forEach((t, i) => checkTensor('stack', `tensors[${i}]`, t));
  const first = tensors[0];
  tensors.forEach((t, i) => {
    if (t.ndim !== first.ndim || t.shape.some((d, j) => d !== first.shape[j])) {
      throw new Error(`stack: every tensor must have the same shape; tensors[0] is ${shapeToString(first.shape)}, tensors[${i}] is ${shapeToString(t.shape)}`);
    }
  });
  const a = newAxis('stack', axis, first.shape);
  return concat(tensors.map((t) => unsqueeze(t, a)), a);
}

/** [outer, len, inner] element counts around axis a. */
function around(shape: readonly number[], a: number): [number, number, number] {
  return [sizeOf(shape.slice(0, a)), shape[a], sizeOf(shape.slice(a + 1))];
}

/**
 * Gathers positions `pick[j]` of axis a into a new tensor (the axis gets length pick.length), with
 * the scatter-add backward rule.
 */
function gatherAxis(op: string, x: Tensor, a: number, pick: Int32Array): Tensor {
  const [outer, len, inner] = around(x.shape, a);
  const n = pick.length;
  const out = new Float32Array(outer * n * inner);
  const d = x.data;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const src = (o * len + pick[j]) * inner;
      const dst = (o * n + j) * inner;
      // Short runs (columns of a matrix: inner 1) element by element; a subarray per run costs more.
      if (inner < 32) for (let k = 0; k < inner; k++) out[dst + k] = d[src + k];
      else out.set(d.subarray(src, src + inner), dst);
    }
  }
  const shape = x.shape.slice();
  shape[a] = n;
  return record(new Tensor(out, shape), op, [x], (g) => {
    const dx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < n; j++) {
        const dst = (o * len + pick[j]) * inner;
        const src = (o * n + j) * inner;
        for (let k = 0; k < inner; k++) dx[dst + k] += g[src + k];
      }
    }
    return [dx];
  }, isTracing() ? { axis: a, indices: pick } : undefined);
}

function checkAxisOf(op: string, x: Tensor, axis: unknown): number {
  if (x.ndim === 0) throw new Error(`${op}: cannot index a 0-d tensor (shape [])`);
  return normalizeAxis(op, axis as number, x.ndim, x.shape);
}

/**
 * `length` consecutive positions of `axis` from `start` (negative start counts from the end), like
 * torch.narrow: x.narrow(1, 2, 3) is columns 2..4 of a matrix. Out-of-range ranges are an Error.
 * @param x the input tensor.
 * @param axis the axis narrowed.
 * @param start the first position (negative counts from the end).
 * @param length positions kept, an integer >= 0.
 * @throws Error when x is not a Tensor, axis is out of range, start or length is not an integer, or the range leaves the axis.
 * @example narrow(arange(10), 0, 2, 3) // [2, 3, 4]
 */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  checkTensor('narrow', 'input', x);
  const a = checkAxisOf('narrow', x, axis);
  const len = x.shape[a];
  checkNumber('narrow', 'start', start, { integer: true });
  checkNumber('narrow', 'length', length, { integer: true, min: 0 });
  const s = start < 0 ? start + len : start;
  if (s < 0 || s > len || s + length > len) {
    throw argumentError(
      'narrow', `start ${describe(start)} with length ${describe(length)} is out of range for axis ${axis} of length ${len} (shape ${shapeToString(x.shape)})`,
    );
  }
  const pick = new Int32Array(length);
  for (let j = 0; j < length; j++) pick[j] = s + j;
  return gatherAxis('narrow', x, a, pick);
}

/**
 * The positions `indices` of `axis` (repeats allowed, negative indices count from the end), like
 * torch.index_select: x.indexSelect(1, [0, 2]) picks columns 0 and 2.
 * @param x the input tensor.
 * @param axis the axis indexed.
 * @param indices positions along axis (repeats allowed, negative counts from the end): an Int32Array, an array of integers, or a 1-D Tensor or IntTensor.
 * @throws Error when x is not a Tensor, axis is out of range, or indices has the wrong type or a position out of range.
 * @example indexSelect(tensor([[1, 2, 3]]), 1, [2, 0]) // [[3, 1]]
 */
export function indexSelect(x: Tensor, axis: number, indices: Int32Array | readonly number[] | Tensor | IntTensor): Tensor {
  checkTensor('indexSelect', 'input', x);
  const a = checkAxisOf('indexSelect', x, axis);
  let list: ArrayLike<number>;
  if (indices instanceof Int32Array || Array.isArray(indices)) list = indices as ArrayLike<number>;
  else if ((indices instanceof Tensor || indices instanceof IntTensor) && indices.ndim <= 1) list = indices.data;
  else invalid('indexSelect', 'indices', 'an Int32Array, an array of integers or a 1-D Tensor or IntTensor of integer values', indices);
  const len = x.shape[a];
  const pick = new Int32Array(list.length);
  for (let j = 0; j < list.length; j++) {
    const i = list[j];
    if (typeof i !== 'number' || !Number.isInteger(i) || i < -len || i >= len) {
      throw argumentError(
        'indexSelect', `index ${describe(i)} at position ${j} is out of range for axis ${axis} of length ${len} (shape ${shapeToString(x.shape)})`,
      );
    }
    pick[j] = i < 0 ? i + len : i;
  }
  return gatherAxis('indexSelect', x, a, pick);
}
