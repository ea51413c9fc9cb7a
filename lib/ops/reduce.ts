// Reductions: sum and mean (over everything or one axis), max/min and argmax/argmin over an axis or everything, with backward rules.
import { getBackend } from '../backend/select';
import { isTracing, record, traced } from '../autograd';
import { Tensor, shapeToString } from '../tensor-core';
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
    return record(new Tensor(value, shape), op, [x], (g) => [gradBuffer(n).fill(g[0] * scale)], isTracing() ? { axis: null, keepDims } : undefined);
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
  ], isTracing() ? { axis: a, keepDims } : undefined);
}

/**
 * Sum over all elements (a 0-d tensor), or over one axis.
 * @param x the input tensor.
 * @param axis the axis reduced (negative counts from the end); default: all elements.
 * @param keepDims keep the reduced axis with size 1 (default false).
 * @returns the sum.
 * @throws Error when x is not a Tensor or axis is not an integer in [-ndim, ndim).
 * @example sum(tensor([[1, 2], [3, 4]]), 0) // [4, 6]
 */
export function sum(x: Tensor, axis?: number, keepDims = false): Tensor {
  return reduceSum('sum', x, axis, keepDims);
}

/**
 * Mean over all elements (a 0-d tensor), or over one axis.
 * @param x the input tensor.
 * @param axis the axis reduced (negative counts from the end); default: all elements.
 * @param keepDims keep the reduced axis with size 1 (default false).
 * @returns the mean.
 * @throws Error when x is not a Tensor or axis is not an integer in [-ndim, ndim).
 * @example mean(tensor([[1, 2], [3, 4]]), 1) // [1.5, 3.5]
 */
export function mean(x: Tensor, axis?: number, keepDims = false): Tensor {
  return reduceSum('mean', x, axis, keepDims);
}

/** [outer, len, inner] and the result shape of a reduction over `axis` (or over everything). */
function reductionLayout(op: string, x: Tensor, axis: number | undefined, keepDims: boolean): { outer: number; len: number; inner: number; shape: number[] } {
  if (axis === undefined) return { outer: 1, len: x.size, inner: 1, shape: keepDims ? x.shape.map(() => 1) : [] };
  const a = normalizeAxis(op, axis, x.ndim, x.shape);
  const [outer, len, inner] = splitAt(x.shape, a);
  return { outer, len, inner, shape: reducedShape(x.shape, a, keepDims) };
}

/**
 * The flat index into x of the largest (or smallest) element of each reduced slice: the first one
 * on ties, and the first NaN when the slice holds one (NaN wins, as in PyTorch).
 */
function extremeIndices(op: string, x: Tensor, outer: number, len: number, inner: number, largest: boolean): Int32Array {
  if (len === 0) throw new Error(`${op}: cannot reduce over an empty dimension (shape ${shapeToString(x.shape)})`);
  const d = x.data;
  const idx = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let best = d[base];
      let bestIdx = base;
      for (let l = 1; l < len && !Number.isNaN(best); l++) {
        const v = d[base + l * inner];
        if ((largest ? v > best : v < best) || Number.isNaN(v)) {
          best = v;
          bestIdx = base + l * inner;
        }
      }
      idx[o * inner + i] = bestIdx;
    }
  }
  return idx;
}

/** The flat index of the largest (or smallest) element of each reduced slice, with the output layout. */
function picks(op: string, x: Tensor, axis: number | undefined, keepDims: boolean, largest: boolean) {
  checkReduceArgs(op, x, keepDims);
  if (x.size === 0) throw new Error(`${op}: empty tensor of shape ${shapeToString(x.shape)}`);
  const { outer, len, inner, shape } = reductionLayout(op, x, axis, keepDims);
  return { picked: extremeIndices(op, x, outer, len, inner, largest), shape, len, inner };
}

