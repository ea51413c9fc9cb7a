// ONNX graph -> LayerSpec[]: folds constants, checks the graph is a chain, and maps each link to a myelin layer.
import { onnx, int64ToNumber, AttributeType } from './schema';
import { ConstTensor, NodeAttributes, nodeView, readTensor, defaultOpset, shortestFloat32 } from './decode';
import { ELEMENTWISE_OPS, recogniseGelu } from './elementwise';
import { LayerSpec } from './layers';
import { absorbPads } from './pad';
import { DROPOUT_DOC_PREFIX } from '../../nn/dropout';
import { definitionOfType, definitions, type ImportedLayer, type LayerDefinition, type OnnxImportContext } from '../../nn/registry';

/** Operators importModel understands (the elementwise ones only inside a decomposed GELU). */
export const SUPPORTED_OPS = new Set([
  'Gemm', 'MatMul', 'Add', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Softmax', 'Flatten', 'Reshape',
  'Identity', 'Dropout', 'Gelu', 'Constant', 'Cast', ...ELEMENTWISE_OPS,
]);

/** Operators only a Graph import reads (dag.ts): a graph with any of them is not read as a chain. */
export const GRAPH_ONLY_OPS = new Set([
  'Concat', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'LogSoftmax', 'Log', 'Abs', 'Transpose',
  // shape arithmetic (torch.onnx.export's attention head split, masks) and recurrent nodes
  'Shape', 'Slice', 'Unsqueeze', 'Squeeze', 'ConstantOfShape', 'Expand', 'Where', 'Equal', 'Greater', 'Less', 'Not',
  'LSTM', 'GRU',
]);

/** The registered layers that read ONNX themselves, by the operators they read. */
function importersByOp(): Map<string, LayerDefinition> {
  const out = new Map<string, LayerDefinition>();
  for (const def of definitions()) for (const op of Object.keys(def.onnxImport?.attributes ?? {})) out.set(op, def);
  return out;
}

/** Operators importModel understands: the built-in rules' and those of registered layers. */
function supportedOps(): Set<string> {
  return new Set([...SUPPORTED_OPS, ...GRAPH_ONLY_OPS, ...importersByOp().keys()]);
}

const ATTRIBUTE_KINDS: Record<string, number> = {
  float: AttributeType.FLOAT, int: AttributeType.INT, ints: AttributeType.INTS, string: AttributeType.STRING,
};

/** The attributes `op` may carry: graph.ts's own table, else the registered layer's. */
function attributesOf(op: string): Record<string, number> {
  if (ATTRIBUTES[op]) return ATTRIBUTES[op];
  const declared = importersByOp().get(op)?.onnxImport?.attributes[op] ?? {};
  return Object.fromEntries(Object.entries(declared).map(([k, v]) => [k, ATTRIBUTE_KINDS[v]]));
}

/** Ops computed at load time when all their inputs are constants (torch emits these around weights). */
const FOLDABLE_OPS = new Set(['Constant', 'Identity', 'Transpose']);

const nodeLabel = (n: onnx.INodeProto, i: number): string => `${n.opType ?? '?'} node '${n.name || `#${i}`}'`;

/**
 * The attributes each operator may carry, with their types. Anything else (a renamed or unknown attribute,
 * a wrong type, a missing value) is an error: a default must never stand in for a damaged attribute.
 */
