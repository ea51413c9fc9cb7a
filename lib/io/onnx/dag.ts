// ONNX graph that is not a chain -> nn.Graph: Gemm/MatMul(+Add) become Linear modules, registered layers' operators
// (LayerNormalization) their modules, the rest op nodes (Add, Sub, Mul, Div, Concat, activations, reshapes).
import { onnx } from './schema';
import { ConstTensor, NodeAttributes, nodeView, readTensor, shortestFloat32 } from './decode';
import { ELEMENTWISE_OPS, recogniseGelu } from './elementwise';
import { definitions, type LayerDefinition } from '../../nn/registry';
import { Graph, GRAPH_OPS, runModuleNode, type GraphAttr, type GraphNode } from '../../nn/graph';
import { noGrad } from '../../autograd';
import { fromConfig, type LayerConfig } from '../../nn';
import { Module } from '../../nn/module';
import { Tensor } from '../../tensor';
import type { PreparedGraph } from './graph';
import { recurrentFromOnnx } from '../../nn/recurrent-onnx';
import { RecurrentBase, type RecurrentConfig } from '../../nn/recurrent';
import { TransformerEncoderLayer } from '../../nn/transformer-encoder';
import { Linear } from '../../nn/linear';
import { LayerNorm } from '../../nn/layer-norm';
import { AttributeType, int64ToNumber } from './schema';

/** ONNX operator -> Graph op, for the operators that map one to one (attributes read below). */
const DIRECT: Record<string, string> = {
  Add: 'add', Sub: 'sub', Mul: 'mul', Div: 'div', Relu: 'relu', Sigmoid: 'sigmoid', Tanh: 'tanh',
  Neg: 'neg', Exp: 'exp', Log: 'log', Abs: 'abs', Sqrt: 'sqrt', MatMul: 'matmul',
};

/** ONNX Cast targets -> what the cast op keeps: the value, its integer part, or nonzero -> 1. */
const CAST_TO: Record<number, 'float' | 'int' | 'bool'> = {
  1: 'float', 10: 'float', 11: 'float', 16: 'float', 2: 'int', 3: 'int', 4: 'int', 5: 'int', 6: 'int', 7: 'int', 12: 'int', 13: 'int', 9: 'bool',
};

/** Comparisons and logic (1/0 results). */
const COMPARISONS: Record<string, string> = { Equal: 'equal', Greater: 'greater', Less: 'less', Not: 'not' };

/** Ops whose result is an integer when their first input is (shape arithmetic), and those when all inputs are. */
const KEEPS_INT = new Set(['gather', 'slice', 'unsqueeze', 'squeeze', 'reshape', 'reshapeTo', 'expand', 'identity', 'permute', 'transpose', 'neg', 'abs']);
const ALL_INT = new Set(['concat', 'add', 'sub', 'mul']);
/** Ops whose result is always an integer or 1/0. */
const MAKES_INT = new Set(['shape', 'intDiv', 'equal', 'greater', 'less', 'not']);

/** ONNX reductions -> Graph ops (one axis, or all). */
const REDUCTIONS: Record<string, string> = { ReduceSum: 'sum', ReduceMean: 'mean', ReduceMax: 'max', ReduceMin: 'min' };

/** The module path torch.onnx.export writes in a node's name ('/layers.0/linear1/MatMul' -> 'layers.0.linear1'), or ''. */
function scopeOf(n: onnx.INodeProto): string {
  const parts = (n.name ?? '').split('/').filter((p) => p !== '');
  return parts.length >= 2 && parts.slice(0, -1).every((p) => /^[A-Za-z0-9_.]+$/.test(p)) ? parts.slice(0, -1).join('.') : '';
}

const label = (n: onnx.INodeProto, i: number): string => `${n.opType ?? '?'} node '${n.name || `#${i}`}'`;

function transposed(c: ConstTensor): Float32Array {
  const [r, k] = c.dims;
  const out = new Float32Array(r * k);
  for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) out[j * r + i] = c.data[i * k + j];
  return out;
}

/** A bias constant of `n` values (or one value, broadcast), else null. */
function biasOf(c: ConstTensor | undefined, n: number): Float32Array | null {
  if (c === undefined) return null;
  const fits = (c.dims.length <= 1 || (c.dims.length === 2 && c.dims[0] === 1)) && (c.data.length === n || c.data.length === 1);
  return fits ? Float32Array.from({ length: n }, (_, k) => c.data[c.data.length === 1 ? 0 : k]) : null;
}

