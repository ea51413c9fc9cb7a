// Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d (NCHW, PyTorch semantics), with ONNX MaxPool/AveragePool/GlobalAveragePool.
import { Tensor, shapeToString } from '../tensor';
import { adaptiveAvgPool2d, avgPool1d, avgPool2d, maxPool1d, maxPool2d, poolOutSize } from '../ops/pool';
import { intOf, pair as pairOf } from '../ops/conv';
import { intRule, pairRule } from './conv';
import { Module } from './module';
import type { LayerConfig } from './config';
import { keyRules, register, type ImportedLayer, type KeyRule, type OnnxExportContext, type OnnxImport, type OnnxNodeView } from './registry';
import { checkBoolean, checkOptions, checkTensor, invalid } from '../validate';

type Pair = [number, number];

/** Options of the 2-D pooling layers: stride (default the kernel size) and padding (default 0). */
export interface Pool2dLayerOptions {
  /** Default: the kernel size. */
  stride?: number | Pair;
  /** Per side, at most half the kernel (default 0). */
  padding?: number | Pair;
  /** Max pooling only (default 1). */
  dilation?: number | Pair;
  /** Round output sizes up (default false). */
  ceilMode?: boolean;
  /** Average pooling only: count padding in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
}
/** Options of the 1-D pooling layers: stride (default the kernel size) and padding (default 0). */
export interface Pool1dLayerOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

interface PoolConfig extends LayerConfig {
  kernelSize: number | Pair;
  stride: number | Pair;
  padding: number | Pair;
  dilation?: number | Pair;
  ceilMode: boolean;
  countIncludePad?: boolean;
}

/** The settings shared by the four fixed-window pooling layers. */
abstract class PoolBase extends Module {
  readonly kind: 'max' | 'avg';
  readonly dims: 1 | 2;
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;

  protected constructor(kind: 'max' | 'avg', dims: 1 | 2, kernelSize: unknown, opts: Pool2dLayerOptions | Pool1dLayerOptions) {
    super();
    const where = this.typeName(kind, dims);
    const keys = kind === 'max' ? ['stride', 'padding', 'dilation', 'ceilMode'] : ['stride', 'padding', 'ceilMode', 'countIncludePad'];
    const o = checkOptions(where, opts as Pool2dLayerOptions, keys);
    const read = dims === 2 ? (name: string, v: unknown, min: number) => pairOf(where, name, v, min)
      : (name: string, v: unknown, min: number): Pair => [min === 0 ? 0 : 1, intOf(where, name, v, min)];
    this.kind = kind;
    this.dims = dims;
    this.kernelSize = read('kernelSize', kernelSize, 1);
    this.stride = o.stride === undefined || o.stride === null ? this.kernelSize : read('stride', o.stride, 1);
    this.padding = read('padding', o.padding ?? 0, 0);
    this.dilation = read('dilation', o.dilation ?? 1, 1);
    if (2 * this.padding[0] > this.kernelSize[0] || 2 * this.padding[1] > this.kernelSize[1]) {
      invalid(where, 'padding', 'at most half the kernel size', o.padding);
    }
    this.ceilMode = o.ceilMode === undefined ? false : checkBoolean(where, 'ceilMode', o.ceilMode);
    this.countIncludePad = o.countIncludePad === undefined ? true : checkBoolean(where, 'countIncludePad', o.countIncludePad);
  }

  private typeName(kind: 'max' | 'avg', dims: 1 | 2): string {
    return `${kind === 'max' ? 'Max' : 'Avg'}Pool${dims}d`;
  }

