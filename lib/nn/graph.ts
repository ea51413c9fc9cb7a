// Graph: a module whose forward runs a DAG of named values: op nodes (myelin ops by name) and calls of child
// modules; several consumers of one value, several inputs and outputs. onnx.importModel builds one for non-chains.
import { Tensor } from '../tensor';
import * as ops from '../ops';
import { Module } from './module';
import type { LayerConfig } from './config';
import { register } from './registry';
import { isPlainObject } from '../validate';
import { SHAPE_OPS } from './graph-shape-ops';

/** An attribute of an op node. */
export type GraphAttr = number | string | boolean | null | number[];

/** One node: an op (by name, see GRAPH_OPS) or a child module (by name), reading values, writing one. */
export interface GraphNode {
  op?: string;
  module?: string;
  inputs: string[];
  output: string;
  attrs?: Record<string, GraphAttr>;
  /**
   * A module node calling an nn.LSTM/nn.GRU: names for its final states, [h] (GRU) or [h, c] (LSTM), each
   * [numLayers * directions, batch, hidden] as forwardWithState returns them ('' for one nothing reads). The node's
   * `output` is then forwardWithState's output sequence.
   */
  stateOutputs?: string[];
}

/** Options of nn.Graph: the input names, the nodes (an op or module and the names it reads), the modules, constants and the output names. */
export interface GraphOptions {
  /** Names of the values forward takes, in order (forward(a, b) or forward({ a, b })). */
  inputs: string[];
  /** Names of the values forward returns: one gives a Tensor, several a record by name. */
  outputs: string[];
  /** The nodes in an order where every value is written before it is read. */
  nodes: GraphNode[];
  /** Child modules the nodes call, by name (their parameters are named "<name>.<param>"). */
  modules?: Record<string, Module>;
  /** Fixed tensors the nodes read by name (not trained). */
  constants?: Record<string, Tensor>;
}

/** The JSON configuration of an nn.Graph (what save writes in model.json). */
export interface GraphConfig extends LayerConfig {
  type: 'Graph';
  inputs: string[];
  outputs: string[];
  nodes: GraphNode[];
  modules: Record<string, LayerConfig>;
  constants: Record<string, { shape: number[]; data: (number | string)[] }>;
}

type OpRunner = (xs: Tensor[], attrs: Record<string, GraphAttr>) => Tensor;

const attr = (a: Record<string, GraphAttr>, k: string, fallback: GraphAttr): GraphAttr => (a[k] === undefined ? fallback : a[k]);
const unary = (f: (x: Tensor) => Tensor): OpRunner => (xs) => f(xs[0]);
const binary = (f: (a: Tensor, b: Tensor) => Tensor): OpRunner => (xs) => f(xs[0], xs[1]);

/** Reshape to `shape`, where 0 copies the input's dimension and one -1 is inferred (as ONNX Reshape). */
function reshapeLike(x: Tensor, shape: number[]): Tensor {
  return ops.reshape(x, shape.map((d, i) => (d === 0 ? x.shape[i] : d)));
}

/** The ops a node may name, with their arity (-1: any) and the attributes they read. */
export const GRAPH_OPS: Record<string, { arity: number; run: OpRunner }> = {
  identity: { arity: 1, run: (xs) => xs[0] },
  add: { arity: 2, run: binary(ops.add) },
  sub: { arity: 2, run: binary(ops.sub) },
  mul: { arity: 2, run: binary(ops.mul) },
  div: { arity: 2, run: binary(ops.div) },
  matmul: { arity: 2, run: binary(ops.matmul) },
  neg: { arity: 1, run: unary(ops.neg) },
  exp: { arity: 1, run: unary(ops.exp) },
  log: { arity: 1, run: unary(ops.log) },
  sqrt: { arity: 1, run: unary(ops.sqrt) },
  abs: { arity: 1, run: unary(ops.abs) },
  pow: { arity: 1, run: (xs, a) => ops.pow(xs[0], attr(a, 'p', 1) as number) },
  relu: { arity: 1, run: unary(ops.relu) },
  sigmoid: { arity: 1, run: unary(ops.sigmoid) },
  tanh: { arity: 1, run: unary(ops.tanh) },
  leakyRelu: { arity: 1, run: (xs, a) => ops.leakyRelu(xs[0], attr(a, 'alpha', 0.01) as number) },
  gelu: { arity: 1, run: (xs, a) => ops.gelu(xs[0], attr(a, 'approximate', 'none') as 'none' | 'tanh') },
  softmax: { arity: 1, run: (xs, a) => ops.softmax(xs[0], attr(a, 'axis', -1) as number) },
  logSoftmax: { arity: 1, run: (xs, a) => ops.logSoftmax(xs[0], attr(a, 'axis', -1) as number) },
  transpose: { arity: 1, run: unary(ops.transpose) },
  flatten: { arity: 1, run: (xs, a) => ops.flatten(xs[0], attr(a, 'startDim', 1) as number) },
  reshape: { arity: 1, run: (xs, a) => reshapeLike(xs[0], attr(a, 'shape', [-1]) as number[]) },
  concat: { arity: -1, run: (xs, a) => ops.concat(xs, attr(a, 'axis', 0) as number) },
  sum: { arity: 1, run: (xs, a) => ops.sum(xs[0], (attr(a, 'axis', null) ?? undefined) as number | undefined, attr(a, 'keepDims', false) as boolean) },
  mean: { arity: 1, run: (xs, a) => ops.mean(xs[0], (attr(a, 'axis', null) ?? undefined) as number | undefined, attr(a, 'keepDims', false) as boolean) },
  max: { arity: 1, run: (xs, a) => ops.max(xs[0], (attr(a, 'axis', null) ?? undefined) as number | undefined, attr(a, 'keepDims', false) as boolean) },
  min: { arity: 1, run: (xs, a) => ops.min(xs[0], (attr(a, 'axis', null) ?? undefined) as number | undefined, attr(a, 'keepDims', false) as boolean) },
  ...SHAPE_OPS,
};

