// Graph ops for the shape arithmetic exporters write around attention and recurrent layers (torch.onnx.export's
// Shape -> Gather -> Div -> Unsqueeze -> Concat -> Reshape head split, Slice of a fused projection, Expand of a
// padding mask): shape values are small 1-D float tensors of integers, so batch and sequence length may vary from
// call to call. Shape-only results carry no gradient; the data paths (gather, slice, reshape, permute, expand,
// where) go through differentiable ops.
import { Tensor } from '../tensor';
import * as ops from '../ops';
import { broadcastShapeOf, expandData } from '../ops/broadcast';
import { indexSelect, narrow } from '../ops/view';
import { permute } from '../ops/seq';

/** graph.ts's GraphAttr (not imported: graph.ts imports this file). */
type GraphAttr = number | string | boolean | null | number[];
type OpRunner = (xs: Tensor[], attrs: Record<string, GraphAttr>) => Tensor;

function fail(op: string, what: string): never {
  throw new Error(`Graph ${op}: ${what}`);
}

/** The integer values of a shape/index tensor (float32 holding integers). */
function intsOf(op: string, what: string, t: Tensor): number[] {
  return Array.from(t.data, (v) => {
    if (!Number.isInteger(v)) fail(op, `${what} must hold integers, got ${v}`);
    return v;
  });
}