  override forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) checkTensor(`${this.describe()}.forward`, 'input', x);
    if (x.ndim !== this.dims + 2) {
      throw new Error(`${this.describe()}.forward: input of shape ${shapeToString(x.shape)}, expected ${this.dims === 2 ? '[batch, channels, height, width]' : '[batch, channels, length]'}`);
    }
    const base = { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode };
    if (this.dims === 2) {
      return this.kind === 'max' ? maxPool2d(x, this.kernelSize, { ...base, dilation: this.dilation })
        : avgPool2d(x, this.kernelSize, { ...base, countIncludePad: this.countIncludePad });
    }
    const one = { stride: this.stride[1], padding: this.padding[1], ceilMode: this.ceilMode };
    return this.kind === 'max' ? maxPool1d(x, this.kernelSize[1], { ...one, dilation: this.dilation[1] })
      : avgPool1d(x, this.kernelSize[1], { ...one, countIncludePad: this.countIncludePad });
  }

  override toConfig(): PoolConfig {
    const v = (p: Pair): number | Pair => (this.dims === 1 ? p[1] : [...p] as Pair);
    const c: PoolConfig = { type: this.typeName(this.kind, this.dims), kernelSize: v(this.kernelSize), stride: v(this.stride), padding: v(this.padding), ceilMode: this.ceilMode };
    if (this.kind === 'max') c.dilation = v(this.dilation);
    else c.countIncludePad = this.countIncludePad;
    return c;
  }

  override describe(): string {
    const show = (p: Pair): string => (this.dims === 1 ? String(p[1]) : p.join('x'));
    const extras = [
      this.stride.join() !== this.kernelSize.join() ? `stride ${show(this.stride)}` : '',
      this.padding[0] || this.padding[1] ? `padding ${show(this.padding)}` : '',
      this.kind === 'max' && (this.dilation[0] !== 1 || this.dilation[1] !== 1) ? `dilation ${show(this.dilation)}` : '',
      this.ceilMode ? 'ceil mode' : '',
      this.kind === 'avg' && !this.countIncludePad ? 'padding not counted' : '',
    ].filter((s) => s);
    return `${this.typeName(this.kind, this.dims)}(${show(this.kernelSize)}${extras.length ? `, ${extras.join(', ')}` : ''})`;
  }
}

/** 2-D max pooling over [n, c, h, w] as a layer (stride defaults to the kernel size). */
export class MaxPool2d extends PoolBase {
  /**
   * Creates the layer.
   * @param kernelSize the window's height and width (a positive integer or a pair).
   * @param opts stride (default: the kernel size), padding (per side, at most half the kernel; default 0), ceilMode (default false), dilation (default 1).
   * @throws Error for an unknown option (dilation is MaxPool's, countIncludePad AvgPool's), a size that is not a positive integer, or padding above half the kernel; forward throws for an input that is not 4-D.
   * @example
   * ```ts
   * const pool = new nn.MaxPool2d(2); // [n, c, 28, 28] -> [n, c, 14, 14]
   * ```
   */
  constructor(kernelSize: number | Pair, opts: Pool2dLayerOptions = {}) {
    super('max', 2, kernelSize, opts);
  }
}
/** 2-D average pooling over [n, c, h, w] as a layer (stride defaults to the kernel size). */
export class AvgPool2d extends PoolBase {
  /**
   * Creates the layer.
   * @param kernelSize the window's height and width (a positive integer or a pair).
   * @param opts stride (default: the kernel size), padding (per side, at most half the kernel; default 0), ceilMode (default false), countIncludePad (count padding in the divisor, default true).
   * @throws Error for an unknown option (dilation is MaxPool's, countIncludePad AvgPool's), a size that is not a positive integer, or padding above half the kernel; forward throws for an input that is not 4-D.
   * @example
   * ```ts
   * const pool = new nn.AvgPool2d(2); // [n, c, 28, 28] -> [n, c, 14, 14]
   * ```
   */
  constructor(kernelSize: number | Pair, opts: Pool2dLayerOptions = {}) {
    super('avg', 2, kernelSize, opts);
  }
}
/** 1-D max pooling over [n, c, length] as a layer (stride defaults to the kernel size). */
export class MaxPool1d extends PoolBase {
  /**
   * Creates the layer.
   * @param kernelSize the window length, a positive integer.
   * @param opts stride (default: the kernel size), padding (at most half the kernel; default 0), ceilMode (default false), dilation (default 1).
   * @throws Error for an unknown option, a size that is not a positive integer, or padding above half the kernel; forward throws for an input that is not 3-D.
   * @example
   * ```ts
   * const pool = new nn.MaxPool1d(2); // [n, c, 100] -> [n, c, 50]
   * ```
   */
  constructor(kernelSize: number, opts: Pool1dLayerOptions = {}) {
    super('max', 1, kernelSize, opts);
  }
}
/** 1-D average pooling over [n, c, length] as a layer (stride defaults to the kernel size). */
export class AvgPool1d extends PoolBase {
  /**
   * Creates the layer.
   * @param kernelSize the window length, a positive integer.
   * @param opts stride (default: the kernel size), padding (at most half the kernel; default 0), ceilMode (default false), countIncludePad (count padding in the divisor, default true).
   * @throws Error for an unknown option, a size that is not a positive integer, or padding above half the kernel; forward throws for an input that is not 3-D.
   * @example
   * ```ts
   * const pool = new nn.AvgPool1d(2); // [n, c, 100] -> [n, c, 50]
   * ```
   */
  constructor(kernelSize: number, opts: Pool1dLayerOptions = {}) {
    super('avg', 1, kernelSize, opts);
  }
}

