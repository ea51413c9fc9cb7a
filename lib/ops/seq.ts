// Sequence-model ops: permute, gather, embedding lookup (row-sparse backward), maskedFill, triu/tril, cumsum,
// broadcasting batched matmul, softmax on any axis, topk and seeded multinomial sampling.
import { getBackend } from '../backend/select';
import { currentPrecision } from '../autocast';
import { gemmBlock } from './gemm-block';
import { isTracing, record } from '../autograd';
import { Tensor, shapeToString, sizeOf } from '../tensor-core';
import { outputBuffer } from '../buffer-pool';
import { IntTensor, checkIndices } from '../int-tensor';
import { Rng, globalGenerator } from '../random';
import { broadcastShapeOf, expandData } from './broadcast';
import { normalizeAxis } from './reduce';
import {
  argumentError, checkBoolean, checkNumber, checkOptions, checkPositiveInt, checkSeed, checkTensor, describe, invalid,
} from '../validate';

/** Row-major strides of a shape. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** [outer, len, inner] element counts around axis a. */
function around(shape: readonly number[], a: number): [number, number, number] {
  return [sizeOf(shape.slice(0, a)), shape[a], sizeOf(shape.slice(a + 1))];
}

/** Copies src (shape `shape`) into dst permuted by `dims` (dst shape[i] = shape[dims[i]]). */
function permuteData(src: Float32Array, shape: readonly number[], dims: readonly number[], dst: Float32Array): void {
  const n = dims.length;
  const inStrides = stridesOf(shape);
  const outShape = dims.map((d) => shape[d]);
  const stepIn = dims.map((d) => inStrides[d]);
  const total = src.length;
  if (total === 0) return;
  // Innermost output axis as a tight loop; the others by an odometer.
  const last = n - 1;
  const innerLen = n === 0 ? 1 : outShape[last];
  const innerStep = n === 0 ? 0 : stepIn[last];
  const idx = new Array<number>(n).fill(0);
  let base = 0;
  for (let o = 0; o < total; o += innerLen) {
    for (let j = 0, p = base; j < innerLen; j++, p += innerStep) dst[o + j] = src[p];
    for (let ax = last - 1; ax >= 0; ax--) {
      idx[ax]++;
      base += stepIn[ax];
      if (idx[ax] < outShape[ax]) break;
      base -= idx[ax] * stepIn[ax];
      idx[ax] = 0;
    }
  }
}

function checkPermutation(op: string, dims: unknown, ndim: number, shape: readonly number[]): number[] {
  if (!Array.isArray(dims) || dims.length !== ndim) {
    invalid(op, 'dims', `an array of ${ndim} axes (one per dimension of shape ${shapeToString(shape)})`, dims);
  }
  const out = dims.map((d) => normalizeAxis(op, d as number, ndim, shape));
  if (new Set(out).size !== ndim) invalid(op, 'dims', `a permutation of the ${ndim} axes (each once)`, dims);
  return out;
}

/**
 * The dimensions reordered: y.shape[i] = x.shape[dims[i]] (torch.permute). Copies the data.
 * @param x the input tensor.
 * @param dims a permutation of 0..ndim-1.
 * @throws Error when x is not a Tensor or dims is not a permutation of its axes.
 * @example permute(zeros([2, 3, 4]), [2, 0, 1]).shape // [4, 2, 3]
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkTensor('permute', 'input', x);
  const p = checkPermutation('permute', dims, x.ndim, x.shape);
  if (p.every((d, i) => d === i)) return record(new Tensor(x.data, x.shape), 'permute', [x], (g) => [g], isTracing() ? { perm: p } : undefined);
  const out = new Float32Array(x.size);
  permuteData(x.data, x.shape, p, out);
  const outShape = p.map((d) => x.shape[d]);
  return record(new Tensor(out, outShape), 'permute', [x], (g) => {
    const inv = new Array<number>(p.length);
    p.forEach((d, i) => (inv[d] = i));
    const dx = new Float32Array(x.size);
    permuteData(g, outShape, inv, dx);
    return [dx];
  }, isTracing() ? { perm: p } : undefined);
}

/**
 * Swaps two axes (torch.transpose(x, a, b)); copies the data. Differentiable.
 * @param x a Tensor.
 * @param axis1 an axis of x (negative counts from the end).
 * @param axis2 the other axis.
 * @returns a Tensor with x's shape but dimensions axis1 and axis2 exchanged.
 * @throws Error when x is not a Tensor or an axis is out of range.
 * @example ops.swapAxes(zeros([2, 3, 4]), 0, 1).shape // [3, 2, 4]
 */
