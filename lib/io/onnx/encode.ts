// Layers -> ONNX ModelProto bytes: one node chain with a dynamic batch dimension, weights as float initializers.
// Each layer writes its own nodes (its registered onnx export, in its nn/ file) through an OnnxExportContext.
import { onnx, DataType, AttributeType, MIN_EXPORT_OPSET, MAX_EXPORT_OPSET, irVersionForOpset } from './schema';
import type { LayerConfig } from '../../nn/config';
import { definitionOfType, type OnnxAttribute, type OnnxExportContext } from '../../nn/registry';

/** One leaf layer to export: its config, parameter-name prefix ("0.") and parameters (names without the prefix). */
export interface ExportLayer {
  name: string;
  config: LayerConfig;
  params: Record<string, Float32Array>;
}

export interface EncodeOptions {
  /** Shape of one sample (no batch dimension), e.g. [64] or [1, 8, 8]. */
  inputShape: number[];
  opset: number;
  inputName: string;
  outputName: string;
  producerVersion: string;
}

/** Little-endian float32 bytes of `values` (endianness-independent). */
export function floatsToLittleEndianBytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return bytes;
}

function floatTensor(name: string, dims: number[], values: Float32Array): onnx.ITensorProto {
  return { name, dims, dataType: DataType.FLOAT, rawData: floatsToLittleEndianBytes(values) };
}

function attribute(a: OnnxAttribute): onnx.IAttributeProto {
  if ('float' in a) return { name: a.name, type: AttributeType.FLOAT, f: a.float };
  if ('int' in a) return { name: a.name, type: AttributeType.INT, i: a.int };
  if ('ints' in a) return { name: a.name, type: AttributeType.INTS, ints: a.ints };
  return { name: a.name, type: AttributeType.STRING, s: new TextEncoder().encode(a.string) };
}

/**
 * A float value's type: the fixed dims, after a dynamic first dimension when `dynamic` is a string (its name;
 * '' for an unnamed one, e.g. a multiple of the batch), none when it is false.
 */
export function valueInfo(name: string, shape: readonly number[], dynamic: string | false = 'batch'): onnx.IValueInfoProto {
  const dims: onnx.TensorShapeProto.IDimension[] = shape.map((d) => ({ dimValue: d }));
  const dim = dynamic === false ? dims : [dynamic ? { dimParam: dynamic } : {}, ...dims];
  return { name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim } } } };
}

/** Where a builder stood: mark() and rollback() drop what was added since (a layer's traced ops replaced by its hook). */
export interface BuilderMark { nodes: number; initializers: number; names: number }

/** What rollback() removed. */
export interface BuilderCut {
  nodes: onnx.INodeProto[];
  initializers: onnx.ITensorProto[];
  names: string[];
  shared: [string, { values: ArrayLike<number>; name: string; index: number }][];
}

/**
 * Builds the node and initializer lists with unique names. Implements what a layer's registered ONNX export
 * sees (the running value, its per-sample shape, the layer's parameters); the tracer (trace.ts) also writes op
 * nodes through it. Initializers given the same name and the same Float32Array are written once (a parameter
 * used by several ops or layers).
 */
export class GraphBuilder implements OnnxExportContext {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly usedNames = new Set<string>();
  private readonly namesLog: string[] = [];
  private readonly shared = new Map<string, { values: ArrayLike<number>; name: string; index: number }>();
  private counter = 0;
  prefix = '';
  where = 'the model';
  shape: number[];
  private params: Record<string, Float32Array> = {};

  constructor(public current: string, readonly opset: number, sampleShape: number[]) {
    this.fresh(current);
    this.shape = sampleShape;
  }

  /** Points the builder at the next layer. */
  enter(layer: ExportLayer): void {
    this.prefix = layer.name;
    this.where = layer.name ? `layer ${layer.name.slice(0, -1)}` : 'the model';
    this.params = layer.params;
  }

  param(name: string): Float32Array {
    const v = this.params[name];
    if (v === undefined) throw new Error(`onnx.exportModel: ${this.where} has no '${this.prefix}${name}' parameter`);
    return v;
  }

  /** A value or initializer name not used before, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    while (this.usedNames.has(name)) name = `${base}_${++this.counter}`;
    this.usedNames.add(name);
    this.namesLog.push(name);
    return name;
  }

  mark(): BuilderMark {
    return { nodes: this.nodes.length, initializers: this.initializers.length, names: this.namesLog.length };
  }

  /** Removes what was added since `m` and returns it (paste() puts it back). */
  rollback(m: BuilderMark): BuilderCut {
    const cut: BuilderCut = {
      nodes: this.nodes.splice(m.nodes), initializers: this.initializers.splice(m.initializers), names: this.namesLog.splice(m.names), shared: [],
    };
    for (const name of cut.names) this.usedNames.delete(name);
    for (const [k, v] of this.shared) {
      if (v.index >= m.initializers) {
        cut.shared.push([k, v]);
        this.shared.delete(k);
      }
    }
    return cut;
  }

  /** Puts back what rollback() removed (the builder must stand where it stood then). */
  paste(cut: BuilderCut): void {
    this.nodes.push(...cut.nodes);
    this.initializers.push(...cut.initializers);
    for (const name of cut.names) {
      this.usedNames.add(name);
      this.namesLog.push(name);
    }
    for (const [k, v] of cut.shared) this.shared.set(k, v);
  }