/** Builds an nn.Graph equal to the prepared ONNX graph. Throws naming the node it cannot read. */
export function graphFromModel(g: PreparedGraph): Graph {
  const { dataNodes, constants } = g;
  const nodes: GraphNode[] = [];
  const modules: Record<string, Module> = {};
  const graphConstants: Record<string, Tensor> = {};
  const alias = new Map<string, string>();
  const resolve = (s: string): string => alias.get(s) ?? s;
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const n of dataNodes) for (const s of n.input ?? []) if (s) consumers.set(s, [...(consumers.get(s) ?? []), n]);
  const folded = new Set<onnx.INodeProto>();
  const importers = new Map<string, LayerDefinition>();
  for (const def of definitions()) for (const op of Object.keys(def.onnxImport?.attributes ?? {})) importers.set(op, def);

  /** A value a node reads: data (resolved through Identity/Dropout) or a constant copied into the Graph. */
  const operand = (s: string): string => {
    const c = constants.get(s);
    if (c === undefined) return resolve(s);
    if (graphConstants[s] === undefined) graphConstants[s] = new Tensor(Float32Array.from(c.data), c.dims);
    return s;
  };
  /** A module name from a parameter's initializer name ("fc1.weight" -> "fc1"), unique. */
  const moduleName = (init: string, fallback: string): string => {
    const base = init.endsWith('.weight') && !init.includes('::') ? init.slice(0, -'.weight'.length) : fallback;
    let name = base;
    for (let k = 1; modules[name] !== undefined; k++) name = `${base}_${k}`;
    return name;
  };
  // Every value is also computed on a one-row probe of zeros (when the input shapes are known): it gives the
  // per-sample shapes registered imports ask about, and a node that does not fit its inputs fails here, named.
  // The declared batch size when there is one (a static export bakes it into its reshapes), else 1. A graph that
  // computes its shapes at run time (Shape nodes: torch's dynamic batch and length) is probed with stand-ins for
  // its other variable dimensions; if that probe fails somewhere, probing stops (the stand-in may not fit).
  const probes = new Map<string, Tensor>();
  const runtimeShapes = dataNodes.some((n) => n.opType === 'Shape');
  let standIns = false;
  if (g.inputs.every((v) => v.shape !== null && (runtimeShapes || v.shape.slice(1).every((d) => d !== null)))) {
    for (const v of g.inputs) {
      const shape = (v.shape as (number | null)[]).map((d, k) => d ?? (k === 0 ? 1 : 3));
      standIns ||= (v.shape as (number | null)[]).slice(1).some((d) => d === null);
      probes.set(v.name, new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape));
    }
  }
  // Values holding integers (shapes, indices): ONNX Div of integers truncates.
  const ints = new Set<string>([...constants].filter(([, c]) => c.int === true).map(([k]) => k));
  const isInt = (s: string): boolean => ints.has(resolve(s)) || constants.get(s)?.int === true;
  const probe = (node: GraphNode, lbl: string): void => {
    const xs = node.inputs.map((s) => probes.get(s) ?? graphConstants[s]);
    if (xs.some((t) => t === undefined)) return;
    // Modules probe in eval mode: a training-mode BatchNorm would move its running statistics (issue 13).
    const m = node.op === undefined ? modules[node.module as string] : null;
    const wasTraining = m !== null && m.training;
    try {
      if (m !== null) m.eval();
      noGrad(() => {
        if (m === null) probes.set(node.output, GRAPH_OPS[node.op as string].run(xs, node.attrs ?? {}));
        else runModuleNode(m, xs as Tensor[], node, probes);
      });
    } catch (err) {
      if (!standIns) throw new Error(`${lbl}: ${(err as Error).message}`);
      probes.clear();
    } finally {
      if (m !== null) m.train(wasTraining);
    }
  };
  const sampleOf = (s: string): (number | null)[] | null => probes.get(resolve(s))?.shape.slice(1) ?? null;
  let current = '';
  // The torch module path of the node being read ('layers.0.self_attn'), kept per Graph node for collapseEncoderLayers.
  let currentScope = '';
  const scopes = new Map<GraphNode, string>();
  const emit = (node: GraphNode): void => {
    scopes.set(node, currentScope);
    const op = node.op ?? '';
    const intResult = MAKES_INT.has(op) || (KEEPS_INT.has(op) && isInt(node.inputs[0])) || (ALL_INT.has(op) && node.inputs.every(isInt)) ||
      (op === 'where' && isInt(node.inputs[1]) && isInt(node.inputs[2])) || (op === 'cast' && node.attrs?.to !== 'float');
    if (intResult) ints.add(node.output);
    const keepsValues = ['slice', 'gather', 'unsqueeze', 'squeeze', 'reshape', 'reshapeTo', 'expand', 'permute', 'transpose', 'identity'];
    if ((op === 'constantOfShape' && node.attrs?.value === 0) || (keepsValues.includes(op) && zeros.has(node.inputs[0]))) zeros.add(node.output);
    if (node.op !== undefined && node.inputs.every((x) => graphConstants[x] !== undefined)) {
      // Every input is a constant (shape arithmetic on fixed values): computed once here.
      let y: Tensor;
      try {
        y = noGrad(() => GRAPH_OPS[node.op as string].run(node.inputs.map((x) => graphConstants[x]), node.attrs ?? {}));
      } catch (err) {
        throw new Error(`${current}: ${(err as Error).message}`);
      }
      graphConstants[node.output] = y;
      constants.set(node.output, { dims: y.shape.slice(), data: Float64Array.from(y.data), int: ints.has(node.output) });
      return;
    }
    nodes.push(node);
    probe(node, current);
  };
  const addModule = (name: string, config: LayerConfig, params: Record<string, Float32Array>, input: string, output: string): void => {
    const m = fromConfig(config);
    m.loadStateDict(params);
    modules[name] = m;
    emit({ module: name, inputs: [resolve(input)], output });
  };
  const linear = (lbl: string, x: string, init: string, w: Float32Array, out: number, inF: number, bias: Float32Array | null, output: string, i: number, scope = ''): void => {
    const params: Record<string, Float32Array> = { weight: w };
    if (bias) params.bias = bias;
    addModule(moduleName(init, scope || `linear_${i}`), { type: 'Linear', inFeatures: inF, outFeatures: out, bias: bias !== null }, params, x, output);
    void lbl;
  };

  /**
   * A registered layer's decomposition starting at node i (e.g. LayerNorm's ReduceMean/Sub/.../Div below opset 17),
   * with the nodes after it that the layer absorbs (its scale and shift): read as one module node.
   */
  const readRegion = (def: LayerDefinition, i: number): boolean => {
    const first = dataNodes[i];
    const input = (first.input ?? [])[0] ?? '';
    const ctx = { constant: (s: string) => constants.get(s) ?? null, get sample() { return sampleOf(input); } };
    for (let j = i + 1; j < Math.min(dataNodes.length, i + 9); j++) {
      const run = dataNodes.slice(i, j + 1);
      if (run.some((x) => folded.has(x))) return false;
      const layer = def.onnxImport?.region?.(run.map((x, k) => nodeView(x, label(x, i + k))), input, ctx) ?? null;
      if (layer === null) continue;
      let out = (run[run.length - 1].output ?? [])[0] ?? '';
      for (let k = j + 1; k < dataNodes.length; k++) {
        const next = dataNodes[k];
        const readers = consumers.get(out) ?? [];
        if (readers.length !== 1 || readers[0] !== next || g.outputs.includes(out) || !def.onnxImport?.absorb?.(layer, nodeView(next, label(next, k)), ctx)) break;
        run.push(next);
        out = (next.output ?? [])[0] ?? '';
      }
      run.forEach((x) => folded.add(x));
      const scale = run.map((x) => (x.input ?? []).find((s) => constants.has(s) && constants.get(s)?.data.length === layer.params.weight?.length)).find((s) => s !== undefined) ?? '';
      addModule(moduleName(scale, `${layer.config.type.toLowerCase()}_${i}`), layer.config, layer.params, input, out);
      return true;
    }
    return false;
  };

  /** A decomposed GELU (torch below opset 20: Div/Erf/Add/Mul/Mul, or the tanh form) starting at node i. */
  const readGelu = (i: number): boolean => {
    const x = (dataNodes[i].input ?? []).find((s) => s && !constants.has(s));
    if (x === undefined) return false;
    for (let j = i + 1; j < Math.min(dataNodes.length, i + 10); j++) {
      const run = dataNodes.slice(i, j + 1);
      if (run.some((n) => folded.has(n) || !ELEMENTWISE_OPS.has(n.opType ?? ''))) return false;
      const out = (run[run.length - 1].output ?? [])[0] ?? '';
      const inside = new Set(run.flatMap((n) => n.output ?? []));
      // Its intermediate values are read only inside it.
      const escapes = run.slice(0, -1).some((n) => (n.output ?? []).some((o) => g.outputs.includes(o) || (consumers.get(o) ?? []).some((c) => !run.includes(c))));
      const reads = run.every((n) => (n.input ?? []).every((s) => s === x || inside.has(s) || constants.get(s)?.data.length === 1));
      if (escapes || !reads) continue;
      const approx = recogniseGelu(run, x, out, constants);
      if (approx === null) continue;
      run.forEach((n) => folded.add(n));
      current = label(dataNodes[i], i);
      emit({ op: 'gelu', inputs: [resolve(x)], output: out, attrs: { approximate: approx } });
      return true;
    }
    return false;
  };

  /** Values that are all zeros: a ConstantOfShape of 0 (torch's default initial states) and slices of it. */
  const zeros = new Set<string>();
  const isZero = (s: string): boolean => zeros.has(resolve(s)) || (constants.get(s)?.data.every((v) => v === 0) ?? false);

  /**
   * An ONNX LSTM/GRU node -> a one-layer nn.LSTM/nn.GRU module node. Initial states that are zeros are left out;
   * others are passed (LSTM: [h0, c0]). The module's output [T, B, D*H] is ONNX's Y [T, D, B, H] flattened the way
   * exporters flatten it (Squeeze of axis 1, or Transpose [0,2,1,3] + Reshape [0,0,-1]): that step is absorbed;
   * any other reader of Y gets Y back by a reshape and a permute. Y_h and Y_c, when read, are the module's final
   * states (the node's stateOutputs). layout 1 (batch-major X, Y [B, T, D, H], states [B, D, H]) is a batchFirst
   * module with the states' first two axes swapped; direction 'reverse' is the forward layer run on the sequence
   * reversed in time, its output reversed back (PyTorch has no reverse-only layer; its final state is the same).
   */
  const readRecurrent = (n: onnx.INodeProto, i: number, lbl: string, op: 'LSTM' | 'GRU'): void => {
    const ins = n.input ?? [];
    const outs = n.output ?? [];
    const attrs: Record<string, number | string | number[] | string[]> = {};
    for (const a of n.attribute ?? []) {
      const name = a.name ?? '';
      if (a.type === AttributeType.INT) attrs[name] = int64ToNumber(a.i, `${lbl} attribute ${name}`);
      else if (a.type === AttributeType.FLOAT) attrs[name] = a.f ?? 0;
      else if (a.type === AttributeType.STRING) attrs[name] = new TextDecoder().decode(a.s ?? new Uint8Array());
      else if (a.type === AttributeType.STRINGS) attrs[name] = (a.strings ?? []).map((x) => new TextDecoder().decode(x));
      else if (a.type === AttributeType.FLOATS) attrs[name] = (a.floats ?? []).slice();
    }
    const W = constants.get(ins[1]);
    const R = constants.get(ins[2]);
    const B = ins[3] ? constants.get(ins[3]) : null;
    if (W === undefined || R === undefined || B === undefined) throw new Error(`${lbl}: W, R and B must be constants (initializers)`);
    if (ins[4]) throw new Error(`${lbl}: sequence_lens is not supported (every sequence runs its full length)`);
    if (op === 'LSTM' && ins[7]) throw new Error(`${lbl}: peephole weights P are not supported (PyTorch's LSTM has none)`);
    const { config, params, reverse } = recurrentFromOnnx({ kind: op, label: lbl, attrs, W, R, B });
    const D = config.bidirectional ? 2 : 1;
    const H = config.hiddenSize;
    const batchMajor = config.batchFirst; // layout 1
    const timeAxis = batchMajor ? 1 : 0;
    const stateNames = op === 'LSTM' ? [ins[5], ins[6]] : [ins[5]];
    const given = stateNames.filter((x) => x && !isZero(x)).length > 0;
    if (given && stateNames.some((x) => !x)) throw new Error(`${lbl}: give both initial_h and initial_c, or neither`);
    const y = outs[0] ?? '';
    /** A node reading `from` into `out`. */
    const step = (opName: string, from: string, out: string, a?: Record<string, GraphAttr>, extra: string[] = []): string => {
      emit({ op: opName, inputs: [from, ...extra], output: out, ...(a ? { attrs: a } : {}) });
      return out;
    };
    const swap01 = (from: string, out: string): string => step('permute', from, out, { perm: [1, 0, 2] });
    /** The sequence reversed in time (ONNX Slice with step -1 over the time axis). */
    const flip = (from: string, out: string): string => {
      const key = `${y}::flip_`;
      const values: [string, number][] = [['starts', -1], ['ends', -2147483648], ['axes', timeAxis], ['steps', -1]];
      for (const [k, v] of values) graphConstants[key + k] = new Tensor(Float32Array.of(v), [1]);
      return step('slice', from, out, undefined, values.map(([k]) => key + k));
    };
    const states = given ? stateNames.map((s, k) => (batchMajor ? swap01(operand(s), `${y}::initial_${k}`) : operand(s))) : [];
    const x = reverse ? flip(resolve(ins[0]), `${y}::reversed_input`) : resolve(ins[0]);
    const inputs = [x, ...states];
    // The reader that flattens Y as nn.LSTM's output does, when it is Y's only reader.
    const only = (v: string): onnx.INodeProto | null => {
      const c = consumers.get(v) ?? [];
      return c.length === 1 && !g.outputs.includes(v) && !folded.has(c[0]) ? c[0] : null;
    };
    const readsAxes = (x: onnx.INodeProto): number[] | null => (x.input?.[1] ? Array.from(constants.get(x.input[1])?.data ?? []) : nodeView(x, lbl).ints('axes'));
    const flattens = (r: onnx.INodeProto | null): boolean => {
      const target = r?.opType === 'Reshape' ? constants.get((r.input ?? [])[1] ?? '') : undefined;
      return r !== null && target !== undefined && Array.from(target.data).join() === '0,0,-1' && new NodeAttributes(r).int('allowzero', 0) === 0;
    };
    let output = '';
    let swapAfter = '';
    const next = only(y);
    if (next && D === 1 && next.opType === 'Squeeze' && readsAxes(next)?.join() === String(timeAxis + 1)) {
      folded.add(next);
      output = (next.output ?? [])[0] ?? '';
    } else if (batchMajor && flattens(next)) {
      // Y [B, T, D, H] -> [B, T, D*H]: the batch-first module's output
      folded.add(next as onnx.INodeProto);
      output = ((next as onnx.INodeProto).output ?? [])[0] ?? '';
    } else if (!batchMajor && next && next.opType === 'Transpose' && ['0,2,1,3', '2,0,1,3'].includes(nodeView(next, lbl).ints('perm')?.join() ?? '')) {
      // [2,0,1,3]: exportModel's batch-first last layer, [B, T, D*H]: the sequence with batch and time swapped
      const reshape = only((next.output ?? [])[0] ?? '');
      if (flattens(reshape)) {
        folded.add(next);
        folded.add(reshape as onnx.INodeProto);
        output = ((reshape as onnx.INodeProto).output ?? [])[0] ?? '';
        if (nodeView(next, lbl).ints('perm')?.join() === '2,0,1,3') swapAfter = output;
      }
    }
    // Y_h, Y_c when something reads them: [D, B, H] as the module gives them ([B, D, H] with layout 1)
    const read = (o: string | undefined): boolean => !!o && ((consumers.get(o) ?? []).length > 0 || g.outputs.includes(o));
    const stateOuts = [outs[1], op === 'LSTM' ? outs[2] : undefined].map((o) => (read(o) ? (batchMajor ? `${o as string}::dbh` : (o as string)) : ''));
    while (stateOuts.length > 0 && stateOuts[stateOuts.length - 1] === '') stateOuts.pop();
    const m = fromConfig(config);
    m.loadStateDict(params);
    const name = moduleName('', scopeOf(n) || `${op.toLowerCase()}_${i}`);
    modules[name] = m;
    const seqName = output && !swapAfter ? output : `${y}::sequence`;
    emit({
      module: name, inputs, output: reverse ? `${y}::reversed_sequence` : seqName,
      ...(given && op === 'LSTM' ? { attrs: { states: 'list' } } : {}), ...(stateOuts.length > 0 ? { stateOutputs: stateOuts } : {}),
    });
    stateOuts.forEach((s, k) => {
      if (s !== '' && batchMajor) swap01(s, outs[k + 1]);
    });
    if (reverse) flip(`${y}::reversed_sequence`, seqName);
    if (swapAfter) emit({ op: 'permute', inputs: [seqName], output: swapAfter, attrs: { perm: [1, 0, 2] } });
    if (output === '') {
      // Y ([T, D, B, H], or [B, T, D, H] with layout 1) from the sequence [T, B, D*H] ([B, T, D*H])
      const split = `${y}::split`;
      graphConstants[split] = new Tensor(Float32Array.of(0, 0, D, H), [4]);
      if (batchMajor) emit({ op: 'reshapeTo', inputs: [seqName, split], output: y });
      else {
        emit({ op: 'reshapeTo', inputs: [seqName, split], output: `${y}::blocks` });
        emit({ op: 'permute', inputs: [`${y}::blocks`], output: y, attrs: { perm: [0, 2, 1, 3] } });
      }
    }
  };

  dataNodes.forEach((n, i) => {
    if (folded.has(n)) return;
    const lbl = label(n, i);
    current = lbl;
    currentScope = scopeOf(n);
    const ins = n.input ?? [];
    const out = (n.output ?? [])[0] ?? '';
    const attrs = new NodeAttributes(n);
    const constIn = (k: number): ConstTensor | undefined => (ins[k] ? constants.get(ins[k]) : undefined);
    const op = n.opType ?? '';
    const push = (graphOp: string, inputs: string[], a?: Record<string, GraphAttr>): void => {
      emit({ op: graphOp, inputs: inputs.map(operand), output: out, ...(a ? { attrs: a } : {}) });
    };
    const def = importers.get(op);
    if (def?.onnxImport?.region !== undefined && readRegion(def, i)) return;
    if (ELEMENTWISE_OPS.has(op) && readGelu(i)) return;
    const reduction = REDUCTIONS[op];
    if (reduction !== undefined) {
      const axesIn = constIn(1);
      const axes = axesIn ? Array.from(axesIn.data) : nodeView(n, lbl).ints('axes');
      if (axes !== null && axes.length > 1) throw new Error(`${lbl}: reducing over several axes [${axes.join(',')}] is not supported (one, or all)`);
      if (attrs.int('noop_with_empty_axes', 0) !== 0) throw new Error(`${lbl}: noop_with_empty_axes=1 is not supported`);
      return push(reduction, [ins[0]], { axis: axes === null || axes.length === 0 ? null : axes[0], keepDims: attrs.int('keepdims', 1) === 1 });
    }
    switch (op) {
      case 'Gemm': {
        const b = constIn(1);
        if (constants.has(ins[0]) || b === undefined || b.dims.length !== 2) throw new Error(`${lbl}: only Gemm(input, constant 2-D B[, constant C]) is supported`);
        if (attrs.int('transA', 0) !== 0) throw new Error(`${lbl}: transA=${attrs.int('transA', 0)} is not supported (only 0)`);
        const transB = attrs.int('transB', 0);
        if (transB !== 0 && transB !== 1) throw new Error(`${lbl}: transB must be 0 or 1, got ${transB}`);
        const hasC = ins.length > 2 && !!ins[2];
        if (attrs.float('alpha', 1) !== 1 || (hasC && attrs.float('beta', 1) !== 1)) throw new Error(`${lbl}: alpha and beta must be 1`);
        const [outF, inF] = transB === 1 ? b.dims : [b.dims[1], b.dims[0]];
        const w = transB === 1 ? Float32Array.from(b.data) : transposed(b);
        const bias = hasC ? biasOf(constIn(2), outF) : null;
        if (hasC && bias === null) throw new Error(`${lbl}: C must be a constant of ${outF} values`);
        linear(lbl, ins[0], ins[1], w, outF, inF, bias, out, i);
        return;
      }
      case 'MatMul': {
        const b = constIn(1);
        if (b === undefined || b.dims.length !== 2 || constants.has(ins[0])) return push('matmul', [ins[0], ins[1]]);
        // x @ W (+ bias): a Linear with weight W^T; an Add of a matching constant that alone reads it is its bias.
        const [inF, outF] = b.dims;
        const next = consumers.get(out) ?? [];
        const add = next.length === 1 && next[0].opType === 'Add' ? next[0] : null;
        const addConst = add ? (add.input ?? []).find((s) => s !== out) : undefined;
        const bias = add && addConst !== undefined && !g.outputs.includes(out) ? biasOf(constants.get(addConst), outF) : null;
        if (add && bias) folded.add(add);
        linear(lbl, ins[0], ins[1], transposed(b), outF, inF, bias, add && bias ? (add.output ?? [])[0] ?? '' : out, i, scopeOf(n));
        return;
      }
      case 'Identity':
      case 'Dropout':
        alias.set(out, resolve(ins[0]));
        return;
      case 'LeakyRelu': {
        const alpha = attrs.float('alpha', 0.01);
        if (!Number.isFinite(alpha)) throw new Error(`${lbl}: alpha must be finite, got ${alpha}`);
        return push('leakyRelu', [ins[0]], { alpha: shortestFloat32(alpha) });
      }
      case 'Gelu': {
        const approx = attrs.string('approximate', 'none');
        if (approx !== 'none' && approx !== 'tanh') throw new Error(`${lbl}: approximate='${approx}' is not supported`);
        return push('gelu', [ins[0]], { approximate: approx });
      }
      case 'Softmax':
      case 'LogSoftmax': {
        // Over the last axis: -1, or rank - 1 (opset 13+ semantics; below 13 the default axis 1 flattens, so it must be the last).
        const sample = sampleOf(ins[0]);
        const axis = attrs.int('axis', g.opset >= 13 ? -1 : 1);
        // From opset 13 the axis is one axis (any); before, the input was flattened from it, so only the last fits.
        if (g.opset >= 13 && axis !== -1) return push(op === 'Softmax' ? 'softmax' : 'logSoftmax', [ins[0]], { axis });
        if (!(axis === -1 || (sample !== null && axis === sample.length))) {
          throw new Error(`${lbl}: only ${op} over the last axis is supported (axis=${axis}, input rank ${sample === null ? 'unknown' : sample.length + 1})`);
        }
        return push(op === 'Softmax' ? 'softmax' : 'logSoftmax', [ins[0]]);
      }
      case 'Flatten': {
        const axis = attrs.int('axis', 1);
        if (axis < 1) throw new Error(`${lbl}: axis=${axis} is not supported (only >= 1)`);
        return push('flatten', [ins[0]], { startDim: axis });
      }
      case 'Reshape': {
        const shape = constIn(1);
        if (attrs.int('allowzero', 0) !== 0) throw new Error(`${lbl}: allowzero=${attrs.int('allowzero', 0)} is not supported (only 0)`);
        // A shape computed in the graph (torch's head split for a dynamic batch and length) is read at run time.
        if (shape === undefined) return push('reshapeTo', [ins[0], ins[1]]);
        return push('reshape', [ins[0]], { shape: Array.from(shape.data) });
      }
      case 'Shape': {
        const a: Record<string, GraphAttr> = {};
        if (attrs.has('start')) a.start = attrs.int('start', 0);
        if (attrs.has('end')) a.end = attrs.int('end', 0);
        return push('shape', [ins[0]], a);
      }
      case 'ConstantOfShape': {
        const t = attrs.tensor('value');
        const v = t ? readTensor(t, `${lbl} value`) : { dims: [1], data: Float64Array.of(0), int: false };
        if (v.data.length !== 1) throw new Error(`${lbl}: value must hold one element, got ${v.data.length}`);
        if (v.int === true) ints.add(out);
        return push('constantOfShape', [ins[0]], { value: v.data[0] });
      }
      case 'Slice': {
        if (ins.length < 3 || ins.some((s) => !s)) throw new Error(`${lbl}: only Slice(data, starts, ends[, axes[, steps]]) with every input given is supported (opset 10+)`);
        return push('slice', ins.slice());
      }
      case 'Unsqueeze':
      case 'Squeeze': {
        const graphOp = op === 'Unsqueeze' ? 'unsqueeze' : 'squeeze';
        const axes = nodeView(n, lbl).ints('axes');
        if (ins.length > 1 && ins[1]) return push(graphOp, [ins[0], ins[1]]);
        return push(graphOp, [ins[0]], axes === null ? {} : { axes });
      }
      case 'Expand':
        return push('expand', [ins[0], ins[1]]);
      case 'Where':
        return push('where', [ins[0], ins[1], ins[2]]);
      case 'Equal':
      case 'Greater':
      case 'Less':
      case 'Not':
        if (ins.length !== (op === 'Not' ? 1 : 2)) throw new Error(`${lbl}: unexpected number of inputs (${ins.length})`);
        return push(COMPARISONS[op], ins.slice());
      case 'Cast': {
        const to = attrs.int('to', 0);
        const kind = CAST_TO[to];
        if (kind === undefined) throw new Error(`${lbl}: a Cast to ${onnx.TensorProto.DataType[to] ?? to} is not supported (float, integer and bool types are)`);
        return push('cast', [ins[0]], { to: kind });
      }
      case 'LSTM':
      case 'GRU':
        return readRecurrent(n, i, lbl, op);
      case 'Gather': {
        // A constant table read at the running ids is an nn.Embedding (below); anything else is an index op.
        if (constants.has(ins[0]) && !constants.has(ins[1]) && !isInt(ins[0])) break;
        return push('gather', [ins[0], ins[1]], { axis: attrs.int('axis', 0) });
      }
      case 'Concat':
        return push('concat', ins.slice(), { axis: attrs.int('axis', 0) });
      case 'Pow': {
        const p = constIn(1);
        if (p === undefined || p.data.length !== 1) throw new Error(`${lbl}: only Pow by a constant scalar exponent is supported`);
        return push('pow', [ins[0]], { p: p.data[0] });
      }
      case 'Transpose': {
        const perm = nodeView(n, lbl).ints('perm');
        const rank = sampleOf(ins[0])?.length;
        const swapLast = perm !== null && perm.length >= 2 && perm.every((d, k) => d === (k === perm.length - 2 ? perm.length - 1 : k === perm.length - 1 ? perm.length - 2 : k));
        if (swapLast && (rank === undefined || rank + 1 === perm.length)) return push('transpose', [ins[0]]);
        return push('permute', [ins[0]], perm === null ? {} : { perm });
      }
    }
    switch (op) {
      default: {
        const graphOp = op === 'Div' && ins.every(isInt) ? 'intDiv' : DIRECT[op];
        if (graphOp !== undefined) {
          if (ins.length !== GRAPH_OPS[graphOp].arity) throw new Error(`${lbl}: unexpected number of inputs (${ins.length})`);
          return push(graphOp, ins.slice());
        }
        if (def?.onnxImport?.node !== undefined) {
          const layer = def.onnxImport.node(nodeView(n, lbl), { constant: (s) => constants.get(s) ?? null, sample: sampleOf(ins[0]) });
          const init = ins.find((s, k) => k > 0 && constants.has(s)) ?? '';
          addModule(moduleName(init, `${layer.config.type.toLowerCase()}_${i}`), layer.config, layer.params, ins[0], out);
          return;
        }
        throw new Error(`${lbl}: operator ${op} is not supported in a graph`);
      }
    }
  });

  // Outputs that are aliases (an Identity before the output) get an identity node under their own name.
  for (const o of g.outputs) {
    if (alias.has(o)) emit({ op: 'identity', inputs: [resolve(o)], output: o });
  }
  mergeRecurrentStacks(nodes, modules, graphConstants, g.outputs);
  collapseEncoderLayers(nodes, modules, graphConstants, g, scopes);
  // Nodes nothing reads (shape arithmetic for states left out) and constants no node reads are dropped.
  const live = new Set(g.outputs);
  const kept: GraphNode[] = [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    if (![nodes[k].output, ...(nodes[k].stateOutputs ?? [])].some((o) => live.has(o))) continue;
    kept.unshift(nodes[k]);
    nodes[k].inputs.forEach((x) => live.add(x));
  }
  for (const name of Object.keys(modules)) if (!kept.some((x) => x.module === name)) delete modules[name];
  const usedConstants = Object.fromEntries(Object.entries(graphConstants).filter(([k]) => live.has(k)));
  return new Graph({ inputs: g.inputs.map((v) => v.name), outputs: g.outputs.slice(), nodes: kept, modules, constants: usedConstants });
}