export function swapAxes(x: Tensor, axis1: number, axis2: number): Tensor {
  checkTensor('swapAxes', 'input', x);
  const a = normalizeAxis('swapAxes', axis1, x.ndim, x.shape);
  const b = normalizeAxis('swapAxes', axis2, x.ndim, x.shape);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/**
 * torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (likewise for any axis). index has x's
 * rank and is no larger than x in every other dimension; the result has index's shape. The backward
 * scatter-adds into the positions read.
 * @param x the input tensor (at least 1-D).
 * @param axis the axis indexed.
 * @param index positions along axis, of x's rank and no larger than x in the other dimensions.
 * @throws Error when x is not a Tensor or is 0-d, axis is out of range, an index is out of range, or index has another rank or is larger than x.
 * @example gather(tensor([[1, 2], [3, 4]]), 1, intTensor([[1], [0]])) // [[2], [3]]
 */
export function gather(x: Tensor, axis: number, index: IntTensor | Tensor | Int32Array | readonly number[]): Tensor {
  checkTensor('gather', 'input', x);
  if (x.ndim === 0) throw new Error('gather: cannot index a 0-d tensor (shape [])');
  const a = normalizeAxis('gather', axis, x.ndim, x.shape);
  const idx = checkIndices('gather', 'index', index, x.shape[a], `axis ${axis} of length ${x.shape[a]} (shape ${shapeToString(x.shape)})`, true);
  if (idx.ndim !== x.ndim || idx.shape.some((d, i) => i !== a && d > x.shape[i])) {
    throw argumentError('gather', `index of shape ${shapeToString(idx.shape)} must have the input's rank (${x.ndim}) and be no larger than input ${shapeToString(x.shape)} outside axis ${axis}`);
  }
  return gatherAlong('gather', x, a, idx);
}

/** out = x gathered along axis a at idx (same rank, index shape); backward scatter-adds. op names the record ('gather', 'topk'). */
function gatherAlong(op: string, x: Tensor, a: number, idx: IntTensor, attrs?: Record<string, number | boolean>): Tensor {
  // Source offset of each output element.
  const xs = stridesOf(x.shape);
  const n = idx.size;
  const src = new Int32Array(n);
  const coord = new Array<number>(idx.ndim).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < idx.ndim; d++) off += (d === a ? idx.data[i] : coord[d]) * xs[d];
    src[i] = off;
    for (let d = idx.ndim - 1; d >= 0; d--) {
      if (++coord[d] < idx.shape[d]) break;
      coord[d] = 0;
    }
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = x.data[src[i]];
  return record(new Tensor(out, idx.shape), op, [x], (g) => {
    const dx = new Float32Array(x.size);
    for (let i = 0; i < n; i++) dx[src[i]] += g[i];
    return [dx];
  }, isTracing() ? { axis: a, index: idx.data, indexShape: idx.shape, ...attrs } : undefined);
}

/** Options of ops.embedding: paddingIdx, a row that gets no gradient. */
export interface EmbeddingOpOptions {
  /** A row whose gradient is always zero (the padding token); negative counts from the end. */
  paddingIdx?: number | null;
}