/** max/min values with their backward rule: the gradient flows to the element picked. */
function extreme(op: 'max' | 'min', x: Tensor, axis: number | undefined, keepDims: boolean): Tensor {
  // No max/min kernel: a plain loop that also records the winning index for the backward pass.
  const { picked, shape } = picks(op, x, axis, keepDims, op === 'max');
  const out = new Float32Array(picked.length);
  for (let k = 0; k < picked.length; k++) out[k] = x.data[picked[k]];
  return record(new Tensor(out, shape), op, [x], (g) => {
    const dx = new Float32Array(x.size);
    for (let k = 0; k < picked.length; k++) dx[picked[k]] += g[k];
    return [dx];
  }, isTracing() ? { axis: axis === undefined ? null : normalizeAxis(op, axis, x.ndim, x.shape), keepDims } : undefined);
}

/**
 * Max over one axis (or over everything). The gradient flows to the first maximal element.
 * @param x the input tensor.
 * @param axis the axis reduced (negative counts from the end); default: all elements.
 * @param keepDims keep the reduced axis with size 1 (default false).
 * @returns the maximum.
 * @throws Error when x is not a Tensor or axis is not an integer in [-ndim, ndim).
 * @example max(tensor([[1, 5], [3, 4]]), 1) // [5, 4]
 */
export function max(x: Tensor, axis?: number, keepDims = false): Tensor {
  return extreme('max', x, axis, keepDims);
}

/**
 * Min over one axis (or over everything). The gradient flows to the first minimal element.
 * @param x the input tensor.
 * @param axis the axis reduced (negative counts from the end); default: all elements.
 * @param keepDims keep the reduced axis with size 1 (default false).
 * @returns the minimum.
 * @throws Error when x is not a Tensor or axis is not an integer in [-ndim, ndim).
 * @example min(tensor([[1, 5], [3, 4]]), 1) // [1, 3]
 */
export function min(x: Tensor, axis?: number, keepDims = false): Tensor {
  return extreme('min', x, axis, keepDims);
}

/** argmax/argmin: positions along the axis (flat positions without an axis), as float32 values. */
function argExtreme(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepDims: boolean): Tensor {
  const { picked, shape, len, inner } = picks(op, x, axis, keepDims, op === 'argmax');
  const out = new Float32Array(picked.length);
  // Flat index -> position along the axis: (flat - o*len*inner - i) / inner.
  for (let k = 0; k < picked.length; k++) {
    const o = Math.floor(k / inner);
    const i = k - o * inner;
    out[k] = (picked[k] - o * len * inner - i) / inner;
  }
  const y = new Tensor(out, shape);
  return isTracing() ? traced(y, op, [x], { axis: axis === undefined ? null : normalizeAxis(op, axis, x.ndim, x.shape), keepDims }) : y;
}

/**
 * Index of the largest element along `axis` (of the flattened tensor without one), first on ties,
 * NaN counting as largest (like torch.argmax). Indices come back as float32 values (exact below
 * 2^24); the result never requires grad.
 * @param x the input tensor.
 * @param axis the axis reduced (negative counts from the end); default: all elements.
 * @param keepDims keep the reduced axis with size 1 (default false).
 * @returns the index of the maximum.
 * @throws Error when x is not a Tensor or axis is not an integer in [-ndim, ndim).
 * @example argmax(tensor([[1, 5], [3, 4]]), 1) // [1, 0]
 */
export function argmax(x: Tensor, axis?: number, keepDims = false): Tensor {
  return argExtreme('argmax', x, axis, keepDims);
}

/**
 * Index of the smallest element along `axis` (of the flattened tensor without one); see argmax.
 * @param x the input tensor.
 * @param axis the axis reduced (negative counts from the end); default: all elements.
 * @param keepDims keep the reduced axis with size 1 (default false).
 * @returns the index of the minimum.
 * @throws Error when x is not a Tensor or axis is not an integer in [-ndim, ndim).
 * @example argmin(tensor([[1, 5], [3, 4]]), 1) // [0, 1]
 */
export function argmin(x: Tensor, axis?: number, keepDims = false): Tensor {
  return argExtreme('argmin', x, axis, keepDims);
}
