// The op -> ONNX table: one row per op name that lib/ops reports to the tracer (autograd.ts traced/record).
// A new op exports once it has a row here: write the ONNX nodes for one recorded call and return the output value.
import type { OpAttrs } from '../../autograd';
import { definitionOfType } from '../../nn/registry';
import type { GraphBuilder } from './encode';
import { batchNormNode } from '../../nn/batch-norm';
import { groupNormNodes } from '../../nn/group-norm';
import { resizeNearestNodes } from '../../nn/upsample';

/** One recorded op call as its row sees it. */
export interface TracedOp {
  op: string;
  /** Value names of the tensor inputs, in the op's order. */
  inputs: string[];
  /** Shapes of those inputs (as traced, batch included). */
  inputShapes: number[][];
  /** Each input's first dimension as a multiple of the dynamic batch (1: the batch itself; 0: fixed size). */
  inputFactors: number[];
  outShape: number[];
  /** The same for the output. */
  outFactor: number;
  attrs: OpAttrs;
  /** Value name of a tensor-valued attribute (e.g. where's cond). */
  tensorAttr(name: string): string;
}

export type OpExport = (g: GraphBuilder, t: TracedOp) => string;

const ONNX_FLOAT = 1;
const ONNX_BOOL = 9;
/** Far past any dimension: Slice clamps it to the end (how exporters write "to the end"). */
const TO_END = Number.MAX_SAFE_INTEGER;

const num = (t: TracedOp, k: string): number => t.attrs[k] as number;

const unary = (onnxOp: string): OpExport => (g, t) => g.node(onnxOp, [t.inputs[0]]);
const binary = (onnxOp: string): OpExport => (g, t) => g.node(onnxOp, [t.inputs[0], t.inputs[1]]);
const compare = (onnxOp: string, negate = false): OpExport => (g, t) => {
  let b = g.node(onnxOp, [t.inputs[0], t.inputs[1]]);
  if (negate) b = g.node('Not', [b]);
  return g.node('Cast', [b], [{ name: 'to', int: ONNX_FLOAT }]);
};

/** An activation applied to `x` (the activation codes of ops/activation.ts and the fused linear). */
function activation(g: GraphBuilder, act: string, x: string, alpha: number): string {
  switch (act) {
    case 'none': return x;
    case 'relu': return g.node('Relu', [x]);
    case 'sigmoid': return g.node('Sigmoid', [x]);
    case 'tanh': return g.node('Tanh', [x]);
    case 'leakyRelu': return g.node('LeakyRelu', [x], [{ name: 'alpha', float: alpha }]);
    case 'gelu':
    case 'geluTanh': {
      // The GELU layer's own export: Gelu from opset 20, torch's decomposition below.
      const def = definitionOfType('GELU');
      if (def?.onnx === undefined) throw new Error('onnx.exportModel: the GELU layer is not registered');
      g.current = x;
      def.onnx(g, { type: 'GELU', approximate: act === 'gelu' ? 'none' : 'tanh' });
      return g.current;
    }
    default: throw new Error(`onnx.exportModel: activation '${act}' has no ONNX mapping`);
  }
}

const activationRow = (act: string): OpExport => (g, t) => activation(g, act, t.inputs[0], (t.attrs.alpha as number | undefined) ?? 0.01);

/** Reduce over one axis (or all with axis null). Axes are an input from opset 18 (ReduceSum: 13). */
const reduce = (onnxOp: string, axesInputFrom: number): OpExport => (g, t) => {
  const axis = t.attrs.axis as number | null;
  const keepdims = { name: 'keepdims', int: t.attrs.keepDims ? 1 : 0 };
  if (axis === null) return g.node(onnxOp, [t.inputs[0]], [keepdims]);
  if (g.opset >= axesInputFrom) return g.node(onnxOp, [t.inputs[0], g.ints('axes', [axis])], [keepdims]);
  return g.node(onnxOp, [t.inputs[0]], [{ name: 'axes', ints: [axis] }, keepdims]);
};