/** An axis in [-rank, rank) -> [0, rank), or an Error naming the op. */
function axisIn(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) fail(op, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** The axes from the second input when given, else from the `axes` attribute (opsets before 13). */
function axesOf(op: string, xs: Tensor[], attrs: Record<string, GraphAttr>): number[] | null {
  if (xs.length > 1) return intsOf(op, 'axes', xs[1]);
  const a = attrs.axes;
  return Array.isArray(a) ? a : null;
}

const fromInts = (values: number[], shape: number[] = [values.length]): Tensor => new Tensor(Float32Array.from(values), shape);

/** Elementwise over two broadcast operands, no gradient (comparisons and integer division). */
function pointwise(op: string, f: (a: number, b: number) => number): OpRunner {
  return ([a, b]) => {
    const shape = broadcastShapeOf(op, a.shape, b.shape);
    const ad = expandData(a.data, a.shape, shape);
    const bd = expandData(b.data, b.shape, shape);
    const out = new Float32Array(ad.length);
    for (let i = 0; i < out.length; i++) out[i] = f(ad[i], bd[i]);
    return new Tensor(out, shape);
  };
}

/** ONNX Slice on one axis: the picked positions for start/end/step (clamped as ONNX says). */
function slicePositions(start: number, end: number, step: number, dim: number): number[] {
  if (step === 0) fail('slice', 'step 0 is not allowed');
  const norm = (v: number): number => (v < 0 ? v + dim : v);
  let s = norm(start);
  let e = norm(end);
  const out: number[] = [];
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
    for (let i = s; i < e; i += step) out.push(i);
  } else {
    s = Math.min(Math.max(s, -1), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
    for (let i = s; i > e; i += step) out.push(i);
  }
  return out;
}

/** The shape and index ops, merged into GRAPH_OPS (graph.ts). */
export const SHAPE_OPS: Record<string, { arity: number; run: OpRunner }> = {
  /** x.shape[start:end] as a 1-D tensor (ONNX Shape). */
  shape: {
    arity: 1,
    run: ([x], a) => {
      const r = x.ndim;
      const clampTo = (v: number): number => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const s = clampTo(typeof a.start === 'number' ? a.start : 0);
      const e = clampTo(typeof a.end === 'number' ? a.end : r);
      return fromInts(x.shape.slice(s, Math.max(s, e)));
    },
  },
  /** A tensor of the given shape filled with `value` (ONNX ConstantOfShape). */
  constantOfShape: {
    arity: 1,
    run: ([s], a) => {
      const shape = intsOf('constantOfShape', 'shape', s);
      if (shape.some((d) => d < 0)) fail('constantOfShape', `negative dimension in [${shape.join(',')}]`);
      const n = shape.reduce((p, d) => p * d, 1);
      return new Tensor(new Float32Array(n).fill(typeof a.value === 'number' ? a.value : 0), shape);
    },
  },
  /** ONNX Gather: data.shape[:axis] + indices.shape + data.shape[axis+1:]. */
  gather: {
    arity: 2,
    run: ([x, idx], a) => {
      if (x.ndim === 0) fail('gather', 'cannot index a 0-d tensor');
      const axis = axisIn('gather', typeof a.axis === 'number' ? a.axis : 0, x.ndim);
      const picks = intsOf('gather', 'indices', idx).map((i) => (i < 0 ? i + x.shape[axis] : i));
      const picked = indexSelect(x, axis, picks);
      return ops.reshape(picked, [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)]);
    },
  },
  /** ONNX Slice (opset 10+): data, starts, ends[, axes[, steps]]. */
  slice: {
    arity: -1,
    run: (xs) => {
      const [x, startsT, endsT] = xs;
      if (xs.length < 3 || xs.length > 5) fail('slice', `takes 3 to 5 inputs, got ${xs.length}`);
      const starts = intsOf('slice', 'starts', startsT);
      const ends = intsOf('slice', 'ends', endsT);
      const axes = xs[3] ? intsOf('slice', 'axes', xs[3]) : starts.map((_, i) => i);
      const steps = xs[4] ? intsOf('slice', 'steps', xs[4]) : starts.map(() => 1);
      if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
        fail('slice', `starts, ends, axes and steps differ in length (${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`);
      }
      let y = x;
      starts.forEach((s, k) => {
        const axis = axisIn('slice', axes[k], x.ndim);
        const picks = slicePositions(s, ends[k], steps[k], y.shape[axis]);
        const contiguous = steps[k] === 1;
        if (contiguous && picks.length === y.shape[axis]) return;
        y = contiguous && picks.length > 0 ? narrow(y, axis, picks[0], picks.length) : indexSelect(y, axis, picks);
      });
      return y;
    },
  },
  /** Inserts size-1 axes (ONNX Unsqueeze: axes as the second input, or the `axes` attribute before opset 13). */
  unsqueeze: {
    arity: -1,
    run: (xs, a) => {
      const axes = axesOf('unsqueeze', xs, a);
      if (axes === null || axes.length === 0) fail('unsqueeze', 'needs axes');
      const rank = xs[0].ndim + axes.length;
      const at = new Set(axes.map((d) => axisIn('unsqueeze', d, rank)));
      if (at.size !== axes.length) fail('unsqueeze', `axes [${axes.join(',')}] repeat`);
      const shape: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) shape.push(at.has(i) ? 1 : xs[0].shape[k++]);
      return ops.reshape(xs[0], shape);
    },
  },
  /** Removes size-1 axes (the given ones, or all). */
  squeeze: {
    arity: -1,
    run: (xs, a) => {
      const x = xs[0];
      const axes = axesOf('squeeze', xs, a);
      const drop = new Set(axes === null || axes.length === 0 ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : axes.map((d) => axisIn('squeeze', d, x.ndim)));
      for (const i of drop) if (x.shape[i] !== 1) fail('squeeze', `axis ${i} has size ${x.shape[i]}, not 1 (shape [${x.shape.join(',')}])`);
      return ops.reshape(x, x.shape.filter((_, i) => !drop.has(i)));
    },
  },
  /** Reshape to a shape computed in the graph (0 copies the input's dimension, one -1 is inferred). */
  reshapeTo: {
    arity: 2,
    run: ([x, s]) => ops.reshape(x, intsOf('reshape', 'shape', s).map((d, i) => (d === 0 ? x.shape[i] : d))),
  },
  /** Any permutation of the axes (ONNX Transpose; no perm reverses them). */
  permute: {
    arity: 1,
    run: ([x], a) => permute(x, Array.isArray(a.perm) ? a.perm : x.shape.map((_, i) => x.ndim - 1 - i)),
  },
  /** Broadcasts x to the shape (ONNX Expand: both ways, like numpy). */
  expand: {
    arity: 2,
    run: ([x, s]) => {
      const shape = broadcastShapeOf('expand', x.shape, intsOf('expand', 'shape', s));
      if (shape.length === x.ndim && shape.every((d, i) => d === x.shape[i])) return x;
      return ops.add(x, new Tensor(new Float32Array(shape.reduce((p, d) => p * d, 1)), shape));
    },
  },
  where: { arity: 3, run: ([c, a, b]) => ops.where(c, a, b) },
  // myelin's comparison ops (1/0, broadcast): traced, so a graph reading a mask from an input exports it again
  equal: { arity: 2, run: ([a, b]) => ops.eq(a, b) },
  greater: { arity: 2, run: ([a, b]) => ops.gt(a, b) },
  less: { arity: 2, run: ([a, b]) => ops.lt(a, b) },
  not: { arity: 1, run: ([x]) => new Tensor(Float32Array.from(x.data, (v) => +(v === 0)), x.shape.slice()) },
  /** ONNX integer Div: truncates toward zero. */
  intDiv: {
    arity: 2,
    run: pointwise('intDiv', (a, b) => {
      if (b === 0) fail('intDiv', 'integer division by zero');
      return Math.trunc(a / b);
    }),
  },
  /** ONNX Cast: to 'float' (the value), 'int' (truncated toward zero) or 'bool' (nonzero -> 1). */
  cast: {
    arity: 1,
    run: ([x], a) => {
      if (a.to === 'float') return x;
      const f = a.to === 'bool' ? (v: number): number => +(v !== 0) : Math.trunc;
      return new Tensor(Float32Array.from(x.data, f), x.shape.slice());
    },
  },
};
