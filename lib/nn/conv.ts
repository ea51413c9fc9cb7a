// Conv1d and Conv2d layers (NCHW, PyTorch semantics and init): params, forward in ops, config, ONNX Conv export and import.
import { Tensor, shapeToString, zeros } from '../tensor';
import { conv1d, conv2d, intOf, pair as pairOf } from '../ops/conv';
import { Module } from './module';
import type { LayerConfig } from './config';
import { InitSeed, initWeightAndBias, type InitScheme } from './init';
import { keyRules, register, type ImportedLayer, type KeyRule, type OnnxExportContext, type OnnxNodeView, type OnnxImportContext } from './registry';
import { checkBoolean, checkElementCount, checkOneOf, checkOptions, checkPositiveInt, checkTensor, invalid } from '../validate';

/** How the convolution layers initialise their weights: 'default' (PyTorch's), 'kaiming' or 'glorot'. */
export type ConvInit = 'default' | InitScheme;
type Pair = [number, number];
type Padding = Pair | 'same' | 'valid';

/** Options of nn.Conv2d: stride, padding (numbers, pairs, 'same' or 'valid'), dilation, groups, bias, init and seed. */
export interface Conv2dLayerOptions {
  /** Default 1. */
  stride?: number | Pair;
  /** Zero padding per side (default 0), or 'same' (stride 1) / 'valid'. */
  padding?: number | Pair | 'same' | 'valid';
  /** Default 1. */
  dilation?: number | Pair;
  /** Default 1; inChannels for a depthwise convolution. */
  groups?: number;
  /** Add a bias per output channel (default true). */
  bias?: boolean;
  /**
   * 'default' (PyTorch's: kaiming-uniform with a = sqrt(5), i.e. weight and bias uniform in +-1/sqrt(fanIn),
   * fanIn = inChannels/groups * kh * kw), 'kaiming' (He normal, bias 0), 'glorot' (Xavier uniform, bias 0).
   */
  init?: ConvInit;
  /** Seed for the initialisation. */
  seed?: number;
}

/** Options of nn.Conv1d: stride, padding (a number, 'same' or 'valid'), dilation, groups, bias, init and seed. */
export interface Conv1dLayerOptions extends Omit<Conv2dLayerOptions, 'stride' | 'padding' | 'dilation'> {
  stride?: number;
  padding?: number | 'same' | 'valid';
  dilation?: number;
}

interface ConvConfigBase extends LayerConfig {
  inChannels: number;
  outChannels: number;
  groups: number;
  bias: boolean;
}
export interface Conv2dConfig extends ConvConfigBase {
  kernelSize: Pair;
  stride: Pair;
  padding: Padding;
  dilation: Pair;
}
export interface Conv1dConfig extends ConvConfigBase {
  kernelSize: number;
  stride: number;
  padding: number | 'same' | 'valid';
  dilation: number;
}

const OPTION_KEYS = ['stride', 'padding', 'dilation', 'groups', 'bias', 'init', 'seed'];

/** The parameters and init shared by Conv1d and Conv2d (weight [out, in/groups, ...kernel]). */
abstract class ConvBase extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly groups: number;
  /** [outChannels, inChannels/groups, ...kernel] (PyTorch layout). */
  readonly weight: Tensor;
  /** [outChannels], or null without bias. */
  readonly bias: Tensor | null;
  readonly initScheme: ConvInit;
  private readonly initSeed: InitSeed;

  protected constructor(where: string, inChannels: number, outChannels: number, kernel: number[], o: Conv2dLayerOptions) {
    super();
    checkPositiveInt(where, 'inChannels', inChannels);
    checkPositiveInt(where, 'outChannels', outChannels);
    const groups = o.groups === undefined ? 1 : intOf(where, 'groups', o.groups, 1);
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(`${where}: groups ${groups} must divide inChannels ${inChannels} and outChannels ${outChannels}`);
    }
    const shape = [outChannels, inChannels / groups, ...kernel];
    checkElementCount(where, shape, 'the weight shape');
    this.initScheme = o.init === undefined ? 'default' : checkOneOf(where, 'init', o.init, ['default', 'kaiming', 'glorot'] as const);
    const bias = o.bias === undefined ? true : checkBoolean(where, 'bias', o.bias);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.groups = groups;
    this.initSeed = new InitSeed(where, o.seed);
    this.weight = this.registerParameter('weight', zeros(shape));
    this.bias = bias ? this.registerParameter('bias', zeros([outChannels])) : null;
    this.resetParameters();
  }

  /** Re-draws the weights with the init scheme, from `seed`, else the layer's seed, else the global generator. */
  resetParameters(seed?: number): void {
    const rng = this.initSeed.rng(`${this.constructor.name}.resetParameters`, seed);
    const area = this.weight.shape.slice(2).reduce((a, b) => a * b, 1);
    const fanIn = this.weight.shape[1] * area;
    initWeightAndBias(this.initScheme, this.weight.data, this.bias ? this.bias.data : null, fanIn, (this.outChannels / this.groups) * area, rng);
    this.weight._version++;
    if (this.bias) this.bias._version++;
  }

  override seedIfUnseeded(seed: number): void {
    if (this.initSeed.adopt(seed)) this.resetParameters();
  }

  protected checkInput(x: Tensor, rank: number, layout: string): void {
    if (!(x instanceof Tensor)) checkTensor(`${this.describe()}.forward`, 'input', x);
    if (x.ndim !== rank || x.shape[1] !== this.inChannels) {
      throw new Error(`${this.describe()}.forward: input of shape ${shapeToString(x.shape)}, expected [${layout}] with ${this.inChannels} channels`);
    }
  }
}