/** ArgMax/ArgMin as float positions (flat positions without an axis, as ops/reduce.ts). */
const argExtreme = (onnxOp: string): OpExport => (g, t) => {
  const axis = t.attrs.axis as number | null;
  const keep = t.attrs.keepDims === true;
  let x = t.inputs[0];
  if (axis === null) x = g.node('Reshape', [x, g.ints('shape', [-1])]);
  let y = g.node(onnxOp, [x], [{ name: 'axis', int: axis ?? 0 }, { name: 'keepdims', int: axis !== null && keep ? 1 : 0 }]);
  if (axis === null && keep) y = g.node('Reshape', [y, g.ints('shape', t.outShape)]);
  return g.node('Cast', [y], [{ name: 'to', int: ONNX_FLOAT }]);
};

/**
 * Reshape to the traced shape, keeping the dynamic batch: 0 copies the first dimension when it is unchanged,
 * else -1 there absorbs the batch (rows merged or split) when the input's size follows the batch.
 */
const reshape: OpExport = (g, t) => {
  const target = t.outShape.slice();
  if (t.inputFactors[0] > 0 && target.length > 0 && !target.slice(1).includes(0)) {
    target[0] = target[0] === t.inputShapes[0][0] ? 0 : -1;
  }
  return g.node('Reshape', [t.inputs[0], g.ints('shape', target)]);
};

/** Positions along an axis (narrow, indexSelect, indexRows): Gather with constant indices. */
const gather: OpExport = (g, t) => g.node('Gather', [t.inputs[0], g.ints('indices', Array.from(t.attrs.indices as ArrayLike<number>))], [{ name: 'axis', int: num(t, 'axis') }]);

/**
 * The table. Each row's key is the op name lib/ops records (activation ops record their code: 'relu',
 * 'geluTanh'; the fused dense op records 'linear' or 'linear+<activation>').
 */