/**
 * Joins the one-layer nn.LSTM/nn.GRU module nodes an exporter writes per layer back into one module: layer k+1 reading
 * only layer k's output (same kind, hidden size, directions and bias) becomes layer k+1 of the first (numLayers),
 * initial states sliced per layer from one graph value ([k*D, (k+1)*D) on axis 0, as torch and exportModel write them)
 * become the stack's states, and Transposes [1,0,2] around the whole stack become batchFirst.
 */
function mergeRecurrentStacks(nodes: GraphNode[], modules: Record<string, Module>, constants: Record<string, Tensor>, outputs: string[]): void {
  const readers = (v: string): GraphNode[] => nodes.filter((n) => n.inputs.includes(v));
  const onlyReader = (v: string): GraphNode | null => {
    const r = readers(v);
    return r.length === 1 && !outputs.includes(v) ? r[0] : null;
  };
  const producer = (v: string): GraphNode | undefined => nodes.find((n) => n.output === v);
  const recurrent = (n: GraphNode | null | undefined): RecurrentConfig | null => {
    const m = n?.module !== undefined ? modules[n.module] : undefined;
    return m instanceof RecurrentBase ? m.toConfig() : null;
  };
  const constInts = (v: string | undefined): number[] | null => (v !== undefined && constants[v] !== undefined ? Array.from(constants[v].data) : null);
  /** The source value when `v` is a slice [k*D, (k+1)*D) of axis 0 of it, else null. */
  const sliceOf = (v: string, k: number, D: number): string | null => {
    const p = producer(v);
    if (p?.op !== 'slice' || p.inputs.length > 4) return null;
    const [src, st, en, ax] = p.inputs;
    const ok = constInts(st)?.join() === String(k * D) && constInts(en)?.join() === String((k + 1) * D) && (ax === undefined || constInts(ax)?.join() === '0');
    return ok ? src : null;
  };
  const isSwap = (n: GraphNode | null | undefined): boolean => n?.op === 'permute' && (n.attrs?.perm as number[] | undefined)?.join() === '1,0,2';
  for (const first of nodes.slice()) {
    const c0 = recurrent(first);
    if (c0 === null || c0.numLayers !== 1 || !nodes.includes(first)) continue;
    const D = c0.bidirectional ? 2 : 1;
    const states = first.inputs.slice(1);
    const sources = states.map((v) => sliceOf(v, 0, D));
    if (sources.some((x) => x === null)) continue;
    const stack = [first];
    for (;;) {
      const last = stack[stack.length - 1];
      const next = onlyReader(last.output);
      const c = recurrent(next);
      if (next === null || c === null || c.numLayers !== 1 || next.inputs[0] !== last.output || c.type !== c0.type || c.hiddenSize !== c0.hiddenSize ||
        c.bidirectional !== c0.bidirectional || c.bias !== c0.bias || c.batchFirst !== c0.batchFirst || next.inputs.length !== first.inputs.length ||
        next.inputs.slice(1).some((v, j) => sliceOf(v, stack.length, D) !== sources[j])) break;
      stack.push(next);
    }
    const before = producer(first.inputs[0]);
    const after = onlyReader(stack[stack.length - 1].output);
    const swapped = !c0.batchFirst && isSwap(before) && onlyReader(first.inputs[0]) === first && isSwap(after);
    if (stack.length === 1 && !swapped) continue;
    // Final states read per layer: one Concat on axis 0 of every layer's, in order, is the stack's (as torch writes h_n).
    const stateJoins: (GraphNode | null)[] = [];
    const stateOutputs: string[] = [];
    for (let k = 0; k < 2; k++) {
      const names = stack.map((n) => n.stateOutputs?.[k] ?? '');
      const concat = names[0] === '' ? null : onlyReader(names[0]);
      const joins = stack.length > 1 && concat !== null && concat.op === 'concat' && (concat.attrs?.axis ?? 0) === 0 && concat.inputs.join() === names.join() &&
        names.every((v) => onlyReader(v) === concat);
      stateJoins.push(joins ? concat : null);
      stateOutputs.push(names.every((v) => v === '') ? '' : stack.length === 1 ? names[0] : joins ? (concat as GraphNode).output : '?');
    }
    if (stateOutputs.includes('?')) continue; // a layer's own final state is read: the layers stay apart
    while (stateOutputs.length > 0 && stateOutputs[stateOutputs.length - 1] === '') stateOutputs.pop();
    const batchFirst = c0.batchFirst || swapped;
    const config: RecurrentConfig = { ...c0, numLayers: stack.length, batchFirst };
    const params: Record<string, Tensor> = {};
    stack.forEach((n, k) => {
      for (const [name, t] of Object.entries((modules[n.module as string] as Module).stateDict())) params[name.replace('_l0', `_l${k}`)] = t;
    });
    const merged = fromConfig(config);
    merged.loadStateDict(params);
    modules[first.module as string] = merged;
    const input = swapped ? (before as GraphNode).inputs[0] : first.inputs[0];
    const output = swapped ? (after as GraphNode).output : stack[stack.length - 1].output;
    const joined: GraphNode = { ...first, inputs: [input, ...(sources as string[])], output };
    delete joined.stateOutputs;
    if (stateOutputs.length > 0) joined.stateOutputs = stateOutputs;
    const drop = new Set<GraphNode>([...stack, ...(swapped ? [before as GraphNode, after as GraphNode] : []), ...stateJoins.filter((n): n is GraphNode => n !== null)]);
    // The merged node sits where the stack's last layer was (everything it reads is computed by then); the rest go.
    nodes.splice(nodes.indexOf(stack[stack.length - 1]), 1, joined);
    for (let k = nodes.length - 1; k >= 0; k--) if (drop.has(nodes[k])) nodes.splice(k, 1);
    for (const n of stack.slice(1)) delete modules[n.module as string];
  }
}