/** 2-d convolution over [batch, inChannels, height, width], as torch.nn.Conv2d. */
export class Conv2d extends ConvBase {
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Padding;
  readonly dilation: Pair;

  /**
   * Creates the layer (weights drawn at once, from seed when given).
   * @param inChannels input channels, a positive integer.
   * @param outChannels output channels, a positive integer.
   * @param kernelSize the kernel's height and width (a positive integer, or a pair [kh, kw]).
   * @param opts stride (default 1), padding (default 0; 'same' needs stride 1, or 'valid'), dilation (default 1), groups (default 1), bias (default true), init ('default' as PyTorch, 'kaiming' or 'glorot'), seed.
   * @throws Error for an unknown option, a size that is not a positive integer (padding: a non-negative integer), groups that do not divide inChannels and outChannels, padding 'same' with a stride other than 1, or an unknown init.
   * @example
   * ```ts
   * const conv = new nn.Conv2d(1, 8, 3, { padding: 'same', seed: 1 }); // [n, 1, 28, 28] -> [n, 8, 28, 28]
   * ```
   */
  constructor(inChannels: number, outChannels: number, kernelSize: number | Pair, opts: Conv2dLayerOptions = {}) {
    const o = checkOptions('Conv2d', opts, OPTION_KEYS);
    const k = pairOf('Conv2d', 'kernelSize', kernelSize, 1);
    super('Conv2d', inChannels, outChannels, k, o);
    this.kernelSize = k;
    this.stride = pairOf('Conv2d', 'stride', o.stride ?? 1, 1);
    this.dilation = pairOf('Conv2d', 'dilation', o.dilation ?? 1, 1);
    const p = o.padding ?? 0;
    this.padding = p === 'same' || p === 'valid' ? p : pairOf('Conv2d', 'padding', p, 0);
    if (this.padding === 'same' && (this.stride[0] !== 1 || this.stride[1] !== 1)) {
      invalid('Conv2d', 'padding', "a number when stride is not 1 ('same' needs stride 1)", p);
    }
  }

  /**
   * Convolves a batch of images.
   * @param x a Tensor [batch, inChannels, height, width].
   * @returns [batch, outChannels, outH, outW], outH = floor((height + 2 * padding - dilation * (kernelH - 1) - 1) / stride) + 1
   * (likewise outW; padding 'same' keeps height and width).
   * @throws Error when x is not a 4-D Tensor with inChannels channels, or is smaller than the dilated kernel.
   * @example new nn.Conv2d(3, 8, 3).forward(randn([1, 3, 32, 32])).shape // [1, 8, 30, 30]
   */
  override forward(x: Tensor): Tensor {
    this.checkInput(x, 4, 'batch, channels, height, width');
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override toConfig(): Conv2dConfig {
    return {
      type: 'Conv2d', inChannels: this.inChannels, outChannels: this.outChannels, kernelSize: [...this.kernelSize],
      stride: [...this.stride], padding: typeof this.padding === 'string' ? this.padding : [...this.padding],
      dilation: [...this.dilation], groups: this.groups, bias: this.bias !== null,
    };
  }

  override describe(): string {
    return `Conv2d(${this.inChannels} -> ${this.outChannels}, kernel ${this.kernelSize.join('x')}${describeExtras(this.stride, this.padding, this.dilation, this.groups, this.bias !== null)})`;
  }
}

/** 1-d convolution over [batch, inChannels, length], as torch.nn.Conv1d. */
export class Conv1d extends ConvBase {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number | 'same' | 'valid';
  readonly dilation: number;