export const OP_EXPORTS: Record<string, OpExport> = {
  // Normalisation and resizing (lib/ops/norm.ts, upsample.ts); the layers' own exports replace these inside them.
  batchNorm: (g, t) => {
    if (t.attrs.batchStatistics === true) {
      throw new Error('onnx.exportModel: batchNorm with batch statistics (trackRunningStats false) has no ONNX inference form');
    }
    return batchNormNode(g, [t.inputs[0], ...['scale', 'shift', 'mean', 'var'].map((k) => t.tensorAttr(k))], num(t, 'eps'), null);
  },
  groupNorm: (g, t) => groupNormNodes(g, t.inputs[0], t.inputShapes[0].slice(1), num(t, 'numGroups'), num(t, 'eps'), t.tensorAttr('scale'), t.tensorAttr('shift')),
  upsampleNearest: (g, t) => {
    const spatial = t.inputShapes[0].slice(2);
    const scales = t.attrs.scales as ArrayLike<number> | null;
    return resizeNearestNodes(g, t.inputs[0], spatial, Array.from(t.attrs.size as ArrayLike<number>), scales === null ? null : Array.from(scales));
  },
  add: binary('Add'),
  sub: binary('Sub'),
  mul: binary('Mul'),
  div: binary('Div'),
  neg: unary('Neg'),
  exp: unary('Exp'),
  log: unary('Log'),
  sqrt: unary('Sqrt'),
  abs: unary('Abs'),
  pow: (g, t) => g.node('Pow', [t.inputs[0], g.scalar('exponent', num(t, 'p'))]),
  clamp: (g, t) => {
    const lo = t.attrs.min as number | null;
    const hi = t.attrs.max as number | null;
    const inputs = [t.inputs[0], lo === null ? '' : g.scalar('min', lo)];
    if (hi !== null) inputs.push(g.scalar('max', hi));
    return g.node('Clip', inputs);
  },
  matmul: binary('MatMul'),
  linear: (g, t) => linearRow(g, t, 'none'),
  none: (g, t) => g.node('Identity', [t.inputs[0]]),
  relu: activationRow('relu'),
  leakyRelu: activationRow('leakyRelu'),
  sigmoid: activationRow('sigmoid'),
  tanh: activationRow('tanh'),
  gelu: activationRow('gelu'),
  geluTanh: activationRow('geluTanh'),
  softmax: (g, t) => g.node('Softmax', [t.inputs[0]], [{ name: 'axis', int: -1 }]),
  logSoftmax: (g, t) => g.node('LogSoftmax', [t.inputs[0]], [{ name: 'axis', int: -1 }]),
  sum: reduce('ReduceSum', 13),
  mean: reduce('ReduceMean', 18),
  max: reduce('ReduceMax', 18),
  min: reduce('ReduceMin', 18),
  argmax: argExtreme('ArgMax'),
  argmin: argExtreme('ArgMin'),
  reshape,
  transpose: (g, t) => {
    const n = t.inputShapes[0].length;
    const perm = Array.from({ length: n }, (_, i) => (i === n - 2 ? n - 1 : i === n - 1 ? n - 2 : i));
    return g.node('Transpose', [t.inputs[0]], [{ name: 'perm', ints: perm }]);
  },
  concat: (g, t) => g.node('Concat', t.inputs, [{ name: 'axis', int: num(t, 'axis') }]),
  slice: (g, t) => {
    const end = t.inputFactors[0] > 0 && num(t, 'end') === t.inputShapes[0][0] ? TO_END : num(t, 'end');
    return g.node('Slice', [t.inputs[0], g.ints('starts', [num(t, 'start')]), g.ints('ends', [end]), g.ints('axes', [0])]);
  },
  indexRows: gather,
  narrow: gather,
  indexSelect: gather,
  dropout: (g, t) => g.node('Identity', [t.inputs[0]]),
  eq: compare('Equal'),
  ne: compare('Equal', true),
  lt: compare('Less'),
  le: compare('LessOrEqual'),
  gt: compare('Greater'),
  ge: compare('GreaterOrEqual'),
  where: (g, t) => g.node('Where', [g.node('Cast', [t.tensorAttr('cond')], [{ name: 'to', int: ONNX_BOOL }]), t.inputs[0], t.inputs[1]]),
  // ---- sequence ops (lib/ops/seq.ts) ----
  permute: (g, t) => g.node('Transpose', [t.inputs[0]], [{ name: 'perm', ints: Array.from(t.attrs.perm as ArrayLike<number>) }]),
  bmm: binary('MatMul'),
  gather: (g, t) => g.node('GatherElements', [t.inputs[0], intConstant(g, 'index', t.attrs.index as ArrayLike<number>, t.attrs.indexShape as number[])], [{ name: 'axis', int: num(t, 'axis') }]),
  embedding: (g, t) => {
    // Float ids traced from the graph are cast to int64; constant ids become an int64 initializer.
    const ids = t.inputs.length > 1
      ? g.node('Cast', [t.inputs[1]], [{ name: 'to', int: ONNX_INT64 }])
      : intConstant(g, 'ids', t.attrs.ids as ArrayLike<number>, t.attrs.idsShape as number[]);
    return g.node('Gather', [t.inputs[0], ids], [{ name: 'axis', int: 0 }]);
  },
  maskedFill: (g, t) => g.node('Where', [g.node('Cast', [t.tensorAttr('mask')], [{ name: 'to', int: ONNX_BOOL }]), g.scalar('fill', num(t, 'value')), t.inputs[0]]),
  triu: (g, t) => trilu(g, t, 1),
  tril: (g, t) => trilu(g, t, 0),
  cumsum: (g, t) => g.node('CumSum', [t.inputs[0], scalarInt(g, 'axis', num(t, 'axis'))]),
  // TopK's first output, the values (sorted; ties keep the lower index first, as ops.topk).
  topk: (g, t) => g.node('TopK', [t.inputs[0], g.ints('k', [num(t, 'k')])], [
    { name: 'axis', int: num(t, 'axis') }, { name: 'largest', int: t.attrs.largest === false ? 0 : 1 }, { name: 'sorted', int: 1 },
  ], undefined, 2),
  // ---- fused attention (lib/ops/attention.ts) ----
  attention: attentionNodes,
  rope: (g, t) => ropeNodes(g, t.inputs[0], t.tensorAttr('cos'), t.tensorAttr('sin'), t.inputShapes[0][3]),
};

/**
 * The fused attention kernel as standard nodes: Softmax(Where(mask, -inf, q * scale @ k^T)) @ v, the masks (causal,
 * bottom-right aligned, and key padding) as one constant. A row that sees no key is NaN here (0 from the kernel).
 */