/** Average pooling to a fixed output size (1: global average pooling), as torch.nn.AdaptiveAvgPool2d. */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: Pair;
  /**
   * Creates the layer.
   * @param outputSize the output's height and width (a positive integer, or a pair); 1 = global average pooling.
   * @throws Error when outputSize is not a positive integer or a pair of them.
   * @example
   * ```ts
   * const gap = new nn.AdaptiveAvgPool2d(1); // [n, c, h, w] -> [n, c, 1, 1]
   * ```
   */
  constructor(outputSize: number | Pair) {
    super();
    this.outputSize = pairOf('AdaptiveAvgPool2d', 'outputSize', outputSize, 1);
  }
  /**
   * Averages each channel over adaptive windows so that the output has outputSize (window i of H spans
   * rows [floor(i * H / outH), ceil((i + 1) * H / outH)), as PyTorch).
   * @param x a Tensor [batch, channels, height, width], height and width at least 1.
   * @returns a Tensor [batch, channels, outputSize[0], outputSize[1]].
   * @throws Error when x is not a 4-D Tensor or has an empty spatial axis.
   * @example new nn.AdaptiveAvgPool2d(1).forward(randn([2, 16, 7, 7])).shape // [2, 16, 1, 1]
   */
  override forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
  override toConfig(): LayerConfig {
    return { type: 'AdaptiveAvgPool2d', outputSize: [...this.outputSize] };
  }
  override describe(): string {
    return `AdaptiveAvgPool2d(${this.outputSize.join('x')})`;
  }
}

// ---- registration: config keys, ONNX ----
function exportPool(ctx: OnnxExportContext, layer: PoolConfig, kind: 'max' | 'avg', dims: 1 | 2): void {
  const type = layer.type;
  if (ctx.shape.length !== dims + 1) {
    throw new Error(`onnx.exportModel: ${ctx.where} ${type} gets input [${['batch', ...ctx.shape].join(',')}]; expected ${dims + 2} dimensions (set inputShape)`);
  }
  const p = (v: unknown, min: number): Pair => (dims === 2 ? pairOf(type, 'setting', v, min) : [min === 0 ? 0 : 1, intOf(type, 'setting', v, min)]);
  const k = p(layer.kernelSize, 1);
  const s = p(layer.stride, 1);
  const pad = p(layer.padding, 0);
  const d = kind === 'max' ? p(layer.dilation ?? 1, 1) : ([1, 1] as Pair);
  const from = 2 - dims;
  const out = ctx.shape.slice(1).map((n, i) => poolOutSize(n, k[from + i], s[from + i], pad[from + i], d[from + i], layer.ceilMode));
  const attrs = [
    { name: 'kernel_shape', ints: k.slice(from) },
    { name: 'strides', ints: s.slice(from) },
    { name: 'pads', ints: [...pad.slice(from), ...pad.slice(from)] },
    { name: 'ceil_mode', int: layer.ceilMode ? 1 : 0 },
  ];
  if (kind === 'max' && (d[0] !== 1 || d[1] !== 1)) attrs.push({ name: 'dilations', ints: d.slice(from) });
  if (kind === 'avg') attrs.push({ name: 'count_include_pad', int: layer.countIncludePad === false ? 0 : 1 });
  ctx.chain(kind === 'max' ? 'MaxPool' : 'AveragePool', attrs);
  ctx.shape = [ctx.shape[0], ...out];
}

function importPool(n: OnnxNodeView): ImportedLayer {
  const k = n.ints('kernel_shape');
  if (k === null || (k.length !== 1 && k.length !== 2)) throw new Error(`${n.label}: kernel_shape must list 1 or 2 sizes`);
  const dims = k.length;
  const s = n.ints('strides') ?? k.map(() => 1);
  const pads = n.ints('pads') ?? [...k.map(() => 0), ...k.map(() => 0)];
  if (pads.slice(0, dims).join() !== pads.slice(dims).join()) throw new Error(`${n.label}: asymmetric pads [${pads.join(',')}] are not supported`);
  const pad = pads.slice(0, dims);
  const max = n.opType === 'MaxPool';
  const v = (a: number[]): number | number[] => (dims === 1 ? a[0] : a);
  const config: LayerConfig = {
    type: `${max ? 'Max' : 'Avg'}Pool${dims}d`, kernelSize: v(k), stride: v(s), padding: v(pad), ceilMode: n.int('ceil_mode', 0) === 1,
  };
  if (max) config.dilation = v(n.ints('dilations') ?? k.map(() => 1));
  else config.countIncludePad = n.int('count_include_pad', 0) === 1;
  if (n.int('storage_order', 0) !== 0) throw new Error(`${n.label}: storage_order 1 is not supported`);
  return { config, params: {} };
}