/**
 * Replaces the nodes torch.onnx.export wrote for one nn.TransformerEncoderLayer (node names under '<...>layers.K/')
 * with a TransformerEncoderLayer module (torch's parameter names; dropout 0, as the exported eval-mode file computes).
 * A layer's nodes must read one value and give one, hold its Linear (self_attn = in_proj, self_attn.out_proj, linear1,
 * linear2) and LayerNorm (norm1, norm2) modules and a relu or exact gelu; the head count and layout are the ones for
 * which the module reproduces the nodes' output on a random input (relative 1e-4), else the nodes stay as they are.
 */
function collapseEncoderLayers(nodes: GraphNode[], modules: Record<string, Module>, constants: Record<string, Tensor>, g: PreparedGraph, scopes: Map<GraphNode, string>): void {
  const keyOf = (n: GraphNode): string | null => /^(.*?layers\.\d+)(\.|$)/.exec(scopes.get(n) ?? '')?.[1] ?? null;
  const keys = [...new Set(nodes.map(keyOf).filter((k): k is string => k !== null))];
  if (keys.length === 0 || g.inputs.some((v) => v.shape === null)) return;
  // Every value on a random input (unknown dimensions 2, 3, 4, ...), to check candidates against.
  // (a named dimension gets the same stand-in in every input: a padding mask's [batch, length] fits the data's)
  let stand = 2;
  const named = new Map<string, number>();
  const standIn = (name: string | null | undefined): number => {
    if (!name) return stand++;
    if (!named.has(name)) named.set(name, stand++);
    return named.get(name) as number;
  };
  const values = new Map<string, Tensor>(Object.entries(constants));
  let seed = 12345;
  const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  for (const v of g.inputs) {
    const shape = (v.shape as (number | null)[]).map((d, k) => d ?? standIn(v.dimNames?.[k]));
    values.set(v.name, new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, random), shape));
  }
  // Modules run in eval mode (a training-mode BatchNorm would move its statistics) and get their mode back after.
  const modes = Object.values(modules).map((m) => [m, m.training] as const);
  try {
    noGrad(() => {
      for (const n of nodes) {
        const xs = n.inputs.map((x) => values.get(x) as Tensor);
        const m = n.module !== undefined ? modules[n.module] : null;
        if (m !== null) m.eval();
        if (m === null) values.set(n.output, GRAPH_OPS[n.op as string].run(xs, n.attrs ?? {}));
        else runModuleNode(m, xs, n, values);
      }
    });
  } catch {
    return; // the graph does not run at these stand-in sizes: nothing is collapsed
  } finally {
    for (const [m, training] of modes) m.train(training);
  }
  for (const key of keys) {
    const region = nodes.filter((n) => keyOf(n) === key);
    const first = nodes.indexOf(region[0]);
    if (nodes.slice(first, first + region.length).some((n) => keyOf(n) !== key)) continue; // not contiguous
    const outsOf = (n: GraphNode): string[] => [n.output, ...(n.stateOutputs ?? []).filter((o) => o !== '')];
    const made = new Set(region.flatMap(outsOf));
    const inputs = [...new Set(region.flatMap((n) => n.inputs).filter((x) => !made.has(x) && constants[x] === undefined))];
    const after = nodes.slice(first + region.length);
    const outputs = region.flatMap(outsOf).filter((o) => g.outputs.includes(o) || after.some((n) => n.inputs.includes(o)));
    if (inputs.length > 2 || outputs.length !== 1) continue;
    const mod = (suffix: string): Module | undefined => region.some((n) => n.module === `${key}.${suffix}`) ? modules[`${key}.${suffix}`] : undefined;
    const [inProj, outProj, linear1, linear2, norm1, norm2] = ['self_attn', 'self_attn.out_proj', 'linear1', 'linear2', 'norm1', 'norm2'].map(mod);
    if (!(inProj instanceof Linear && outProj instanceof Linear && linear1 instanceof Linear && linear2 instanceof Linear && norm1 instanceof LayerNorm && norm2 instanceof LayerNorm)) continue;
    const d = inProj.inFeatures;
    const gelu = region.find((n) => n.op === 'gelu');
    const activation = gelu !== undefined ? (gelu.attrs?.approximate === 'none' ? 'gelu' : null) : region.some((n) => n.op === 'relu') ? 'relu' : null;
    const eps = norm1.toConfig().eps;
    if (activation === null || inProj.outFeatures !== 3 * d || norm2.toConfig().eps !== eps || inProj.bias === null || outProj.bias === null) continue;
    const normFirst = region.findIndex((n) => n.module === `${key}.norm1`) < region.findIndex((n) => n.module === `${key}.self_attn`);
    const params: Record<string, Tensor> = {
      'self_attn.in_proj_weight': inProj.weight, 'self_attn.in_proj_bias': inProj.bias, 'self_attn.out_proj.weight': outProj.weight, 'self_attn.out_proj.bias': outProj.bias,
      'linear1.weight': linear1.weight, 'linear2.weight': linear2.weight, 'norm1.weight': norm1.weight as Tensor, 'norm1.bias': norm1.bias as Tensor,
      'norm2.weight': norm2.weight as Tensor, 'norm2.bias': norm2.bias as Tensor,
    };
    if (linear1.bias === null || linear2.bias === null) continue;
    params['linear1.bias'] = linear1.bias;
    params['linear2.bias'] = linear2.bias;
    // The layer's input [.., .., d], and with a second input its key padding mask [batch, length] (torch's
    // src_key_padding_mask: the layer's nodes reshape and expand it into the attention scores' Where/Add of -inf).
    const xName = inputs.find((v) => values.get(v)?.ndim === 3 && values.get(v)?.shape[2] === d);
    const maskName = inputs.find((v) => v !== xName);
    if (xName === undefined || (maskName !== undefined && values.get(maskName)?.ndim !== 2)) continue;
    const x = values.get(xName) as Tensor;
    const mask = maskName === undefined ? null : (values.get(maskName) as Tensor);
    const want = values.get(outputs[0]) as Tensor;
    let found: TransformerEncoderLayer | null = null;
    for (let nhead = 1; nhead <= d && found === null; nhead++) {
      if (d % nhead !== 0) continue;
      for (const batchFirst of [true, false]) {
        const layer = new TransformerEncoderLayer(d, nhead, { dimFeedforward: linear1.outFeatures, dropout: 0, activation, normFirst, batchFirst, layerNormEps: eps });
        layer.loadStateDict(params);
        layer.eval();
        let y: Tensor;
        try {
          y = noGrad(() => (mask === null ? layer.forward(x) : layer.encode(x, { keyPaddingMask: mask })));
        } catch {
          continue;
        }
        if (y.shape.join() !== want.shape.join()) continue;
        let ok = true;
        // (NaN where both are: a sequence padded everywhere attends to nothing, in torch as here)
        for (let i = 0; i < y.size && ok; i++) ok = Math.abs(y.data[i] - want.data[i]) <= 1e-5 + 1e-4 * Math.abs(want.data[i]) || (Number.isNaN(y.data[i]) && Number.isNaN(want.data[i]));
        if (ok) {
          found = layer;
          break;
        }
      }
    }
    if (found === null) continue;
    for (const n of region) if (n.module !== undefined) delete modules[n.module];
    modules[key] = found;
    nodes.splice(first, region.length, maskName === undefined
      ? { module: key, inputs: [xName], output: outputs[0] }
      : { module: key, inputs: [xName, maskName], output: outputs[0], attrs: { keyPaddingMask: true } });
  }
}
