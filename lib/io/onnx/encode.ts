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

function valueInfo(name: string, sampleShape: number[]): onnx.IValueInfoProto {
  const dim: onnx.TensorShapeProto.IDimension[] = [{ dimParam: 'batch' }, ...sampleShape.map((d) => ({ dimValue: d }))];
  return { name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim } } } };
}

/** Builds the node list while tracking the running value name and the per-sample shape. */
class GraphBuilder implements OnnxExportContext {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly usedNames = new Set<string>();
  private counter = 0;
  prefix = '';
  where = 'the model';
  shape: number[];
  private params: Record<string, Float32Array> = {};

  constructor(public current: string, readonly opset: number, sampleShape: number[]) {
    this.usedNames.add(current);
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
    return name;
  }

  initializer(base: string, dims: number[], values: Float32Array): string {
    const name = this.fresh(base);
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }

  scalar(base: string, value: number): string {
    return this.initializer(base, [], new Float32Array([value]));
  }

  node(opType: string, inputs: string[], attrs: OnnxAttribute[] = [], docString?: string): string {
    const nodeName = `${this.prefix}${opType}`;
    const out = this.fresh(`${nodeName}_output`);
    const node: onnx.INodeProto = { opType, name: this.fresh(nodeName), input: inputs, output: [out], attribute: attrs.map(attribute) };
    if (docString !== undefined) node.docString = docString;
    this.nodes.push(node);
    return out;
  }

  chain(opType: string, attrs: OnnxAttribute[] = [], docString?: string): void {
    this.current = this.node(opType, [this.current], attrs, docString);
  }
}

/** Encodes a layer chain as an ONNX model. Throws naming the layer when shapes do not fit. */
export function encodeLayers(layers: ExportLayer[], opts: EncodeOptions): Uint8Array {
  const { opset, inputName, outputName } = opts;
  if (!Number.isInteger(opset) || opset < MIN_EXPORT_OPSET || opset > MAX_EXPORT_OPSET) {
    throw new Error(`onnx.exportModel: opset ${opset} is not supported (use ${MIN_EXPORT_OPSET}..${MAX_EXPORT_OPSET})`);
  }
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
  const shape = g.shape;

  // The graph output must carry the requested name: rename the last node's output, or add an Identity.
  const last = g.nodes[g.nodes.length - 1];
  if (last && last.output && last.output[0] === g.current) last.output[0] = outputName;
  else g.nodes.push({ opType: 'Identity', name: g.fresh('Identity'), input: [g.current], output: [outputName] });

  const model: onnx.IModelProto = {
    irVersion: irVersionForOpset(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'myelin',
    producerVersion: opts.producerVersion,
    graph: {
      name: 'myelin',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(inputName, opts.inputShape)],
      output: [valueInfo(outputName, shape)],
    },
  };
  const err = onnx.ModelProto.verify(model);
  if (err) throw new Error(`onnx.exportModel: internal error building the model: ${err}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
