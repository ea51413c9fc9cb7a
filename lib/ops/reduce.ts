// Reductions: sum and mean (over everything or one axis) and max over an axis, with backward rules.
import { getBackend } from '../backend/select';
import { record } from '../autograd';
import { Tensor, shapeToString } from '../tensor';
import { gradBuffer, outputBuffer } from '../buffer-pool';
import { checkBoolean, checkTensor, invalid } from '../validate';

/** Normalises a possibly negative axis, or throws naming the op and the shape. */
export function normalizeAxis(op: string, axis: number, ndim: number, shape: readonly number[]): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) invalid(op, 'axis', 'an integer', axis);
  const a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim) {
    const valid = ndim === 0 ? 'a 0-d tensor has no axis' : `valid: ${-ndim} to ${ndim - 1}`;
    throw new Error(`${op}: axis ${axis} is out of range for shape ${shapeToString(shape)} (${valid})`);
  }
  return a;
}

/** Checks a reduction's input and keepDims flag. */
function checkReduceArgs(op: string, x: Tensor, keepDims: unknown): void {
  checkTensor(op, 'input', x);
  checkBoolean(op, 'keepDims', keepDims);
}

/** Splits a shape around an axis: [outer, len, inner] element counts. */
function splitAt(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

function reducedShape(shape: readonly number[], axis: number, keepDims: boolean): number[] {
  const s = shape.slice();
  if (keepDims) s[axis] = 1;
  else s.splice(axis, 1);
  return s;
}

/** Sums x over [outer, len, inner] along the middle dimension into out [outer, inner] (kernels only). */
function sumAxisData(x: Float32Array, outer: number, len: number, inner: number, out: Float32Array): void {
  const backend = getBackend();
  if (outer === 0 || len === 0 || inner === 0) return;
  if (inner === 1) {
    backend.rowSum(outer, len, x, out);
    return;
  }
  for (let o = 0; o < outer; o++) {
    backend.colSum(len, inner, x.subarray(o * len * inner, (o + 1) * len * inner), out.subarray(o * inner, (o + 1) * inner));
  }
}

/** Repeats g [outer, inner] along a middle dimension of length len, times scale. */
function spreadAxis(g: Float32Array, outer: number, len: number, inner: number, scale: number): Float32Array {
  const out = gradBuffer(outer * len * inner);
  for (let o = 0; o < outer; o++) {
    const src = g.subarray(o * inner, (o + 1) * inner);
    for (let l = 0; l < len; l++) out.set(src, (o * len + l) * inner);
  }
  if (scale !== 1) getBackend().scale(out.length, out, scale, out);
  return out;
}

function reduceSum(op: 'sum' | 'mean', x: Tensor, axis: number | undefined, keepDims: boolean): Tensor {
  checkReduceArgs(op, x, keepDims);
  const backend = getBackend();
  if (axis === undefined) {
    const n = x.size;
    const scale = op === 'mean' ? 1 / n : 1;
    const total = n > 0 ? backend.sum(n, x.data) * scale : op === 'mean' ? NaN : 0;
    const shape = keepDims ? x.shape.map(() => 1) : [];
    const value = outputBuffer(1);
    value[0] = total;
    return record(new Tensor(value, shape), op, [x], (g) => [gradBuffer(n).fill(g[0] * scale)]);
  }
  const a = normalizeAxis(op, axis, x.ndim, x.shape);
  const [outer, len, inner] = splitAt(x.shape, a);
  const out = outputBuffer(outer * inner);
  if (outer * inner > 0 && (len === 0 || inner === 0 || outer === 0)) out.fill(0);
  sumAxisData(x.data, outer, len, inner, out);
  const scale = op === 'mean' ? 1 / len : 1;
  if (scale !== 1) backend.scale(out.length, out, scale, out);
  return record(new Tensor(out, reducedShape(x.shape, a, keepDims)), op, [x], (g) => [
    spreadAxis(g, outer, len, inner, scale),
  ]);
}

/** Sum over all elements (a 0-d tensor), or over one axis. */
export function sum(x: Tensor, axis?: number, keepDims = false): Tensor {
  return reduceSum('sum', x, axis, keepDims);
}

/** Mean over all elements (a 0-d tensor), or over one axis. */
export function mean(x: Tensor, axis?: number, keepDims = false): Tensor {
  return reduceSum('mean', x, axis, keepDims);
}

/** Max over one axis (or over everything). The gradient flows to the first maximal element. */
export function max(x: Tensor, axis?: number, keepDims = false): Tensor {
  checkReduceArgs('max', x, keepDims);
  if (x.size === 0) throw new Error(`max: empty tensor of shape ${shapeToString(x.shape)}`);
  let outer: number;
  let len: number;
  let inner: number;
  let shape: number[];
  if (axis === undefined) {
    [outer, len, inner] = [1, x.size, 1];
    shape = keepDims ? x.shape.map(() => 1) : [];
  } else {
    const a = normalizeAxis('max', axis, x.ndim, x.shape);
    [outer, len, inner] = splitAt(x.shape, a);
    shape = reducedShape(x.shape, a, keepDims);
  }
  // No max kernel: a plain loop that also records the winning index for the backward pass.
  const d = x.data;
  const out = new Float32Array(outer * inner);
  const argmax = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let best = d[base];
      let bestIdx = base;
      for (let l = 1; l < len; l++) {
        const v = d[base + l * inner];
        if (v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
          best = v;
          bestIdx = base + l * inner;
        }
      }
      out[o * inner + i] = best;
      argmax[o * inner + i] = bestIdx;
    }
  }
  return record(new Tensor(out, shape), 'max', [x], (g) => {
    const dx = new Float32Array(x.size);
    for (let k = 0; k < argmax.length; k++) dx[argmax[k]] += g[k];
    return [dx];
  });
}