/**
 * Rows of weight [num, dim] picked by integer indices of any shape: the result is [...indices.shape, dim]
 * (torch.nn.functional.embedding). Backward: the rows touched get the sum of their output gradients.
 * When weight is a leaf (a parameter), that sum is added straight into weight.grad, row by row: no
 * dense [num x dim] gradient array is made per step (weight.grad itself is allocated once and reused,
 * as zeroGrad keeps it). The paddingIdx row never gets a gradient.
 * @param weight the table, [numEmbeddings, embeddingDim].
 * @param indices row ids of any shape (integers in [0, numEmbeddings)).
 * @param opts paddingIdx: a row whose gradient stays zero (negative counts from the end; default none).
 * @returns [...indices.shape, embeddingDim].
 * @throws Error when weight is not a 2-D Tensor, an option is unknown, paddingIdx is out of range, or an index is not an integer in range.
 * @example embedding(randn([10, 4]), intTensor([[1, 2]])).shape // [1, 2, 4]
 */
export function embedding(weight: Tensor, indices: IntTensor | Tensor | Int32Array | readonly number[], opts: EmbeddingOpOptions = {}): Tensor {
  checkTensor('embedding', 'weight', weight);
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be 2-D [numEmbeddings, embeddingDim], got ${shapeToString(weight.shape)}`);
  const [V, D] = weight.shape;
  const o = checkOptions('embedding', opts, ['paddingIdx']);
  let pad = -1;
  if (o.paddingIdx !== undefined && o.paddingIdx !== null) {
    const p = checkNumber('embedding', 'paddingIdx', o.paddingIdx, { integer: true, min: -V, max: V - 1 });
    pad = p < 0 ? p + V : p;
  }
  const idx = checkIndices('embedding', 'index', indices, V, `an embedding table of ${V} rows`);
  const n = idx.size;
  const out = outputBuffer(n * D); // gatherRows writes every element
  const backend = getBackend();
  // The kernels take V, D >= 1; an empty table has no valid index, so n is 0 then.
  const live = n > 0 && D > 0;
  if (live) backend.gatherRows(V, D, n, weight.data, idx.data, out);
  const skip = pad < 0 ? V : pad;
  // Float ids are an input of the record (no gradient) so a traced export reads them from the graph.
  const inputs = indices instanceof Tensor ? [weight, indices] : [weight];
  return record(new Tensor(out, [...idx.shape, D]), 'embedding', inputs, (g) => {
    if (weight._node === null) {
      // A leaf: accumulate the touched rows into its .grad directly (the tape then has nothing to add).
      if (weight.grad === null) weight.grad = new Tensor(new Float32Array(weight.size), weight.shape.slice());
      if (live) backend.scatterAddRows(V, D, n, weight.grad.data, idx.data, g, skip);
      return [null, null];
    }
    const dw = new Float32Array(weight.size);
    if (live) backend.scatterAddRows(V, D, n, dw, idx.data, g, skip);
    return [dw, null];
  }, isTracing() ? { ids: idx.data, idsShape: idx.shape } : undefined);
}

/**
 * value where mask is nonzero, x elsewhere; mask broadcasts to x's shape (torch.masked_fill). Gradient flows to x where not filled.
 * @param x the input tensor.
 * @param mask nonzero where value goes; broadcasts to x's shape.
 * @param value the fill value (-Infinity allowed, not NaN).
 * @throws Error when x or mask is not a Tensor, value is not a number or is NaN, or mask does not broadcast to x.
 * @example maskedFill(zeros([2, 2]), triu(ones([2, 2]), 1), -Infinity) // [[0, -inf], [0, 0]]
 */
export function maskedFill(x: Tensor, mask: Tensor | IntTensor, value: number): Tensor {
  checkTensor('maskedFill', 'input', x);
  const m = mask instanceof IntTensor ? mask.toFloat() : checkTensor('maskedFill', 'mask', mask);
  if (typeof value !== 'number' || Number.isNaN(value)) invalid('maskedFill', 'value', 'a number (-Infinity allowed)', value);
  const shape = broadcastShapeOf('maskedFill', m.shape, x.shape);
  if (shape.length !== x.ndim || shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`maskedFill: mask of shape ${shapeToString(m.shape)} must broadcast to the input's shape ${shapeToString(x.shape)}`);
  }
  const md = expandData(m.data, m.shape, x.shape);
  const n = x.size;
  const out = new Float32Array(n);
  const xd = x.data;
  for (let i = 0; i < n; i++) out[i] = md[i] !== 0 ? value : xd[i];
  return record(new Tensor(out, x.shape), 'maskedFill', [x], (g) => {
    const dx = new Float32Array(n);
    for (let i = 0; i < n; i++) if (md[i] === 0) dx[i] = g[i];
    return [dx];
  }, isTracing() ? { mask: m, value } : undefined);
}

