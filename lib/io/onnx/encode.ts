// LayerSpec[] -> ONNX ModelProto bytes: one node chain with a dynamic batch dimension, weights as float initializers.
import { onnx, DataType, AttributeType, MIN_EXPORT_OPSET, MAX_EXPORT_OPSET, irVersionForOpset } from './schema';
import { LayerSpec, describeLayer } from './layers';

export interface EncodeOptions {
  /** Shape of one sample (no batch dimension), e.g. [64] or [1, 8, 8]. */
  inputShape: number[];
  opset: number;
  inputName: string;
  outputName: string;
  producerVersion: string;
}

/** Prefix that marks an Identity node written for a Dropout layer, so import can restore the layer. */
export const DROPOUT_DOC_PREFIX = 'myelin Dropout p=';

const SQRT2 = Math.SQRT2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

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

function floatAttr(name: string, f: number): onnx.IAttributeProto {
  return { name, type: AttributeType.FLOAT, f };
}
function intAttr(name: string, i: number): onnx.IAttributeProto {
  return { name, type: AttributeType.INT, i };
}
function stringAttr(name: string, s: string): onnx.IAttributeProto {
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(s) };
}

function valueInfo(name: string, sampleShape: number[]): onnx.IValueInfoProto {
  const dim: onnx.TensorShapeProto.IDimension[] = [{ dimParam: 'batch' }, ...sampleShape.map((d) => ({ dimValue: d }))];
  return { name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim } } } };
}

/** Builds the node list while tracking the running value name and the per-sample shape. */
class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly usedNames = new Set<string>();
  private counter = 0;

  constructor(public current: string) {
    this.usedNames.add(current);
  }

  /** A value or initializer name not used before, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    while (this.usedNames.has(name)) name = `${base}_${++this.counter}`;
    this.usedNames.add(name);
    return name;
  }

  scalar(base: string, value: number): string {
    const name = this.fresh(base);
    this.initializers.push(floatTensor(name, [], new Float32Array([value])));
    return name;
  }

  /** Appends a node; returns its output name. */
  node(opType: string, inputs: string[], attrs: onnx.IAttributeProto[] = [], nodeName = opType, docString?: string): string {
    const out = this.fresh(`${nodeName}_output`);
    const node: onnx.INodeProto = { opType, name: this.fresh(nodeName), input: inputs, output: [out], attribute: attrs };
    if (docString !== undefined) node.docString = docString;
    this.nodes.push(node);
    return out;
  }

  /** Appends a unary node on the running value and makes its output the running value. */
  chain(opType: string, attrs: onnx.IAttributeProto[] = [], nodeName = opType, docString?: string): void {
    this.current = this.node(opType, [this.current], attrs, nodeName, docString);
  }
}

/** gelu(x) = 0.5 * x * (1 + erf(x / sqrt 2)), the form torch.onnx.export writes before opset 20. */
function emitExactGelu(g: GraphBuilder, prefix: string): void {
  const x = g.current;
  const scaled = g.node('Div', [x, g.scalar(`${prefix}gelu.sqrt2`, SQRT2)], [], `${prefix}Div`);
  const erf = g.node('Erf', [scaled], [], `${prefix}Erf`);
  const onePlus = g.node('Add', [erf, g.scalar(`${prefix}gelu.one`, 1)], [], `${prefix}Add`);
  const times = g.node('Mul', [x, onePlus], [], `${prefix}Mul`);
  g.current = g.node('Mul', [times, g.scalar(`${prefix}gelu.half`, 0.5)], [], `${prefix}Mul`);
}

/** gelu_tanh(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), cubed with Muls. */
function emitTanhGelu(g: GraphBuilder, prefix: string): void {
  const x = g.current;
  const sq = g.node('Mul', [x, x], [], `${prefix}Mul`);
  const cube = g.node('Mul', [sq, x], [], `${prefix}Mul`);
  const scaledCube = g.node('Mul', [cube, g.scalar(`${prefix}gelu.coeff`, 0.044715)], [], `${prefix}Mul`);
  const inner = g.node('Add', [x, scaledCube], [], `${prefix}Add`);
  const scaled = g.node('Mul', [inner, g.scalar(`${prefix}gelu.sqrt_2_over_pi`, SQRT_2_OVER_PI)], [], `${prefix}Mul`);
  const th = g.node('Tanh', [scaled], [], `${prefix}Tanh`);
  const onePlus = g.node('Add', [th, g.scalar(`${prefix}gelu.one`, 1)], [], `${prefix}Add`);
  const times = g.node('Mul', [x, onePlus], [], `${prefix}Mul`);
  g.current = g.node('Mul', [times, g.scalar(`${prefix}gelu.half`, 0.5)], [], `${prefix}Mul`);
}

const shapeText = (s: number[]): string => `[${['batch', ...s].join(',')}]`;

/** Encodes a layer chain as an ONNX model. Throws naming the layer when shapes do not fit. */
export function encodeLayers(layers: LayerSpec[], opts: EncodeOptions): Uint8Array {
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

  const g = new GraphBuilder(inputName);
  g.fresh(outputName); // reserve: only the final rename may produce it
  let shape = [...opts.inputShape];

  for (const layer of layers) {
    const p = layer.name;
    switch (layer.kind) {
      case 'Linear': {
        if (shape.length !== 1 || shape[0] !== layer.inFeatures) {
          throw new Error(
            `onnx.exportModel: layer ${p ? p.slice(0, -1) : '(the model)'} ${describeLayer(layer)} gets input ${shapeText(shape)}; ` +
              `expected [batch,${layer.inFeatures}] (add a Flatten layer or fix inputShape)`,
          );
        }
        const w = g.fresh(`${p}weight`);
        g.initializers.push(floatTensor(w, [layer.outFeatures, layer.inFeatures], layer.weight));
        const inputs = [g.current, w];
        if (layer.bias) {
          const b = g.fresh(`${p}bias`);
          g.initializers.push(floatTensor(b, [layer.outFeatures], layer.bias));
          inputs.push(b);
        }
        g.current = g.node('Gemm', inputs, [floatAttr('alpha', 1), floatAttr('beta', 1), intAttr('transB', 1)], `${p}Gemm`);
        shape = [layer.outFeatures];
        break;
      }
      case 'ReLU':
        g.chain('Relu', [], `${p}Relu`);
        break;
      case 'LeakyReLU':
        g.chain('LeakyRelu', [floatAttr('alpha', layer.negativeSlope)], `${p}LeakyRelu`);
        break;
      case 'Sigmoid':
        g.chain('Sigmoid', [], `${p}Sigmoid`);
        break;
      case 'Tanh':
        g.chain('Tanh', [], `${p}Tanh`);
        break;
      case 'GELU':
        if (opset >= 20) g.chain('Gelu', [stringAttr('approximate', layer.approximate)], `${p}Gelu`);
        else if (layer.approximate === 'tanh') emitTanhGelu(g, p);
        else emitExactGelu(g, p);
        break;
      case 'Softmax':
        g.chain('Softmax', [intAttr('axis', -1)], `${p}Softmax`);
        break;
      case 'Dropout':
        // Inference graph: dropout is the identity. The doc string lets importModel restore the layer for training.
        g.chain('Identity', [], `${p}Dropout`, `${DROPOUT_DOC_PREFIX}${layer.p}`);
        break;
      case 'Flatten':
        g.chain('Flatten', [intAttr('axis', 1)], `${p}Flatten`);
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      default: {
        const never: never = layer;
        throw new Error(`onnx.exportModel: unsupported layer ${JSON.stringify(never)}`);
      }
    }
  }

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