const POOL_IMPORT: OnnxImport = {
  attributes: {
    MaxPool: { kernel_shape: 'ints', strides: 'ints', pads: 'ints', dilations: 'ints', ceil_mode: 'int', storage_order: 'int' },
    AveragePool: { kernel_shape: 'ints', strides: 'ints', pads: 'ints', ceil_mode: 'int', count_include_pad: 'int' },
  },
  node: importPool,
  sampleAfter(l: ImportedLayer, sample: (number | null)[] | null): (number | null)[] | null {
    const c = l.config as PoolConfig;
    const list = (v: number | Pair | undefined, fallback: number): number[] => (v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v] : v);
    const k = list(c.kernelSize, 1);
    if (sample === null || sample.length !== k.length + 1) return null;
    const st = list(c.stride, 1);
    const p = list(c.padding, 0);
    const d = c.dilation === undefined ? k.map(() => 1) : list(c.dilation, 1);
    return [sample[0], ...sample.slice(1).map((n, i) => (n === null ? null : poolOutSize(n, k[i], st[i], p[i], d[i], c.ceilMode)))];
  },
};

for (const [cls, kind, dims] of [[MaxPool2d, 'max', 2], [AvgPool2d, 'avg', 2], [MaxPool1d, 'max', 1], [AvgPool1d, 'avg', 1]] as const) {
  const rule = dims === 2 ? pairRule : intRule;
  const keys: Record<string, KeyRule> = { kernelSize: rule(1), stride: rule(1), padding: rule(0), ceilMode: keyRules.boolean };
  if (kind === 'max') keys.dilation = rule(1);
  else keys.countIncludePad = keyRules.boolean;
  register<PoolConfig>(cls as unknown as typeof MaxPool2d, {
    keys,
    fromConfig: (c) => {
      const o = kind === 'max' ? { stride: c.stride, padding: c.padding, dilation: c.dilation, ceilMode: c.ceilMode }
        : { stride: c.stride, padding: c.padding, ceilMode: c.ceilMode, countIncludePad: c.countIncludePad };
      return new (cls as unknown as new (k: unknown, o: unknown) => Module)(c.kernelSize, o);
    },
    parameters: () => [],
    onnx: (ctx, c) => exportPool(ctx, c, kind, dims),
    ...(cls === MaxPool2d ? { onnxImport: POOL_IMPORT } : {}),
    keepsNoTensors: true,
  });
}

interface AdaptiveConfig extends LayerConfig {
  outputSize: number | Pair;
}
register<AdaptiveConfig>(AdaptiveAvgPool2d, {
  keys: { outputSize: pairRule(1) },
  fromConfig: (c) => new AdaptiveAvgPool2d(c.outputSize),
  parameters: () => [],
  onnx(ctx, c) {
    const [oh, ow] = pairOf('AdaptiveAvgPool2d', 'outputSize', c.outputSize, 1);
    if (ctx.shape.length !== 3) throw new Error(`onnx.exportModel: ${ctx.where} AdaptiveAvgPool2d gets input [${['batch', ...ctx.shape].join(',')}]; expected 4 dimensions (set inputShape)`);
    const [C, H, W] = ctx.shape;
    if (oh === 1 && ow === 1) ctx.chain('GlobalAveragePool');
    else if (H % oh === 0 && W % ow === 0) {
      const k = [H / oh, W / ow];
      ctx.chain('AveragePool', [{ name: 'kernel_shape', ints: k }, { name: 'strides', ints: k }, { name: 'pads', ints: [0, 0, 0, 0] }]);
    } else {
      throw new Error(`onnx.exportModel: ${ctx.where} AdaptiveAvgPool2d(${oh}x${ow}) on ${H}x${W}: ONNX has no adaptive pooling; the input size must be a multiple of the output size`);
    }
    ctx.shape = [C, oh, ow];
  },
  onnxImport: {
    attributes: { GlobalAveragePool: {} },
    node: () => ({ config: { type: 'AdaptiveAvgPool2d', outputSize: [1, 1] }, params: {} }),
    sampleAfter: (_l, sample) => (sample === null || sample.length !== 3 ? null : [sample[0], 1, 1]),
  },
  keepsNoTensors: true,
});
