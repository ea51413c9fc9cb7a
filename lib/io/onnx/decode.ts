// ONNX bytes -> ModelProto, plus reading tensors and attributes out of it with every size checked.
import { onnx, DataType, AttributeType, int64ToNumber } from './schema';
import type { OnnxNodeView } from '../../nn/registry';

/** Parses ONNX bytes. Throws "not a valid ONNX model: ..." for anything protobuf cannot read or that has no graph. */
export function decodeModelProto(bytes: Uint8Array): onnx.ModelProto {
  if (bytes.byteLength === 0) throw new Error('not a valid ONNX model: the file is empty');
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new Error(`not a valid ONNX model: protobuf decoding failed (${(err as Error).message})`);
  }
  const ir = int64ToNumber(model.irVersion, 'ir_version');
  if (ir <= 0) throw new Error('not a valid ONNX model: ir_version is missing');
  if (!model.graph) throw new Error('not a valid ONNX model: it has no graph');
  if (defaultOpset(model) <= 0) throw new Error('not a valid ONNX model: it imports no default-domain opset');
  return model;
}

/** The default-domain opset the model imports (0 when it declares none). */
export function defaultOpset(model: onnx.IModelProto): number {
  for (const o of model.opsetImport ?? []) {
    if (!o.domain || o.domain === 'ai.onnx') return int64ToNumber(o.version, 'opset_import.version');
  }
  return 0;
}

/** The shortest decimal that rounds to the same float32 (0.20000000298023224 -> 0.2): float attributes are float32. */
export function shortestFloat32(x: number): number {
  const f = Math.fround(x);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}

/** A constant tensor as a flat float array and its dims. */
export interface ConstTensor {
  dims: number[];
  data: Float64Array;
  /** Stored as an integer or bool type (shape arithmetic: ONNX Div of integers truncates). */
  int?: boolean;
}

function elementCount(dims: number[], what: string): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`${what}: invalid dimension ${d} in [${dims.join(',')}]`);
    n *= d;
    if (n > 2 ** 31) throw new Error(`${what}: tensor of shape [${dims.join(',')}] is too large`);
  }
  return n;
}

/** Reads a float/double/int32/int64 TensorProto (raw_data or typed fields) into float64 values. */
export function readTensor(t: onnx.ITensorProto, what: string): ConstTensor {
  const name = `${what} '${t.name ?? ''}'`;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData && t.externalData.length > 0)) {
    throw new Error(`${name}: tensors stored in external data files are not supported`);
  }
  const dims = (t.dims ?? []).map((d) => int64ToNumber(d, `${name} dims`));
  const n = elementCount(dims, name);
  const type = t.dataType ?? 0;
  const raw = t.rawData && t.rawData.byteLength > 0 ? t.rawData : null;
  const BOOL = onnx.TensorProto.DataType.BOOL;
  const width = type === DataType.FLOAT || type === DataType.INT32 ? 4 : type === DataType.DOUBLE || type === DataType.INT64 ? 8 : type === BOOL ? 1 : 0;
  if (width === 0) throw new Error(`${name}: data type ${onnx.TensorProto.DataType[type] ?? type} is not supported (float, double, int32, int64, bool are)`);
  const int = type === DataType.INT32 || type === DataType.INT64 || type === BOOL;
  if (raw) {
    if (raw.byteLength !== n * width) {
      throw new Error(`${name}: raw_data has ${raw.byteLength} bytes, shape [${dims.join(',')}] needs ${n * width}`);
    }
    const out = new Float64Array(n); // allocated only once the bytes are known to be there
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) {
      if (type === DataType.FLOAT) out[i] = view.getFloat32(i * 4, true);
      else if (type === DataType.INT32) out[i] = view.getInt32(i * 4, true);
      else if (type === DataType.DOUBLE) out[i] = view.getFloat64(i * 8, true);
      else if (type === BOOL) out[i] = view.getUint8(i) !== 0 ? 1 : 0;
      else out[i] = Number(view.getBigInt64(i * 8, true));
    }
    return { dims, data: out, int };
  }
  const typed: ArrayLike<number | { toNumber(): number }> =
    type === DataType.FLOAT ? t.floatData ?? [] : type === DataType.DOUBLE ? t.doubleData ?? [] : type === DataType.INT32 || type === BOOL ? t.int32Data ?? [] : t.int64Data ?? [];
  if (typed.length !== n) {
    throw new Error(`${name}: has ${typed.length} values, shape [${dims.join(',')}] needs ${n}`);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = typed[i];
    out[i] = typeof v === 'number' ? v : v.toNumber();
  }
  return { dims, data: out, int };
}

/** Attribute lookup helpers on a node; each throws naming the node when the attribute has the wrong type. */
export class NodeAttributes {
  private readonly byName = new Map<string, onnx.IAttributeProto>();

  constructor(private readonly node: onnx.INodeProto) {
    for (const a of node.attribute ?? []) if (a.name) this.byName.set(a.name, a);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  float(name: string, fallback: number): number {
    const a = this.byName.get(name);
    if (!a) return fallback;
    if (a.type !== AttributeType.FLOAT && a.type !== undefined && a.type !== AttributeType.UNDEFINED) this.wrongType(name, 'float');
    return a.f ?? fallback;
  }

  int(name: string, fallback: number): number {
    const a = this.byName.get(name);
    if (!a) return fallback;
    if (a.type !== AttributeType.INT && a.type !== undefined && a.type !== AttributeType.UNDEFINED) this.wrongType(name, 'int');
    return int64ToNumber(a.i, `node '${this.node.name ?? ''}' attribute ${name}`);
  }

  string(name: string, fallback: string): string {
    const a = this.byName.get(name);
    if (!a) return fallback;
    if (a.type !== AttributeType.STRING && a.type !== undefined && a.type !== AttributeType.UNDEFINED) this.wrongType(name, 'string');
    return a.s ? new TextDecoder().decode(a.s) : fallback;
  }

  tensor(name: string): onnx.ITensorProto | null {
    const a = this.byName.get(name);
    return a?.t ?? null;
  }

  private wrongType(name: string, want: string): never {
    throw new Error(`node '${this.node.name ?? ''}' (${this.node.opType}): attribute ${name} should be a ${want}`);
  }
}

/** A node as a registered layer's import sees it. */
export function nodeView(n: onnx.INodeProto, label: string): OnnxNodeView {
  const attrs = new NodeAttributes(n);
  return {
    opType: n.opType ?? '', label, inputs: (n.input ?? []).slice(), output: (n.output ?? [])[0] ?? '',
    float: (name, fb) => attrs.float(name, fb),
    int: (name, fb) => attrs.int(name, fb),
    string: (name, fb) => attrs.string(name, fb),
    ints: (name) => {
      const a = (n.attribute ?? []).find((x) => x.name === name);
      return a ? (a.ints ?? []).map((v) => int64ToNumber(v, `${label} attribute ${name}`)) : null;
    },
  };
}