  /**
   * Creates the layer (weights drawn at once, from seed when given).
   * @param inChannels input channels, a positive integer.
   * @param outChannels output channels, a positive integer.
   * @param kernelSize the kernel length, a positive integer.
   * @param opts stride (default 1), padding (default 0; 'same' needs stride 1, or 'valid'), dilation (default 1), groups (default 1), bias (default true), init ('default' as PyTorch, 'kaiming' or 'glorot'), seed.
   * @throws Error for an unknown option, a size that is not a positive integer (padding: a non-negative integer), groups that do not divide inChannels and outChannels, padding 'same' with a stride other than 1, or an unknown init.
   * @example
   * ```ts
   * const conv = new nn.Conv1d(16, 32, 5, { padding: 2 }); // [n, 16, L] -> [n, 32, L]
   * ```
   */
  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: Conv1dLayerOptions = {}) {
    const o = checkOptions('Conv1d', opts, OPTION_KEYS);
    const k = intOf('Conv1d', 'kernelSize', kernelSize, 1);
    super('Conv1d', inChannels, outChannels, [k], o);
    this.kernelSize = k;
    this.stride = intOf('Conv1d', 'stride', o.stride ?? 1, 1);
    this.dilation = intOf('Conv1d', 'dilation', o.dilation ?? 1, 1);
    const p = o.padding ?? 0;
    this.padding = p === 'same' || p === 'valid' ? p : intOf('Conv1d', 'padding', p, 0);
    if (this.padding === 'same' && this.stride !== 1) invalid('Conv1d', 'padding', "a number when stride is not 1 ('same' needs stride 1)", p);
  }

  /**
   * Convolves a batch of sequences.
   * @param x a Tensor [batch, inChannels, length].
   * @returns [batch, outChannels, outLength], outLength = floor((length + 2 * padding - dilation * (kernelSize - 1) - 1) / stride) + 1
   * (padding 'same' keeps the length).
   * @throws Error when x is not a 3-D Tensor with inChannels channels, or is shorter than the dilated kernel.
   * @example new nn.Conv1d(4, 8, 5, { padding: 'same' }).forward(randn([2, 4, 100])).shape // [2, 8, 100]
   */
  override forward(x: Tensor): Tensor {
    this.checkInput(x, 3, 'batch, channels, length');
    return conv1d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override toConfig(): Conv1dConfig {
    return {
      type: 'Conv1d', inChannels: this.inChannels, outChannels: this.outChannels, kernelSize: this.kernelSize,
      stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups, bias: this.bias !== null,
    };
  }

  override describe(): string {
    return `Conv1d(${this.inChannels} -> ${this.outChannels}, kernel ${this.kernelSize}${describeExtras([1, this.stride], typeof this.padding === 'string' ? this.padding : [0, this.padding], [1, this.dilation], this.groups, this.bias !== null)})`;
  }
}

function describeExtras(stride: Pair, padding: Padding, dilation: Pair, groups: number, bias: boolean): string {
  const parts: string[] = [];
  const show = (p: Pair): string => (p[0] === 1 && p.length === 2 ? String(p[1]) : p.join('x'));
  if (stride[0] !== 1 || stride[1] !== 1) parts.push(`stride ${show(stride)}`);
  if (typeof padding === 'string') parts.push(`padding '${padding}'`);
  else if (padding[0] !== 0 || padding[1] !== 0) parts.push(`padding ${padding.join('x')}`);
  if (dilation[0] !== 1 || dilation[1] !== 1) parts.push(`dilation ${show(dilation)}`);
  if (groups !== 1) parts.push(`groups ${groups}`);
  if (!bias) parts.push('no bias');
  return parts.length ? `, ${parts.join(', ')}` : '';
}

// ---- config keys ----
export const pairRule = (min: number): KeyRule => ({
  expect: `an integer >= ${min} or a pair [h, w] of them`,
  ok: (v) => (Number.isSafeInteger(v) && (v as number) >= min) ||
    (Array.isArray(v) && v.length === 2 && v.every((d) => Number.isSafeInteger(d) && d >= min)),
});
export const intRule = (min: number): KeyRule => ({ expect: `an integer >= ${min}`, ok: (v) => Number.isSafeInteger(v) && (v as number) >= min });
const paddingRule = (inner: KeyRule): KeyRule => ({ expect: `'same', 'valid' or ${inner.expect}`, ok: (v) => v === 'same' || v === 'valid' || inner.ok(v) });
const CONV_KEYS = { inChannels: keyRules.positiveInt, outChannels: keyRules.positiveInt, groups: keyRules.positiveInt, bias: keyRules.boolean };

// ---- ONNX ----
/** ONNX pads [begin..., end...] of one spatial axis list for a padding setting. */
function onnxPads(padding: Padding, kernel: Pair, dilation: Pair): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    const t = [dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)];
    return [Math.floor(t[0] / 2), Math.floor(t[1] / 2), t[0] - Math.floor(t[0] / 2), t[1] - Math.floor(t[1] / 2)];
  }
  return [padding[0], padding[1], padding[0], padding[1]];
}

