// Numpy-style broadcasting: the result shape, expanding data to it, and summing gradients back.
import { getBackend } from '../backend/select';
import { shapeToString, sizeOf } from '../tensor-core';
import { checkElementCount, checkShape, invalid } from '../validate';

/**
 * The broadcast shape of a and b (numpy rules: aligned from the right, each pair of dimensions equal or one of them 1).
 * @param op the operation's name, used in the error message.
 * @param a the first shape.
 * @param b the second shape.
 * @returns a new array: the broadcast shape.
 * @throws Error when op is not a string, a or b is not an array of non-negative integers, or the shapes do not
 * broadcast (the message names op and both shapes).
 * @example ops.broadcastShapes('add', [2, 1, 3], [4, 3]) // [2, 4, 3]
 */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  if (typeof op !== 'string') invalid('broadcastShapes', 'op (the name errors use)', 'a string', op);
  checkShape('broadcastShapes', a, 'first shape');
  checkShape('broadcastShapes', b, 'second shape');
  return broadcastShapeOf(op, a, b);
}

/** broadcastShapes for two valid shapes (the ops' path: tensors' shapes are already checked). */
export function broadcastShapeOf(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes cannot be broadcast together: ${shapeToString(a)} and ${shapeToString(b)}`);
    }
    out[i] = da === 1 ? db : da;
  }
  checkElementCount(op, out, 'the broadcast result shape');
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Strides of `from` (left-padded to `to`'s rank) with 0 where a dimension is broadcast. */
function broadcastStrides(from: readonly number[], to: readonly number[]): number[] {
  const n = to.length;
  const strides = new Array<number>(n).fill(0);
  let stride = 1;
  for (let i = n - 1; i >= 0; i--) {
    const j = i - (n - from.length);
    const d = j >= 0 ? from[j] : 1;
    strides[i] = d === 1 ? 0 : stride;
    stride *= d;
  }
  return strides;
}

/**
 * Data of shape `from` expanded to shape `to` (which it must broadcast to). Returns the input
 * array itself when nothing needs expanding.
 */
export function expandData(data: Float32Array, from: readonly number[], to: readonly number[]): Float32Array {
  const total = sizeOf(to);
  if (data.length === total) return data;
  const out = new Float32Array(total);
  if (data.length === 1) return out.fill(data[0]);
  const n = to.length;
  const strides = broadcastStrides(from, to);
  // Copy the innermost dimension in a tight loop; walk the outer ones with a counter.
  const inner = to[n - 1];
  const innerStride = strides[n - 1];
  const outer = total / inner;
  const idx = new Array<number>(n).fill(0);
  let src = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * inner;
    if (innerStride === 0) out.fill(data[src], base, base + inner);
    else out.set(data.subarray(src, src + inner), base);
    src = advance(idx, to, strides, n - 2, src); // the outer counter (dimensions n-2 .. 0)
  }
  return out;
}

/**
 * Steps the counter idx over dims (dimensions `last` .. 0, the last fastest) and returns the offset
 * pos moved by the strides (a dimension that wraps to 0 takes back its whole span).
 */
function advance(idx: number[], dims: readonly number[], strides: readonly number[], last: number, pos: number): number {
  for (let d = last; d >= 0; d--) {
    idx[d]++;
    pos += strides[d];
    if (idx[d] < dims[d]) break;
    pos -= strides[d] * dims[d];
    idx[d] = 0;
  }
  return pos;
}

/**
 * Sums a gradient of shape `from` (the broadcast result) back to shape `to` (an op input), over
 * the broadcast dimensions. Returns the input array itself when the shapes have the same size.
 */
export function reduceToShape(grad: Float32Array, from: readonly number[], to: readonly number[]): Float32Array {
  const total = grad.length;
  const want = sizeOf(to);
  if (want === total) return grad;
  const backend = getBackend();
  if (want === 1) return new Float32Array([backend.sum(total, grad)]);
  const out = new Float32Array(want);
  // Fast path: `to` (ignoring leading 1s) is a suffix of `from`: column sums of [total/want, want].
  const stripped = to.slice(to.findIndex((d) => d !== 1));
  if (sameShape(stripped, from.slice(from.length - stripped.length))) {
    backend.colSum(total / want, want, grad, out);
    return out;
  }
  // Fast path: `to` is a prefix of `from` followed by 1s: row sums of [want, total/want].
  const padded = new Array<number>(from.length - to.length).fill(1).concat(to);
  let k = padded.length;
  while (k > 0 && padded[k - 1] === 1) k--;
  if (sameShape(padded.slice(0, k), from.slice(0, k))) {
    backend.rowSum(want, total / want, grad, out);
    return out;
  }
  // General case: accumulate with broadcast strides (zero stride = summed dimension).
  const n = from.length;
  const strides = broadcastStrides(to, from);
  const idx = new Array<number>(n).fill(0);
  let dst = 0;
  for (let i = 0; i < total; i++) {
    out[dst] += grad[i];
    dst = advance(idx, from, strides, n - 1, dst);
  }
  return out;
}