const ATTRIBUTES: Record<string, Record<string, number>> = {
  Gemm: { alpha: AttributeType.FLOAT, beta: AttributeType.FLOAT, transA: AttributeType.INT, transB: AttributeType.INT },
  LeakyRelu: { alpha: AttributeType.FLOAT },
  Softmax: { axis: AttributeType.INT },
  Flatten: { axis: AttributeType.INT },
  Reshape: { allowzero: AttributeType.INT },
  Dropout: { ratio: AttributeType.FLOAT, seed: AttributeType.INT },
  Gelu: { approximate: AttributeType.STRING },
  Transpose: { perm: AttributeType.INTS },
  Cast: { to: AttributeType.INT, saturate: AttributeType.INT },
  Concat: { axis: AttributeType.INT },
  LogSoftmax: { axis: AttributeType.INT },
  ReduceSum: { keepdims: AttributeType.INT, noop_with_empty_axes: AttributeType.INT },
  ReduceMax: { axes: AttributeType.INTS, keepdims: AttributeType.INT },
  ReduceMin: { axes: AttributeType.INTS, keepdims: AttributeType.INT },
  Shape: { start: AttributeType.INT, end: AttributeType.INT },
  Unsqueeze: { axes: AttributeType.INTS },
  Squeeze: { axes: AttributeType.INTS },
  ConstantOfShape: { value: AttributeType.TENSOR },
  LSTM: {
    hidden_size: AttributeType.INT, direction: AttributeType.STRING, activations: AttributeType.STRINGS, activation_alpha: AttributeType.FLOATS,
    activation_beta: AttributeType.FLOATS, clip: AttributeType.FLOAT, input_forget: AttributeType.INT, layout: AttributeType.INT,
  },
  GRU: {
    hidden_size: AttributeType.INT, direction: AttributeType.STRING, activations: AttributeType.STRINGS, activation_alpha: AttributeType.FLOATS,
    activation_beta: AttributeType.FLOATS, clip: AttributeType.FLOAT, linear_before_reset: AttributeType.INT, layout: AttributeType.INT,
  },
  Constant: {
    value: AttributeType.TENSOR, value_float: AttributeType.FLOAT, value_int: AttributeType.INT,
    value_floats: AttributeType.FLOATS, value_ints: AttributeType.INTS,
  },
};

/** AttributeProto's value field for each attribute type (exactly one may be set). */
const VALUE_FIELDS: Record<number, string> = {
  [AttributeType.FLOAT]: 'f', [AttributeType.INT]: 'i', [AttributeType.STRING]: 's', [AttributeType.TENSOR]: 't',
  [AttributeType.FLOATS]: 'floats', [AttributeType.INTS]: 'ints', [AttributeType.STRINGS]: 'strings',
};
const ALL_VALUE_FIELDS = ['f', 'i', 's', 't', 'g', 'sparseTensor', 'tp', 'floats', 'ints', 'strings', 'tensors', 'graphs', 'sparseTensors', 'typeProtos'];

/** A field the decoder actually read (protobufjs keeps defaults on the prototype; empty repeated fields count as unset). */
function isSet(obj: object, field: string): boolean {
  if (!Object.prototype.hasOwnProperty.call(obj, field)) return false;
  const v = (obj as Record<string, unknown>)[field];
  return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
}

/** Throws naming the node for unknown, duplicated, mistyped or valueless attributes. */
function checkAttributes(node: onnx.INodeProto, label: string): void {
  const allowed = attributesOf(node.opType ?? '');
  const known = Object.keys(allowed);
  const seen = new Set<string>();
  for (const a of node.attribute ?? []) {
    const name = a.name ?? '';
    if (!Object.prototype.hasOwnProperty.call(allowed, name)) {
      throw new Error(`${label}: unknown attribute '${name}' (${node.opType} takes ${known.length ? known.join(', ') : 'none'})`);
    }
    if (seen.has(name)) throw new Error(`${label}: attribute '${name}' appears twice`);
    seen.add(name);
    const type = allowed[name];
    const field = VALUE_FIELDS[type];
    const repeated = type === AttributeType.FLOATS || type === AttributeType.INTS || type === AttributeType.STRINGS; // may be empty
    const others = ALL_VALUE_FIELDS.filter((f) => f !== field && isSet(a, f));
    if (a.type !== type || !(repeated || isSet(a, field)) || others.length > 0 || isSet(a, 'refAttrName')) {
      const fields = ALL_VALUE_FIELDS.filter((f) => isSet(a, f));
      throw new Error(
        `${label}: attribute '${name}' must be a single ${AttributeType[type]} value ` +
          `(got type ${AttributeType[a.type ?? 0] ?? a.type}, fields ${fields.join(', ') || 'none'})`,
      );
    }
  }
}