function convOut(n: number, k: number, s: number, pBegin: number, pEnd: number, d: number): number {
  return Math.floor((n + pBegin + pEnd - d * (k - 1) - 1) / s) + 1;
}

/** Writes a Conv node for a 1-d or 2-d convolution (dims: 1 or 2 spatial axes). */
function exportConv(ctx: OnnxExportContext, c: ConvConfigBase, dims: 1 | 2, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair): void {
  const name = dims === 2 ? 'Conv2d' : 'Conv1d';
  if (ctx.shape.length !== dims + 1 || ctx.shape[0] !== c.inChannels) {
    throw new Error(`onnx.exportModel: ${ctx.where} ${name}(${c.inChannels} -> ${c.outChannels}) gets input [${['batch', ...ctx.shape].join(',')}]; expected ${dims === 2 ? '[batch,channels,height,width]' : '[batch,channels,length]'} with ${c.inChannels} channels (set inputShape)`);
  }
  const pads = onnxPads(padding, kernel, dilation);
  const spatial = ctx.shape.slice(1);
  const from = 2 - dims; // 1-d keeps the width entries of the pairs
  const out = spatial.map((n, i) => convOut(n, kernel[from + i], stride[from + i], pads[from + i], pads[2 + from + i], dilation[from + i]));
  const wShape = [c.outChannels, c.inChannels / c.groups, ...kernel.slice(from)];
  const inputs = [ctx.current, ctx.initializer(`${ctx.prefix}weight`, wShape, ctx.param('weight'))];
  if (c.bias) inputs.push(ctx.initializer(`${ctx.prefix}bias`, [c.outChannels], ctx.param('bias')));
  ctx.current = ctx.node('Conv', inputs, [
    { name: 'kernel_shape', ints: kernel.slice(from) },
    { name: 'strides', ints: stride.slice(from) },
    { name: 'pads', ints: dims === 2 ? pads : [pads[1], pads[3]] },
    { name: 'dilations', ints: dilation.slice(from) },
    { name: 'group', int: c.groups },
  ]);
  ctx.shape = [c.outChannels, ...out];
}

/** Reads an ONNX Conv (1-d or 2-d, constant weight and bias) as Conv1d / Conv2d. */
function importConv(n: OnnxNodeView, ctx: OnnxImportContext): ImportedLayer {
  const w = n.inputs[1] ? ctx.constant(n.inputs[1]) : null;
  if (w === null) throw new Error(`${n.label}: the weight W must be a constant`);
  const dims = w.dims.length - 2;
  if (dims !== 1 && dims !== 2) throw new Error(`${n.label}: only 1-d and 2-d convolutions are supported, W has shape [${w.dims.join(',')}]`);
  const b = n.inputs.length > 2 && n.inputs[2] ? ctx.constant(n.inputs[2]) : null;
  if (n.inputs.length > 2 && n.inputs[2] && b === null) throw new Error(`${n.label}: the bias B must be a constant`);
  const group = n.int('group', 1);
  const kernel = w.dims.slice(2);
  const ks = n.ints('kernel_shape');
  if (ks !== null && ks.join() !== kernel.join()) throw new Error(`${n.label}: kernel_shape [${ks.join(',')}] differs from W's [${kernel.join(',')}]`);
  const ones = kernel.map(() => 1);
  const strides = n.ints('strides') ?? ones;
  const dilations = n.ints('dilations') ?? ones;
  const pads = n.ints('pads') ?? [...kernel.map(() => 0), ...kernel.map(() => 0)];
  let padding: number[] | 'same';
  const begin = pads.slice(0, dims);
  const end = pads.slice(dims);
  if (begin.join() === end.join()) padding = begin;
  else {
    // PyTorch's 'same' with an even total: one more at the end.
    const same = kernel.every((k, i) => {
      const t = dilations[i] * (k - 1);
      return begin[i] === Math.floor(t / 2) && end[i] === t - Math.floor(t / 2) && strides[i] === 1;
    });
    if (!same) throw new Error(`${n.label}: asymmetric pads [${pads.join(',')}] are not supported`);
    padding = 'same';
  }
  const params: Record<string, Float32Array> = { weight: Float32Array.from(w.data) };
  if (b !== null) params.bias = Float32Array.from(b.data);
  const base = { inChannels: w.dims[1] * group, outChannels: w.dims[0], groups: group, bias: b !== null };
  const config = dims === 2
    ? { type: 'Conv2d', ...base, kernelSize: kernel, stride: strides, padding, dilation: dilations }
    : { type: 'Conv1d', ...base, kernelSize: kernel[0], stride: strides[0], padding: padding === 'same' ? 'same' : padding[0], dilation: dilations[0] };
  return { config, params };
}