function fail(what: string): never {
  throw new Error(`Graph: ${what}`);
}

/** Throws naming the node for unknown ops or modules, wrong arity, and values read before they are written. */
function checkGraph(o: { inputs: unknown; outputs: unknown; nodes: unknown }, modules: Set<string>, constants: Set<string>): void {
  const names = (v: unknown, what: string): string[] => {
    if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== 'string' || s === '')) fail(`${what} must be a non-empty array of value names, got ${JSON.stringify(v)}`);
    return v as string[];
  };
  const inputs = names(o.inputs, 'inputs');
  const outputs = names(o.outputs, 'outputs');
  if (!Array.isArray(o.nodes)) fail(`nodes must be an array, got ${typeof o.nodes}`);
  const defined = new Set<string>([...inputs, ...constants]);
  if (defined.size !== inputs.length + constants.size) fail(`input names [${inputs.join(', ')}] repeat or clash with a constant`);
  (o.nodes as unknown[]).forEach((n, i) => {
    if (!isPlainObject(n)) fail(`node ${i} must be an object, got ${JSON.stringify(n)}`);
    const node = n as unknown as GraphNode;
    const label = `node ${i} (${node.op ?? `module '${node.module}'`} -> '${node.output}')`;
    if ((node.op === undefined) === (node.module === undefined)) fail(`node ${i} must name exactly one of op and module`);
    const ins = names(node.inputs, `${label} inputs`);
    if (node.op !== undefined) {
      const spec = Object.prototype.hasOwnProperty.call(GRAPH_OPS, node.op) ? GRAPH_OPS[node.op] : undefined;
      if (spec === undefined) fail(`${label}: unknown op '${node.op}' (known: ${Object.keys(GRAPH_OPS).join(', ')})`);
      if (spec.arity >= 0 && ins.length !== spec.arity) fail(`${label}: ${node.op} takes ${spec.arity} input(s), got ${ins.length}`);
      if (node.attrs !== undefined && !isPlainObject(node.attrs)) fail(`${label}: attrs must be an object`);
    } else if (!modules.has(node.module as string)) {
      fail(`${label}: no module named '${node.module}'`);
    }
    if (node.stateOutputs !== undefined && (node.op !== undefined || !Array.isArray(node.stateOutputs) || node.stateOutputs.some((s) => typeof s !== 'string'))) {
      fail(`${label}: stateOutputs must be an array of value names on a module node, got ${JSON.stringify(node.stateOutputs)}`);
    }
    for (const s of ins) if (!defined.has(s)) fail(`${label} reads '${s}', which no input, constant or earlier node provides`);
    for (const out of [node.output, ...(node.stateOutputs ?? []).filter((s) => s !== '')]) {
      if (typeof out !== 'string' || out === '' || defined.has(out)) fail(`${label}: output must be a new value name, got ${JSON.stringify(out)}`);
      defined.add(out);
    }
  });
  for (const s of outputs) if (!defined.has(s)) fail(`output '${s}' is not computed by any node`);
}

/** What a module taking a key padding mask (nn.TransformerEncoderLayer, nn.TransformerEncoder) has: encode. */
interface Encoder {
  encode(x: Tensor, opts: { keyPaddingMask?: Tensor }): Tensor;
}