function constantNodeValue(node: onnx.INodeProto, label: string): ConstTensor {
  const attrs = new NodeAttributes(node);
  const t = attrs.tensor('value');
  if (t) return readTensor(t, `${label} value`);
  if (attrs.has('value_float')) return { dims: [], data: Float64Array.of(attrs.float('value_float', 0)) };
  if (attrs.has('value_int')) return { dims: [], data: Float64Array.of(attrs.int('value_int', 0)), int: true };
  const a = (node.attribute ?? []).find((x) => x.name === 'value_floats' || x.name === 'value_ints');
  if (a?.name === 'value_floats') return { dims: [a.floats?.length ?? 0], data: Float64Array.from(a.floats ?? []) };
  if (a?.name === 'value_ints') {
    const ints = (a.ints ?? []).map((v) => int64ToNumber(v, label));
    return { dims: [ints.length], data: Float64Array.from(ints), int: true };
  }
  throw new Error(`${label}: only tensor, float and int constants are supported (has ${attrs.names().join(', ') || 'no value'})`);
}

function transpose2d(c: ConstTensor, label: string): ConstTensor {
  if (c.dims.length !== 2) throw new Error(`${label}: only 2-D constant transposes are supported, got [${c.dims.join(',')}]`);
  const [r, k] = c.dims;
  const out = new Float64Array(r * k);
  for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) out[j * r + i] = c.data[i * k + j];
  return { dims: [k, r], data: out };
}

/** Topological order of `nodes` (ONNX requires it already, but we do not rely on that). Throws on a cycle. */
function topoSort(nodes: onnx.INodeProto[], available: Set<string>): onnx.INodeProto[] {
  const producers = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o && producers.set(o, i)));
  const state = new Uint8Array(nodes.length); // 0 new, 1 visiting, 2 done
  const order: onnx.INodeProto[] = [];
  const visit = (start: number): void => {
    const stack: [number, number][] = [[start, 0]];
    state[start] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const inputs = nodes[top[0]].input ?? [];
      if (top[1] < inputs.length) {
        const name = inputs[top[1]++];
        if (!name || available.has(name)) continue;
        const p = producers.get(name);
        if (p === undefined) throw new Error(`${nodeLabel(nodes[top[0]], top[0])} reads '${name}', which nothing produces`);
        if (state[p] === 1) throw new Error(`the graph has a cycle through ${nodeLabel(nodes[p], p)}`);
        if (state[p] === 0) { state[p] = 1; stack.push([p, 0]); }
      } else {
        state[top[0]] = 2;
        order.push(nodes[top[0]]);
        stack.pop();
      }
    }
  };
  for (let i = 0; i < nodes.length; i++) if (state[i] === 0) visit(i);
  return order;
}

/** A piece of the chain between two cut values. */
interface Segment { nodes: onnx.INodeProto[]; input: string; output: string }

/** One step of the chain: a single node, or a run of elementwise segments (decomposed activations). */
type Link =
  | { kind: 'node'; node: onnx.INodeProto; input: string }
  | { kind: 'elementwise'; segments: Segment[] }
  | { kind: 'region'; nodes: onnx.INodeProto[]; input: string };

interface ChainGraph {
  links: Link[];
  constants: Map<string, ConstTensor>;
  inputShape: (number | null)[] | null;
  opset: number;
}

/** Thrown where a graph is valid but not a chain of layers: importModel then reads it as a Graph (dag.ts). */
export class NotAChainError extends Error {}

/** A graph with its constants folded and every node's operator and attributes checked. */
export interface PreparedGraph {
  /** Nodes that compute on data, in topological order. */
  dataNodes: onnx.INodeProto[];
  constants: Map<string, ConstTensor>;
  /** Each input's name and shape (null: a dimension not fixed), with the names of the variable dimensions (dimParam). */
  inputs: { name: string; shape: (number | null)[] | null; dimNames?: (string | null)[] }[];
  outputs: string[];
  opset: number;
}