  initializer(base: string, dims: number[], values: Float32Array): string {
    return this.tensor(base, dims, values, DataType.FLOAT);
  }

  /** An int8 initializer (QDQ export: quantised weights and zero points), raw bytes. */
  int8Initializer(base: string, dims: number[], values: Int8Array): string {
    const name = this.fresh(base);
    this.initializers.push({ name, dims, dataType: DataType.INT8, rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) });
    return name;
  }

  /** An int64 initializer (shapes, axes, indices). */
  ints(base: string, values: ArrayLike<number>): string {
    return this.tensor(base, [values.length], values, DataType.INT64);
  }

  private tensor(base: string, dims: number[], values: ArrayLike<number>, type: number): string {
    const seen = this.shared.get(base);
    if (seen !== undefined && seen.values === values && type === DataType.FLOAT) return seen.name;
    const name = this.fresh(base);
    const t: onnx.ITensorProto = type === DataType.FLOAT
      ? floatTensor(name, dims, values as Float32Array)
      : { name, dims, dataType: DataType.INT64, int64Data: Array.from(values) };
    this.shared.set(base, { values, name, index: this.initializers.length });
    this.initializers.push(t);
    return name;
  }

  scalar(base: string, value: number): string {
    return this.initializer(base, [], new Float32Array([value]));
  }

  node(opType: string, inputs: string[], attrs: OnnxAttribute[] = [], docString?: string, outputs = 1): string {
    const nodeName = `${this.prefix}${opType}`;
    const out = this.fresh(`${nodeName}_output`);
    // Operators whose other outputs are required (TopK's indices) get them named; only the first is used.
    const rest = Array.from({ length: outputs - 1 }, (_, i) => this.fresh(`${nodeName}_output${i + 1}`));
    const node: onnx.INodeProto = { opType, name: this.fresh(nodeName), input: inputs, output: [out, ...rest], attribute: attrs.map(attribute) };
    if (docString !== undefined) node.docString = docString;
    this.nodes.push(node);
    return out;
  }

  chain(opType: string, attrs: OnnxAttribute[] = [], docString?: string): void {
    this.current = this.node(opType, [this.current], attrs, docString);
  }

  /** Makes value `from` carry the graph output name `to`: renames its producer's output, or adds an Identity. */
  nameOutput(from: string, to: string, renamable: boolean): void {
    const producer = renamable ? this.nodes.find((n) => n.output && n.output[0] === from) : undefined;
    if (producer && producer.output) {
      producer.output[0] = to;
      for (const n of this.nodes) n.input = (n.input ?? []).map((s) => (s === from ? to : s));
    } else {
      this.nodes.push({ opType: 'Identity', name: this.fresh('Identity'), input: [from], output: [to] });
    }
  }

  /** The model around the nodes: opset, IR version, producer, graph inputs and outputs; verified. */
  model(inputs: onnx.IValueInfoProto[], outputs: onnx.IValueInfoProto[], producerVersion: string): Uint8Array {
    const model: onnx.IModelProto = {
      irVersion: irVersionForOpset(this.opset),
      opsetImport: [{ domain: '', version: this.opset }],
      producerName: 'myelin',
      producerVersion,
      graph: { name: 'myelin', node: this.nodes, initializer: this.initializers, input: inputs, output: outputs },
    };
    const err = onnx.ModelProto.verify(model);
    if (err) throw new Error(`onnx.exportModel: internal error building the model: ${err}`);
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

/** Throws unless opset is one exportModel writes. */
export function checkOpset(opset: number): void {
  if (!Number.isInteger(opset) || opset < MIN_EXPORT_OPSET || opset > MAX_EXPORT_OPSET) {
    throw new Error(`onnx.exportModel: opset ${opset} is not supported (use ${MIN_EXPORT_OPSET}..${MAX_EXPORT_OPSET})`);
  }
}

/** Encodes a layer chain as an ONNX model. Throws naming the layer when shapes do not fit. */
export function encodeLayers(layers: ExportLayer[], opts: EncodeOptions): Uint8Array {
  const { opset, inputName, outputName } = opts;
  checkOpset(opset);
  if (!inputName || !outputName || inputName === outputName) {
    throw new Error(`onnx.exportModel: inputName and outputName must be distinct non-empty names (got '${inputName}', '${outputName}')`);
  }
  if (opts.inputShape.length === 0 || opts.inputShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`onnx.exportModel: inputShape must list positive integers per sample, got [${opts.inputShape.join(',')}]`);
  }

  const g = new GraphBuilder(inputName, opset, [...opts.inputShape]);
  g.fresh(outputName); // reserve: only the final rename may produce it

  for (const layer of layers) {
    const def = definitionOfType(layer.config.type);
    g.enter(layer);
    if (def?.onnx === undefined) {
      throw new Error(`onnx.exportModel: ${g.where}: layer type '${layer.config.type}' is not supported by ONNX export`);
    }
    def.onnx(g, layer.config);
  }
  const last = g.nodes[g.nodes.length - 1];
  g.nameOutput(g.current, outputName, (last?.output ?? [])[0] === g.current);
  return g.model([valueInfo(inputName, opts.inputShape)], [valueInfo(outputName, g.shape)], opts.producerVersion);
}