function triangle(op: 'triu' | 'tril', x: Tensor, diagonal: number): Tensor {
  checkTensor(op, 'input', x);
  if (x.ndim < 2) throw new Error(`${op}: expected at least a 2-D tensor, got shape ${shapeToString(x.shape)}`);
  checkNumber(op, 'diagonal', diagonal, { integer: true });
  const R = x.shape[x.ndim - 2];
  const C = x.shape[x.ndim - 1];
  const keep = new Uint8Array(R * C);
  for (let i = 0; i < R; i++) {
    for (let j = 0; j < C; j++) keep[i * C + j] = op === 'tril' ? +(j - i <= diagonal) : +(j - i >= diagonal);
  }
  const apply = (src: Float32Array): Float32Array => {
    const out = new Float32Array(src.length);
    for (let b = 0; b < src.length; b += R * C) for (let k = 0; k < R * C; k++) if (keep[k]) out[b + k] = src[b + k];
    return out;
  };
  return record(new Tensor(apply(x.data), x.shape), op, [x], (g) => [apply(g)], isTracing() ? { diagonal } : undefined);
}

/**
 * The upper triangle of the last two dims (j - i >= diagonal kept, the rest zero), as torch.triu.
 * @param x the input tensor, at least 2-D.
 * @param diagonal the first diagonal kept (default 0: the main one; 1: above it).
 * @throws Error when x is not a Tensor of at least 2 dimensions or diagonal is not an integer.
 * @example triu(ones([2, 2])) // [[1, 1], [0, 1]]
 */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle('triu', x, diagonal);
}

/**
 * The lower triangle of the last two dims (j - i <= diagonal kept, the rest zero), as torch.tril.
 * @param x the input tensor, at least 2-D.
 * @param diagonal the last diagonal kept (default 0: the main one; -1: below it).
 * @throws Error when x is not a Tensor of at least 2 dimensions or diagonal is not an integer.
 * @example tril(ones([2, 2])) // [[1, 0], [1, 1]]
 */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle('tril', x, diagonal);
}

/**
 * A [size, size] mask with 1 above the diagonal: the future positions a causal attention must not see
 * (mask[i][j] = 1 for j > i, else 0).
 * @param size the sequence length, a positive integer.
 * @returns a Tensor [size, size].
 * @throws Error when size is not a positive integer.
 * @example ops.causalMask(3).toArray() // [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
 */
export function causalMask(size: number): Tensor {
  checkPositiveInt('causalMask', 'size', size);
  const m = new Float32Array(size * size);
  for (let i = 0; i < size; i++) for (let j = i + 1; j < size; j++) m[i * size + j] = 1;
  return new Tensor(m, [size, size]);
}

/** Running sums along one axis (in-place on out, which may be src). reverse sums from the end. */
function cumsumData(src: Float32Array, out: Float32Array, outer: number, len: number, inner: number, reverse: boolean): void {
  for (let o = 0; o < outer; o++) {
    const base = o * len * inner;
    for (let k = 0; k < inner; k++) {
      let acc = 0;
      if (reverse) {
        for (let j = len - 1; j >= 0; j--) {
          acc += src[base + j * inner + k];
          out[base + j * inner + k] = acc;
        }
      } else {
        for (let j = 0; j < len; j++) {
          acc += src[base + j * inner + k];
          out[base + j * inner + k] = acc;
        }
      }
    }
  }
}

/**
 * Cumulative sum along `axis` (torch.cumsum); the gradient is the reversed cumulative sum of the output gradient.
 * @param x the input tensor.
 * @param axis the axis summed along (negative counts from the end).
 * @throws Error when x is not a Tensor or axis is out of range.
 * @example cumsum(tensor([1, 2, 3]), 0) // [1, 3, 6]
 */