/** Folds constant subgraphs, checks every operator is supported (listing all that are not) and every attribute. */
export function prepareGraph(model: onnx.IModelProto): PreparedGraph {
  const graph = model.graph as onnx.IGraphProto;
  const opset = defaultOpset(model);
  const constants = new Map<string, ConstTensor>();
  for (const t of graph.initializer ?? []) constants.set(t.name ?? '', readTensor(t, 'initializer'));
  if ((graph.sparseInitializer ?? []).length > 0) throw new Error('sparse initializers are not supported');

  const inputs = (graph.input ?? []).filter((v) => !constants.has(v.name ?? '')).map((v) => {
    const dims = v.type?.tensorType?.shape?.dim;
    const shape = dims ? dims.map((d) => (d.dimValue !== null && d.dimValue !== undefined && !d.dimParam ? int64ToNumber(d.dimValue, 'input dim') || null : null)) : null;
    return { name: v.name ?? '', shape, ...(dims ? { dimNames: dims.map((d) => d.dimParam || null) } : {}) };
  });
  const outputs = (graph.output ?? []).map((v) => v.name ?? '');
  if (inputs.length === 0) throw new Error('the graph has no data inputs');
  if (outputs.length === 0) throw new Error('the graph has no outputs');

  // Fold constant subgraphs (Constant nodes, Identity/Transpose of initializers) first: torch emits these.
  const allNodes = graph.node ?? [];
  const available = new Set<string>([...inputs.map((v) => v.name), ...constants.keys()]);
  const ordered = topoSort(allNodes, available);
  let dataNodes: onnx.INodeProto[] = [];
  ordered.forEach((n, i) => {
    const ins = (n.input ?? []).filter((s) => s);
    const defaultDomain = !n.domain || n.domain === 'ai.onnx';
    if (defaultDomain && FOLDABLE_OPS.has(n.opType ?? '') && ins.every((s) => constants.has(s))) {
      const label = nodeLabel(n, i);
      checkAttributes(n, label);
      const out = (n.output ?? [])[0] ?? '';
      if (n.opType === 'Constant') constants.set(out, constantNodeValue(n, label));
      else if (n.opType === 'Identity') constants.set(out, constants.get(ins[0]) as ConstTensor);
      else {
        const perm = (n.attribute ?? []).find((a) => a.name === 'perm')?.ints?.map((v) => int64ToNumber(v, label));
        if (perm && perm.length > 0 && !(perm.length === 2 && perm[0] === 1 && perm[1] === 0)) throw new Error(`${label}: only perm [1,0] is supported`);
        constants.set(out, transpose2d(constants.get(ins[0]) as ConstTensor, label));
      }
    } else dataNodes.push(n);
  });

  dataNodes = absorbPads(dataNodes, constants, outputs, opset, nodeLabel);

  // Every operator type the model computes with must be known before we look at structure: report them all.
  const unsupported = new Set<string>();
  const supported = supportedOps();
  for (const n of dataNodes) {
    const domain = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.` : '';
    if (domain || !supported.has(n.opType ?? '')) unsupported.add(`${domain}${n.opType ?? '?'}`);
  }
  if (unsupported.size > 0) {
    throw new Error(`unsupported ONNX operator(s): ${[...unsupported].join(', ')} (supported: ${[...supported].join(', ')})`);
  }
  dataNodes.forEach((n, i) => checkAttributes(n, nodeLabel(n, i)));
  return { dataNodes, constants, inputs, outputs, opset };
}

/** Splits the graph into links between single "cut" values; throws NotAChainError when it is not a chain. */
function chainOf(prepared: PreparedGraph): ChainGraph {
  const { dataNodes, constants, opset } = prepared;
  const { inputs, outputs } = prepared;
  if (inputs.length !== 1) throw new NotAChainError(`the graph has ${inputs.length} data inputs (${inputs.map((v) => v.name).join(', ')}); a chain has one`);
  if (outputs.length !== 1) throw new NotAChainError(`the graph has ${outputs.length} outputs; a chain has one`);
  const inputName = inputs[0].name;
  const outputName = outputs[0];
  const inputShape = inputs[0].shape;
  const graphOnly = dataNodes.find((n) => GRAPH_ONLY_OPS.has(n.opType ?? ''));
  if (graphOnly) throw new NotAChainError(`the graph is not a chain: it has a ${graphOnly.opType} node`);

  // Consumers of each value, counted per use; the graph output counts as one more use.
  const uses = new Map<string, number>();
  for (const n of dataNodes) for (const s of n.input ?? []) if (s && !constants.has(s)) uses.set(s, (uses.get(s) ?? 0) + 1);
  uses.set(outputName, (uses.get(outputName) ?? 0) + 1);

  const links: Link[] = [];
  const done = new Set<onnx.INodeProto>();
  let current = inputName;
  let cursor = 0;
  while (current !== outputName) {
    const region: onnx.INodeProto[] = [];
    const pending = new Map<string, number>([[current, uses.get(current) ?? 0]]);
    if ((pending.get(current) ?? 0) === 0) throw new NotAChainError(`value '${current}' is not used by any node and is not the graph output`);
    let cut: string | null = null;
    for (; cursor < dataNodes.length && cut === null; cursor++) {
      const n = dataNodes[cursor];
      if (done.has(n)) continue;
      const ins = (n.input ?? []).filter((s) => s && !constants.has(s));
      if (ins.length === 0 || !ins.every((s) => pending.has(s))) {
        throw new NotAChainError(`the graph is not a chain: ${nodeLabel(n, cursor)} does not follow from '${current}' alone`);
      }
      for (const s of ins) pending.set(s, (pending.get(s) as number) - 1);
      for (const o of n.output ?? []) if (o) pending.set(o, uses.get(o) ?? 0);
      region.push(n);
      done.add(n);
      const open = [...pending].filter(([, c]) => c > 0).map(([v]) => v);
      if (open.length === 1 && open[0] !== current) cut = open[0];
      else if (open.length === 0) throw new NotAChainError(`the graph is not a chain: no path from '${current}' reaches the output '${outputName}'`);
    }
    if (cut === null) throw new NotAChainError(`the graph is not a chain: '${current}' does not reach the output '${outputName}'`);
    if (region.length === 1 && !isScalarElementwise(region[0], constants)) links.push({ kind: 'node', node: region[0], input: current });
    else if (region.every((n) => ELEMENTWISE_OPS.has(n.opType ?? ''))) {
      const prev = links[links.length - 1];
      const segment = { nodes: region, input: current, output: cut };
      if (prev && prev.kind === 'elementwise') prev.segments.push(segment);
      else links.push({ kind: 'elementwise', segments: [segment] });
    } else if (region.some((n) => importersByOp().has(n.opType ?? ''))) {
      links.push({ kind: 'region', nodes: region, input: current }); // a registered layer's decomposition, read in layersFromModel
    } else {
      throw new NotAChainError(`the graph is not a chain: nodes ${region.map((n) => n.opType).join(', ')} branch and rejoin between '${current}' and '${cut}'`);
    }
    current = cut;
  }
  const leftover = dataNodes.filter((n) => !done.has(n));
  if (leftover.length > 0) throw new NotAChainError(`the graph is not a chain: ${leftover.map((n, i) => nodeLabel(n, i)).join(', ')} do not lead to the output`);
  return { links, constants, inputShape, opset };
}

/** A single Add/Mul/... of the running value with a one-element constant: part of a decomposed activation. */
function isScalarElementwise(n: onnx.INodeProto, constants: Map<string, ConstTensor>): boolean {
  const op = n.opType ?? '';
  if (!ELEMENTWISE_OPS.has(op) || op === 'Tanh' || op === 'Sigmoid' || op === 'Identity') return false;
  return (n.input ?? []).every((s) => !constants.has(s) || (constants.get(s) as ConstTensor).data.length === 1);
}

const toF32 = (d: Float64Array): Float32Array => Float32Array.from(d);

/** Converts a chain graph to layers. Throws naming the node for anything outside the supported forms. */
export function layersFromModel(prepared: PreparedGraph): { layers: LayerSpec[]; inputShape: (number | null)[] | null } {
  const { links, constants, inputShape, opset } = chainOf(prepared);
  const layers: LayerSpec[] = [];
  // Per-sample shape of the running value (null entries = unknown); null = unknown rank.
  let sample: (number | null)[] | null = inputShape ? inputShape.slice(1) : null;
  const name = (): string => `${layers.length}.`;
  const constOf = (n: onnx.INodeProto, idx: number): ConstTensor | null => {
    const s = (n.input ?? [])[idx];
    return s ? constants.get(s) ?? null : null;
  };

  const pushLinear = (label: string, inF: number, outF: number, weight: Float32Array, bias: Float32Array | null): void => {
    if (sample && (sample.length !== 1 || (sample[0] !== null && sample[0] !== inF))) {
      throw new Error(`${label}: expects [batch,${inF}] but gets [batch,${sample.map((d) => d ?? '?').join(',')}]`);
    }
    layers.push({ kind: 'Linear', name: name(), inFeatures: inF, outFeatures: outF, weight, bias });
    sample = [outF];
  };

  const importContext: OnnxImportContext = {
    constant: (s) => constants.get(s) ?? null,
    get sample() {
      return sample;
    },
  };
  const pushRegistered = (l: ImportedLayer, by: LayerDefinition | undefined): void => {
    layers.push({ kind: 'registered', name: name(), config: l.config, params: l.params });
    if (l.sample !== undefined) sample = l.sample;
    // Layers that change the per-sample shape (convolutions, pooling) say how; the others keep it.
    if (by?.onnxImport?.sampleAfter) sample = by.onnxImport.sampleAfter(l, sample);
  };

  let skip = 0;
  links.forEach((link, i) => {
    if (skip > 0) {
      skip--;
      return;
    }
    if (link.kind === 'region') {
      // A decomposition may span several regions (cut where one value is live): try runs of up to 4 links.
      const nodes: onnx.INodeProto[] = [];
      for (let j = i; j < Math.min(links.length, i + 4); j++) {
        const l = links[j];
        nodes.push(...(l.kind === 'node' ? [l.node] : l.kind === 'region' ? l.nodes : l.segments.flatMap((seg) => seg.nodes)));
        const views = nodes.map((n, k) => nodeView(n, nodeLabel(n, k)));
        for (const def of new Set(importersByOp().values())) {
          const found = def.onnxImport?.region?.(views, link.input, importContext) ?? null;
          if (found !== null) {
            skip = j - i;
            return pushRegistered(found, def);
          }
        }
      }
      throw new NotAChainError(`the graph is not a chain: nodes ${link.nodes.map((n) => n.opType).join(', ')} branch and rejoin after '${link.input}' and form no known layer`);
    }
    const prevLayer = layers[layers.length - 1];
    if (link.kind === 'node' && prevLayer?.kind === 'registered') {
      // A node folded into the registered layer before it (e.g. a decomposition's scale and shift).
      const def = definitionOfType(prevLayer.config.type);
      if (def?.onnxImport?.absorb?.(prevLayer, nodeView(link.node, nodeLabel(link.node, i)), importContext)) return;
    }
    if (link.kind === 'node' && !ATTRIBUTES[link.node.opType ?? ''] && !SUPPORTED_OPS.has(link.node.opType ?? '')) {
      const def = importersByOp().get(link.node.opType ?? '');
      if (def?.onnxImport?.node) return pushRegistered(def.onnxImport.node(nodeView(link.node, nodeLabel(link.node, i)), importContext), def);
    }
    if (link.kind === 'elementwise') {
      const prev = layers[layers.length - 1];
      const first = link.segments[0].nodes;
      if (link.segments.length === 1 && first.length === 1 && first[0].opType === 'Add' && prev && prev.kind === 'Linear' && prev.bias === null && prev.outFeatures === 1) {
        // MatMul + Add with a one-element bias (a single output unit) looks like a scalar Add.
        const c = (first[0].input ?? []).map((s) => constants.get(s)).find((t) => t !== undefined) as ConstTensor;
        prev.bias = broadcastBias(c, 1, nodeLabel(first[0], i));
        return;
      }
      for (const approximate of splitIntoGelus(link.segments, constants)) layers.push({ kind: 'GELU', name: name(), approximate });
      return;
    }
    const n = link.node;
    const label = nodeLabel(n, i);
    const attrs = new NodeAttributes(n);
    const dataIndex = (n.input ?? []).indexOf(link.input);
    switch (n.opType) {
      case 'Gemm': {
        const b = constOf(n, 1);
        if (dataIndex !== 0 || !b) throw new Error(`${label}: only Gemm(input, constant B[, constant C]) is supported`);
        const transA = attrs.int('transA', 0);
        const transB = attrs.int('transB', 0);
        if (transA !== 0) throw new Error(`${label}: transA=${transA} is not supported (only 0)`);
        if (transB !== 0 && transB !== 1) throw new Error(`${label}: transB must be 0 or 1, got ${transB}`);
        if (b.dims.length !== 2) throw new Error(`${label}: B must be 2-D, got [${b.dims.join(',')}]`);
        const hasC = (n.input ?? []).length > 2 && (n.input ?? [])[2];
        // Exporters write alpha = beta = 1 for a linear layer; any other value is refused rather than folded in,
        // so that a damaged value cannot pass as a scaled layer.
        const alpha = attrs.float('alpha', 1);
        const beta = attrs.float('beta', 1);
        if (alpha !== 1) throw new Error(`${label}: alpha=${alpha} is not supported (only 1)`);
        if (hasC && beta !== 1) throw new Error(`${label}: beta=${beta} is not supported (only 1)`);
        const w = transB === 1 ? b : transpose2d(b, label); // -> [out, in]
        const [outF, inF] = w.dims;
        let bias: Float32Array | null = null;
        if (hasC) {
          const c = constOf(n, 2);
          if (!c) throw new Error(`${label}: C must be a constant`);
          bias = broadcastBias(c, outF, label);
        }
        pushLinear(label, inF, outF, toF32(w.data), bias);
        return;
      }
      case 'MatMul': {
        const b = constOf(n, 1);
        if (dataIndex !== 0 || !b || b.dims.length !== 2) throw new NotAChainError(`${label}: only MatMul(input, constant 2-D matrix) is supported`);
        const w = transpose2d(b, label);
        pushLinear(label, w.dims[1], w.dims[0], toF32(w.data), null);
        return;
      }
      case 'Add': {
        const prev = layers[layers.length - 1];
        const c = constOf(n, 1 - dataIndex);
        if (!c || !prev || prev.kind !== 'Linear' || prev.bias !== null) {
          throw new NotAChainError(`${label}: Add is supported only as the bias of a preceding MatMul/Gemm`);
        }
        prev.bias = broadcastBias(c, prev.outFeatures, label);
        return;
      }
      case 'Relu':
        layers.push({ kind: 'ReLU', name: name() });
        return;
      case 'LeakyRelu': {
        const alpha = attrs.float('alpha', 0.01);
        if (!Number.isFinite(alpha)) throw new Error(`${label}: alpha must be finite, got ${alpha}`);
        layers.push({ kind: 'LeakyReLU', name: name(), negativeSlope: shortestFloat32(alpha) });
        return;
      }
      case 'Sigmoid':
        layers.push({ kind: 'Sigmoid', name: name() });
        return;
      case 'Tanh':
        layers.push({ kind: 'Tanh', name: name() });
        return;
      case 'Gelu': {
        const approx = attrs.string('approximate', 'none');
        if (approx !== 'none' && approx !== 'tanh') throw new Error(`${label}: approximate='${approx}' is not supported`);
        layers.push({ kind: 'GELU', name: name(), approximate: approx });
        return;
      }
      case 'Softmax': {
        const axis = attrs.int('axis', opset >= 13 ? -1 : 1);
        const rank = sample ? sample.length + 1 : null;
        const last = axis === -1 || (rank !== null && axis === rank - 1);
        if (!last) throw new Error(`${label}: only softmax over the last axis is supported (axis=${axis}, input rank ${rank ?? 'unknown'})`);
        layers.push({ kind: 'Softmax', name: name() });
        return;
      }
      case 'Flatten': {
        if (attrs.int('axis', 1) !== 1) throw new Error(`${label}: only axis=1 is supported`);
        layers.push({ kind: 'Flatten', name: name() });
        sample = flattened(sample);
        return;
      }
      case 'Reshape': {
        const allowzero = attrs.int('allowzero', 0);
        if (allowzero !== 0) throw new Error(`${label}: allowzero=${allowzero} is not supported (only 0)`);
        const shape = constOf(n, 1);
        const ok = dataIndex === 0 && shape && shape.data.length === 2 && (shape.data[0] === 0 || shape.data[0] === -1);
        const target = ok ? (shape as ConstTensor).data[1] : NaN;
        const flat = flattened(sample);
        if (!ok || !(target === -1 || (target > 0 && (flat === null || flat[0] === null || flat[0] === target)))) {
          throw new Error(`${label}: only a reshape to [batch, features] (a flatten) is supported`);
        }
        layers.push({ kind: 'Flatten', name: name() });
        sample = target > 0 ? [target] : flat;
        return;
      }
      case 'Dropout': {
        const ratio = constOf(n, 1);
        const p = shortestFloat32(ratio ? ratio.data[0] : attrs.float('ratio', 0.5));
        if (!(p >= 0 && p < 1)) throw new Error(`${label}: ratio must be in [0, 1), got ${p}`);
        layers.push({ kind: 'Dropout', name: name(), p });
        return;
      }
      case 'Cast': {
        // Ids cast to an integer type before a Gather (an exported nn.Embedding): nothing to compute here.
        const to = attrs.int('to', 0);
        if (to !== onnx.TensorProto.DataType.INT64 && to !== onnx.TensorProto.DataType.INT32) {
          throw new Error(`${label}: only a Cast to int64 or int32 (ids for an Embedding) is supported, got to=${to}`);
        }
        return;
      }
      case 'Identity': {
        const doc = n.docString ?? '';
        if (doc.startsWith(DROPOUT_DOC_PREFIX)) {
          const p = Number(doc.slice(DROPOUT_DOC_PREFIX.length));
          if (Number.isFinite(p) && p >= 0 && p < 1) layers.push({ kind: 'Dropout', name: name(), p });
        }
        return;
      }
      default:
        throw new NotAChainError(`${label}: operator is not supported in a chain`);
    }
  });
  return { layers, inputShape };
}

/**
 * Partitions a run of elementwise segments into consecutive GELUs (each exact or tanh form). Throws, listing the
 * operators, when no partition exists.
 */
function splitIntoGelus(segments: Segment[], constants: Map<string, ConstTensor>): ('none' | 'tanh')[] {
  const n = segments.length;
  // best[i] = a partition of segments[i..n) or null; filled from the end.
  const best: (('none' | 'tanh')[] | null)[] = new Array(n + 1).fill(null);
  best[n] = [];
  for (let i = n - 1; i >= 0; i--) {
    const nodes: onnx.INodeProto[] = [];
    // A GELU spans at most a few segments; the window keeps adversarial files from costing O(n^2) evaluations.
    for (let j = i; j < Math.min(n, i + 8) && best[i] === null; j++) {
      nodes.push(...segments[j].nodes);
      const rest = best[j + 1];
      if (rest === null) continue;
      const approx = recogniseGelu(nodes, segments[i].input, segments[j].output, constants);
      if (approx) best[i] = [approx, ...rest];
    }
  }
  if (best[0] === null) {
    const ops = segments.flatMap((s) => s.nodes.map((x) => x.opType)).join(', ');
    throw new NotAChainError(`elementwise subgraph ${ops} is not a supported activation (only GELU, exact or tanh, is recognised)`);
  }
  return best[0];
}

function flattened(sample: (number | null)[] | null): (number | null)[] | null {
  if (!sample) return null;
  return [sample.some((d) => d === null) ? null : (sample as number[]).reduce((a, b) => a * b, 1)];
}

function broadcastBias(c: ConstTensor, outF: number, label: string): Float32Array {
  const n = c.data.length;
  const fits = (c.dims.length <= 1 || (c.dims.length === 2 && c.dims[0] === 1)) && (n === outF || n === 1);
  if (!fits) throw new Error(`${label}: bias of shape [${c.dims.join(',')}] does not broadcast to [batch,${outF}]`);
  const b = new Float32Array(outF);
  for (let k = 0; k < outF; k++) b[k] = c.data[n === 1 ? 0 : k];
  return b;
}