function attentionNodes(g: GraphBuilder, t: TracedOp): string {
  const [q, k, v] = t.inputs;
  const T = num(t, 'T'), S = num(t, 'S');
  let scores = g.node('MatMul', [g.node('Mul', [q, g.scalar('scale', num(t, 'scale'))]), g.node('Transpose', [k], [{ name: 'perm', ints: [0, 1, 3, 2] }])]);
  const masks: string[] = [];
  if (t.attrs.causal === true) {
    const m = new Float32Array(T * S);
    for (let i = 0; i < T; i++) for (let j = 0; j < S; j++) m[i * S + j] = j > i + S - T ? 1 : 0;
    masks.push(g.initializer('causal_mask', [T, S], m));
  }
  if (t.attrs.keyPadding !== null && t.attrs.keyPadding !== undefined) masks.push(t.tensorAttr('keyPadding'));
  if (masks.length > 0) {
    const m = masks.length === 1 ? masks[0] : g.node('Add', masks);
    scores = g.node('Where', [g.node('Cast', [m], [{ name: 'to', int: ONNX_BOOL }]), g.scalar('neg_inf', -Infinity), scores]);
  }
  return g.node('MatMul', [g.node('Softmax', [scores], [{ name: 'axis', int: -1 }]), v]);
}

/** RoPE in the rotate-half form: x * cos + concat(-x2, x1) * sin, x1 / x2 the two halves of the last axis. */
export function ropeNodes(g: GraphBuilder, x: string, cos: string, sin: string, D: number): string {
  const half = D / 2;
  const x1 = g.node('Slice', [x, g.ints('starts', [0]), g.ints('ends', [half]), g.ints('axes', [-1])]);
  const x2 = g.node('Slice', [x, g.ints('starts', [half]), g.ints('ends', [D]), g.ints('axes', [-1])]);
  const rotated = g.node('Concat', [g.node('Neg', [x2]), x1], [{ name: 'axis', int: -1 }]);
  return g.node('Add', [g.node('Mul', [x, cos]), g.node('Mul', [rotated, sin])]);
}

const ONNX_INT64 = 7;

/** An int64 constant of the given shape (a 1-D initializer reshaped). */
function intConstant(g: GraphBuilder, base: string, values: ArrayLike<number>, shape: number[]): string {
  const flat = g.ints(base, Array.from(values));
  return shape.length === 1 ? flat : g.node('Reshape', [flat, g.ints('shape', shape)]);
}

/** Trilu (opset 14) keeping the upper (1) or lower (0) triangle from the traced diagonal. */
function trilu(g: GraphBuilder, t: TracedOp, upper: 0 | 1): string {
  if (g.opset < 14) throw new Error(`onnx.exportModel: ${t.op} needs opset 14 or later (ONNX Trilu); pass { opset: 14 } or more, got ${g.opset}`);
  return g.node('Trilu', [t.inputs[0], scalarInt(g, 'k', num(t, 'diagonal'))], [{ name: 'upper', int: upper }]);
}

/** A 0-d int64 constant (CumSum's axis, Trilu's k). */
function scalarInt(g: GraphBuilder, base: string, value: number): string {
  return g.node('Reshape', [g.ints(base, [value]), g.ints('shape', [])]);
}

/** x W^T + b (Gemm for a matrix input, MatMul by W^T and Add otherwise), then the fused activation. */
function linearRow(g: GraphBuilder, t: TracedOp, act: string): string {
  const [x, w, b] = t.inputs;
  let y: string;
  if (t.inputShapes[0].length === 2) {
    const inputs = b === undefined ? [x, w] : [x, w, b];
    y = g.node('Gemm', inputs, [{ name: 'alpha', float: 1 }, { name: 'beta', float: 1 }, { name: 'transB', int: 1 }]);
  } else {
    y = g.node('MatMul', [x, g.node('Transpose', [w], [{ name: 'perm', ints: [1, 0] }])]);
    if (b !== undefined) y = g.node('Add', [y, b]);
  }
  return activation(g, act, y, (t.attrs.alpha as number | undefined) ?? 0.01);
}

/** The row for a recorded op name (the fused 'linear+<act>' included), or undefined. */
export function opExport(op: string): OpExport | undefined {
  if (Object.prototype.hasOwnProperty.call(OP_EXPORTS, op)) return OP_EXPORTS[op];
  if (op.startsWith('linear+')) return (g, t) => linearRow(g, t, op.slice('linear+'.length));
  return undefined;
}