export function cumsum(x: Tensor, axis: number): Tensor {
  checkTensor('cumsum', 'input', x);
  const a = normalizeAxis('cumsum', axis, x.ndim, x.shape);
  const [outer, len, inner] = around(x.shape, a);
  const out = new Float32Array(x.size);
  cumsumData(x.data, out, outer, len, inner, false);
  return record(new Tensor(out, x.shape), 'cumsum', [x], (g) => {
    const dx = new Float32Array(x.size);
    cumsumData(g, dx, outer, len, inner, true);
    return [dx];
  }, isTracing() ? { axis: a } : undefined);
}

/** Offsets (in blocks) into a batch of shape `from` for each position of the broadcast batch `to`. */
function batchOffsets(from: readonly number[], to: readonly number[]): Int32Array {
  const n = sizeOf(to);
  const out = new Int32Array(n);
  const pad = to.length - from.length;
  const fs = stridesOf(from);
  const coord = new Array<number>(to.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = pad; d < to.length; d++) if (from[d - pad] !== 1) off += coord[d] * fs[d - pad];
    out[i] = off;
    for (let d = to.length - 1; d >= 0; d--) {
      if (++coord[d] < to[d]) break;
      coord[d] = 0;
    }
  }
  return out;
}

/**
 * Batched matrix product broadcasting over leading dims (torch.matmul on >= 2-D operands):
 * [...A, M, K] x [...B, K, N] -> [...broadcast(A, B), M, N]. Each batch is one GEMM call; the backward
 * sums the gradient of a broadcast operand over the batches that shared it.
 * @param a the left operand, [...A, M, K].
 * @param b the right operand, [...B, K, N].
 * @returns [...broadcast(A, B), M, N].
 * @throws Error when an operand is not a Tensor of at least 2 dimensions, the inner dimensions differ, or the batch dimensions do not broadcast.
 * @example bmm(randn([8, 2, 3]), randn([3, 4])).shape // [8, 2, 4]
 */
export function bmm(a: Tensor, b: Tensor): Tensor {
  return batchedMatmul('bmm', a, b);
}