/** The per-sample shape [OC, ...] after a convolution of config c on [C, ...] (null: unknown). */
function convSampleAfter(c: Conv2dConfig | Conv1dConfig, sample: (number | null)[] | null): (number | null)[] | null {
  const list = (v: number | number[]): number[] => (typeof v === 'number' ? [v] : v);
  const k = list(c.kernelSize);
  if (sample === null || sample.length !== k.length + 1) return null;
  const s = list(c.stride);
  const d = list(c.dilation);
  const p = c.padding === 'valid' ? k.map(() => 0) : c.padding === 'same' ? null : list(c.padding as number | number[]);
  return [c.outChannels, ...sample.slice(1).map((n, i) => (n === null ? null : p === null ? n : convOut(n, k[i], s[i], p[i], p[i], d[i])))];
}

register<Conv2dConfig>(Conv2d, {
  keys: { ...CONV_KEYS, kernelSize: pairRule(1), stride: pairRule(1), padding: paddingRule(pairRule(0)), dilation: pairRule(1) },
  fromConfig: (c) => new Conv2d(c.inChannels, c.outChannels, c.kernelSize, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, bias: c.bias }),
  parameters: (c) => {
    const k = pairOf('Conv2d', 'kernelSize', c.kernelSize, 1);
    return [{ name: 'weight', shape: [c.outChannels, c.inChannels / c.groups, ...k] }, ...(c.bias ? [{ name: 'bias', shape: [c.outChannels] }] : [])];
  },
  onnx(ctx, c) {
    const k = pairOf('Conv2d', 'kernelSize', c.kernelSize, 1);
    const pad = c.padding === 'same' || c.padding === 'valid' ? c.padding : pairOf('Conv2d', 'padding', c.padding, 0);
    exportConv(ctx, c, 2, k, pairOf('Conv2d', 'stride', c.stride, 1), pad, pairOf('Conv2d', 'dilation', c.dilation, 1));
  },
  onnxImport: {
    attributes: { Conv: { kernel_shape: 'ints', strides: 'ints', pads: 'ints', dilations: 'ints', group: 'int' } },
    node: importConv,
    sampleAfter: (l, sample) => convSampleAfter(l.config as Conv2dConfig | Conv1dConfig, sample),
  },
  inference: () => ({ kind: 'conv' }),
  keepsNoTensors: true,
});

register<Conv1dConfig>(Conv1d, {
  keys: { ...CONV_KEYS, kernelSize: intRule(1), stride: intRule(1), padding: paddingRule(intRule(0)), dilation: intRule(1) },
  fromConfig: (c) => new Conv1d(c.inChannels, c.outChannels, c.kernelSize, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, bias: c.bias }),
  parameters: (c) => [{ name: 'weight', shape: [c.outChannels, c.inChannels / c.groups, c.kernelSize] }, ...(c.bias ? [{ name: 'bias', shape: [c.outChannels] }] : [])],
  onnx(ctx, c) {
    const pad: Padding = c.padding === 'same' || c.padding === 'valid' ? c.padding : [0, c.padding];
    exportConv(ctx, c, 1, [1, c.kernelSize], [1, c.stride], pad, [1, c.dilation]);
  },
  inference: () => ({ kind: 'conv' }),
  keepsNoTensors: true,
});