/**
 * Calls a module node: forward(...inputs); with attrs.states 'list' forward(first, [rest]) (an nn.LSTM's initial
 * states [h0, c0]); with attrs.keyPaddingMask true encode(first, { keyPaddingMask: second }) (an
 * nn.TransformerEncoderLayer with torch's src_key_padding_mask, nonzero = padding).
 */
export function callModule(m: Module, xs: Tensor[], attrs: Record<string, GraphAttr> | undefined): Tensor {
  if (attrs?.states === 'list') return (m.forward as (x: Tensor, hx: Tensor[]) => Tensor)(xs[0], xs.slice(1));
  if (attrs?.keyPaddingMask === true) {
    const encode = (m as Partial<Encoder>).encode;
    if (typeof encode !== 'function' || xs.length !== 2) fail(`a keyPaddingMask module node needs a module with encode (nn.TransformerEncoderLayer) and two inputs (x, mask), got ${m.constructor.name} and ${xs.length}`);
    return encode.call(m, xs[0], { keyPaddingMask: xs[1] });
  }
  return m.forward(...(xs as [Tensor])) as Tensor;
}

/** What a module with final states (nn.LSTM/nn.GRU) has: forwardWithState. */
interface Stateful {
  forwardWithState(x: Tensor, hx?: unknown): { output: Tensor; h: Tensor; c?: Tensor };
}
const stateful = (m: Module): m is Module & Stateful => typeof (m as Partial<Stateful>).forwardWithState === 'function';

/**
 * Runs a module node and binds its results: `output`, and with stateOutputs the final states of an nn.LSTM/nn.GRU
 * (forwardWithState's h, then c). Throws naming the node when the module has no final states to give.
 */
export function runModuleNode(m: Module, xs: Tensor[], node: Pick<GraphNode, 'attrs' | 'stateOutputs' | 'output'>, values: Map<string, Tensor>): void {
  const names = node.stateOutputs ?? [];
  if (names.length === 0) {
    values.set(node.output, callModule(m, xs, node.attrs));
    return;
  }
  if (!stateful(m)) fail(`node '${node.output}': stateOutputs need a module with final states (nn.LSTM, nn.GRU), got ${m.constructor.name}`);
  const hx = node.attrs?.states === 'list' ? xs.slice(1) : xs[1];
  const r = m.forwardWithState(xs[0], hx);
  const states = [r.h, r.c];
  if (names.length > 2 || (names[1] && r.c === undefined)) fail(`node '${node.output}': ${m.constructor.name} gives ${r.c === undefined ? 'one final state (h)' : 'two final states (h, c)'}, stateOutputs names ${names.length}`);
  values.set(node.output, r.output);
  names.forEach((s, k) => {
    if (s !== '') values.set(s, states[k] as Tensor);
  });
}

/**
 * A model with several inputs or outputs: named nodes wired by name (a DAG), saved and exported like a Sequential.
 * Throws naming the node for an unknown op or module, a wrong number of inputs, or a value read before it is written.
 */
export class Graph extends Module {
  readonly inputNames: string[];
  readonly outputNames: string[];
  readonly nodes: GraphNode[];
  private readonly modules: Map<string, Module>;
  private readonly constants: Map<string, Tensor>;

  /**
   * Creates the graph (usually made by onnx.importModel).
   * @param opts inputs and outputs (value names), nodes (each names an op or a module, the values it reads, and attrs), modules (by name) and constants (Tensors by name).
   * @throws Error when opts is not an object, a module or constant has the wrong type, or the graph is malformed: empty input or output lists, repeated input names, a node naming both or neither of op and module, an unknown op or module, a wrong input count, or a value read before any input, constant or earlier node provides it.
   * @example new nn.Graph({ inputs: ['x'], outputs: ['y'], nodes: [{ module: 'fc', inputs: ['x'], output: 'h' }, { op: 'add', inputs: ['h', 'x'], output: 'y' }], modules: { fc: new nn.Linear(4, 4) } })
   */
  constructor(opts: GraphOptions) {
    super();
    if (!isPlainObject(opts)) fail(`expected { inputs, outputs, nodes, modules?, constants? }, got ${typeof opts}`);
    const modules = opts.modules ?? {};
    const constants = opts.constants ?? {};
    for (const [name, m] of Object.entries(modules)) if (!(m instanceof Module)) fail(`modules['${name}'] is not a Module`);
    for (const [name, t] of Object.entries(constants)) if (!(t instanceof Tensor)) fail(`constants['${name}'] is not a Tensor`);
    checkGraph(opts, new Set(Object.keys(modules)), new Set(Object.keys(constants)));
    this.inputNames = opts.inputs.slice();
    this.outputNames = opts.outputs.slice();
    this.nodes = opts.nodes.map((n) => ({ ...n, inputs: n.inputs.slice(), ...(n.attrs ? { attrs: { ...n.attrs } } : {}), ...(n.stateOutputs ? { stateOutputs: n.stateOutputs.slice() } : {}) }));
    this.modules = new Map(Object.entries(modules));
    for (const [name, m] of this.modules) this.registerModule(name, m);
    this.constants = new Map(Object.entries(constants).map(([k, t]) => [k, new Tensor(Float32Array.from(t.data), t.shape)]));
  }