/** bmm with errors named after the caller (matmul delegates here when batch dims differ). */
export function batchedMatmul(op: string, a: Tensor, b: Tensor): Tensor {
  checkTensor(op, 'first operand', a);
  checkTensor(op, 'second operand', b);
  if (a.ndim < 2 || b.ndim < 2) {
    throw new Error(`${op}: expected operands of at least 2 dims, got ${shapeToString(a.shape)} x ${shapeToString(b.shape)}`);
  }
  const [M, K] = a.shape.slice(-2);
  const [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new Error(`${op}: inner dimensions differ: ${shapeToString(a.shape)} x ${shapeToString(b.shape)}`);
  const aB = a.shape.slice(0, -2);
  const bB = b.shape.slice(0, -2);
  const n = Math.max(aB.length, bB.length);
  for (let i = 1; i <= n; i++) {
    const da = aB[aB.length - i] ?? 1;
    const db = bB[bB.length - i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: batch dimensions differ: ${shapeToString(a.shape)} x ${shapeToString(b.shape)} (leading dims must be equal or 1 to broadcast)`);
    }
  }
  const batchShape = broadcastShapeOf(op, aB, bB);
  const batch = sizeOf(batchShape);
  const aOff = batchOffsets(aB, batchShape);
  const bOff = batchOffsets(bB, batchShape);
  const out = new Float32Array(batch * M * N);
  // Under autocast('bf16') the products and their gradients multiply in bf16 (the backward keeps the forward's precision).
  const bf16 = currentPrecision() === 'bf16';
  for (let i = 0; i < batch; i++) {
    gemmBlock(bf16, false, false, M, N, K, a.data.subarray(aOff[i] * M * K, (aOff[i] + 1) * M * K), b.data.subarray(bOff[i] * K * N, (bOff[i] + 1) * K * N), 0, out.subarray(i * M * N, (i + 1) * M * N));
  }
  return record(new Tensor(out, [...batchShape, M, N]), op, [a, b], (g) => {
    let ga: Float32Array | null = null;
    let gb: Float32Array | null = null;
    if (a.requiresGrad) {
      ga = new Float32Array(a.size);
      for (let i = 0; i < batch; i++) {
        gemmBlock(bf16, false, true, M, K, N, g.subarray(i * M * N, (i + 1) * M * N), b.data.subarray(bOff[i] * K * N, (bOff[i] + 1) * K * N), 1, ga.subarray(aOff[i] * M * K, (aOff[i] + 1) * M * K));
      }
    }
    if (b.requiresGrad) {
      gb = new Float32Array(b.size);
      for (let i = 0; i < batch; i++) {
        gemmBlock(bf16, true, false, K, N, M, a.data.subarray(aOff[i] * M * K, (aOff[i] + 1) * M * K), g.subarray(i * M * N, (i + 1) * M * N), 1, gb.subarray(bOff[i] * K * N, (bOff[i] + 1) * K * N));
      }
    }
    return [ga, gb];
  });
}

/**
 * f over `axis` by moving the axis last, applying f (a last-axis op), and moving it back. f is a
 * differentiable op, so the backward is the composition's.
 */
export function alongAxis(op: string, x: Tensor, axis: number, f: (t: Tensor) => Tensor): Tensor {
  checkTensor(op, 'input', x);
  const a = normalizeAxis(op, axis, x.ndim, x.shape);
  if (a === x.ndim - 1) return f(x);
  return swapAxes(f(swapAxes(x, a, -1)), a, -1);
}

/** Options of topk: the axis (default the last) and largest (default true; false gives the smallest). */
export interface TopkOptions {
  /** Along this axis (default -1, the last). */
  axis?: number;
  /** The k largest (default true) or smallest. */
  largest?: boolean;
}

/**
 * The k largest (or smallest) values along an axis, in order (largest first, or smallest first), with
 * their positions as an IntTensor (torch.topk; ties keep the lower index first). The values carry a
 * gradient (to the positions they came from).
 * @param x the input tensor (at least 1-D).
 * @param k how many, an integer in [0, length of the axis].
 * @param opts axis (default the last), largest (default true; false: the smallest).
 * @returns values and their indices, each with the axis cut to k.
 * @throws Error when x is not a Tensor or is 0-d, an option is unknown, axis is out of range, or k is not an integer in range.
 * @example topk(tensor([3, 1, 4, 1, 5]), 2).values // [5, 4]
 */
export function topk(x: Tensor, k: number, opts: TopkOptions = {}): { values: Tensor; indices: IntTensor } {
  checkTensor('topk', 'input', x);
  const o = checkOptions('topk', opts, ['axis', 'largest']);
  if (x.ndim === 0) throw new Error('topk: expected at least a 1-D tensor, got shape []');
  const a = normalizeAxis('topk', o.axis ?? -1, x.ndim, x.shape);
  const largest = o.largest === undefined ? true : checkBoolean('topk', 'largest', o.largest);
  const [outer, len, inner] = around(x.shape, a);
  checkNumber('topk', 'k', k, { integer: true, min: 0 });
  if (k > len) throw argumentError('topk', `k ${describe(k)} is larger than axis ${a} of length ${len} (shape ${shapeToString(x.shape)})`);
  const outShape = x.shape.slice();
  outShape[a] = k;
  const pos = new Int32Array(outer * k * inner);
  const order = new Array<number>(len);
  const vals = new Float64Array(len);
  for (let ob = 0; ob < outer; ob++) {
    for (let ib = 0; ib < inner; ib++) {
      for (let j = 0; j < len; j++) {
        order[j] = j;
        const v = x.data[(ob * len + j) * inner + ib];
        // NaN counts as the largest, as in PyTorch.
        vals[j] = Number.isNaN(v) ? Infinity * (largest ? 1 : -1) : v;
      }
      order.sort(largest ? (p, q) => vals[q] - vals[p] || p - q : (p, q) => vals[p] - vals[q] || p - q);
      for (let j = 0; j < k; j++) pos[(ob * k + j) * inner + ib] = order[j];
    }
  }
  const indices = new IntTensor(pos, outShape);
  // Recorded as 'topk' (not 'gather'): a traced export must compute the positions, not bake these in.
  return { values: gatherAlong('topk', x, a, indices, { k, largest }), indices };
}

/** Options of multinomial: replacement, and a seed or generator for the draws. */
export interface MultinomialOptions {
  /** Draw with replacement (default false, as torch.multinomial). */
  replacement?: boolean;
  /** Seed for a private generator (same seed, same draws); without it the global generator. */
  seed?: number;
  /** A generator to draw from (advances it); exclusive with seed. */
  generator?: Rng;
}

/**
 * Draws numSamples category indices per row of non-negative weights [n] or [rows, n] (they need not sum
 * to 1): an IntTensor [numSamples] or [rows, numSamples]. Without replacement each category is drawn at
 * most once, so numSamples must not exceed the categories of non-zero weight.
 * @param probs non-negative weights, [n] or [rows, n].
 * @param numSamples draws per row, a positive integer (without replacement: at most the categories of non-zero weight).
 * @param opts replacement (default false), seed or generator (default: the global generator).
 * @returns category indices, [numSamples] or [rows, numSamples].
 * @throws Error when probs is not a 1-D or 2-D Tensor, numSamples is not a positive integer or exceeds the categories without replacement, an option is unknown, both seed and generator are given, or a weight is negative or not finite, or a row sums to 0.
 * @example multinomial(tensor([0, 1, 0]), 1) // IntTensor [1]
 */
export function multinomial(probs: Tensor, numSamples: number, opts: MultinomialOptions = {}): IntTensor {
  checkTensor('multinomial', 'probs', probs);
  const o = checkOptions('multinomial', opts, ['replacement', 'seed', 'generator']);
  if (probs.ndim !== 1 && probs.ndim !== 2) throw new Error(`multinomial: probs must be 1-D [n] or 2-D [rows, n], got ${shapeToString(probs.shape)}`);
  checkPositiveInt('multinomial', 'numSamples', numSamples);
  const replacement = o.replacement === undefined ? false : checkBoolean('multinomial', 'replacement', o.replacement);
  if (o.seed !== undefined && o.generator !== undefined) throw new Error('multinomial: pass seed or generator, not both');
  if (o.generator !== undefined && !(o.generator instanceof Rng)) invalid('multinomial', 'generator', 'an Rng', o.generator);
  const rng = o.generator ?? (o.seed === undefined ? globalGenerator() : new Rng(checkSeed('multinomial', 'seed', o.seed)));
  const n = probs.shape[probs.ndim - 1];
  const rows = probs.ndim === 1 ? 1 : probs.shape[0];
  const out = new Int32Array(rows * numSamples);
  const w = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    let total = 0;
    let nonzero = 0;
    for (let j = 0; j < n; j++) {
      const v = probs.data[r * n + j];
      if (!(v >= 0) || !Number.isFinite(v)) {
        throw argumentError('multinomial', `probs must be finite and non-negative; row ${r} has ${describe(v)} at position ${j}`);
      }
      w[j] = v;
      total += v;
      if (v > 0) nonzero++;
    }
    if (total <= 0) throw argumentError('multinomial', `row ${r} of probs sums to 0; at least one weight must be positive`);
    if (!replacement && numSamples > nonzero) {
      throw argumentError('multinomial', `cannot draw ${numSamples} samples without replacement from row ${r}, which has ${nonzero} categories of non-zero weight`);
    }
    for (let s = 0; s < numSamples; s++) {
      const u = rng.next() * total;
      let acc = 0;
      let pick = -1;
      for (let j = 0; j < n; j++) {
        if (w[j] <= 0) continue;
        pick = j;
        acc += w[j];
        if (u < acc) break;
      }
      out[r * numSamples + s] = pick;
      if (!replacement) {
        total -= w[pick];
        w[pick] = 0;
      }
    }
  }
  return new IntTensor(out, probs.ndim === 1 ? [numSamples] : [rows, numSamples]);
}