  /**
   * Runs the nodes in order. Takes the inputs positionally (forward(a, b)) or as a record by name
   * (forward({ a, b })).
   * @param args one Tensor per graph input in the order of the graph's inputs, or one record of them by name.
   * @returns the output Tensor, or a record of them by name when the graph has several outputs.
   * @throws Error `Graph: ...` when the number of positional inputs differs from the graph's, or an input is
   * missing or not a Tensor; a node's op or module throws for inputs of the wrong shape.
   * @example graph.forward(randn([2, 4])) // or graph.forward({ x: randn([2, 4]) })
   */
  override forward(...args: (Tensor | Record<string, Tensor>)[]): Tensor;
  override forward(...args: unknown[]): Tensor | Record<string, Tensor> {
    const values = new Map<string, Tensor>(this.constants);
    const byName = args.length === 1 && !(args[0] instanceof Tensor) && isPlainObject(args[0]);
    const given = byName ? (args[0] as Record<string, unknown>) : null;
    if (!byName && args.length !== this.inputNames.length) {
      fail(`forward takes ${this.inputNames.length} input(s) (${this.inputNames.join(', ')}), got ${args.length}`);
    }
    this.inputNames.forEach((name, i) => {
      const t = given !== null ? given[name] : args[i];
      if (!(t instanceof Tensor)) fail(`input '${name}' must be a Tensor, got ${t === undefined ? 'nothing' : typeof t}`);
      values.set(name, t);
    });
    for (const n of this.nodes) {
      const xs = n.inputs.map((s) => values.get(s) as Tensor);
      if (n.op !== undefined) values.set(n.output, GRAPH_OPS[n.op].run(xs, n.attrs ?? {}));
      else runModuleNode(this.modules.get(n.module as string) as Module, xs, n, values);
    }
    if (this.outputNames.length === 1) return values.get(this.outputNames[0]) as Tensor;
    return Object.fromEntries(this.outputNames.map((s) => [s, values.get(s) as Tensor]));
  }

  override inputFeatures(): number | null {
    return null;
  }

  override toConfig(): GraphConfig {
    return {
      type: 'Graph',
      inputs: this.inputNames.slice(),
      outputs: this.outputNames.slice(),
      nodes: this.nodes.map((n) => JSON.parse(JSON.stringify(n)) as GraphNode),
      modules: Object.fromEntries([...this.modules].map(([k, m]) => [k, m.toConfig()])),
      // JSON has no Infinity/NaN (an imported attention mask adds -Infinity): those are written as strings.
      constants: Object.fromEntries([...this.constants].map(([k, t]) => [k, { shape: t.shape.slice(), data: Array.from(t.data, (v) => (Number.isFinite(v) ? v : String(v))) }])),
    };
  }

  override describe(): string {
    return `Graph (${this.inputNames.length} input(s), ${this.nodes.length} nodes, ${this.outputNames.length} output(s))`;
  }
}

const list = { expect: 'an array', ok: (v: unknown) => Array.isArray(v) };
const record = { expect: 'an object', ok: (v: unknown) => isPlainObject(v) };

register<GraphConfig>(Graph, {
  keys: { inputs: list, outputs: list, nodes: list, modules: record, constants: record },
  fromConfig: (c, build) => {
    const constants: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(c.constants)) {
      if (!isPlainObject(v) || !Array.isArray(v.shape) || !Array.isArray(v.data)) fail(`constants['${k}'] must be { shape, data }`);
      const bad = (v.data as unknown[]).find((x) => typeof x !== 'number' && x !== 'Infinity' && x !== '-Infinity' && x !== 'NaN');
      if (bad !== undefined) fail(`constants['${k}'] holds ${JSON.stringify(bad)}: values are numbers, or 'Infinity', '-Infinity', 'NaN'`);
      constants[k] = new Tensor(Float32Array.from(v.data as (number | string)[], Number), v.shape);
    }
    const modules: Record<string, Module> = {};
    for (const [k, v] of Object.entries(c.modules)) modules[k] = build(v);
    return new Graph({ inputs: c.inputs, outputs: c.outputs, nodes: c.nodes, modules, constants });
  },
});
