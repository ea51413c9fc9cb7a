// GroupNorm: normalises each sample's groups of channels by their own mean and variance, then a per-channel scale and shift (same in training and eval).
import { Tensor, ones, shapeToString, zeros } from '../tensor';
import { groupNorm } from '../ops/norm';
import { Module } from './module';
import { int64Constant as int64 } from './onnx-int64';
import type { LayerConfig } from './config';
import { keyRules, register, type OnnxExportContext } from './registry';
import { checkBoolean, checkNumber, checkOptions, checkPositiveInt, checkTensor, invalid } from '../validate';

/** Options of nn.GroupNorm: eps (default 1e-5) and affine (default true). */
export interface GroupNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learn a per-channel scale (weight, init 1) and shift (bias, init 0) (default true). */
  affine?: boolean;
}

export interface GroupNormConfig extends LayerConfig {
  type: 'GroupNorm';
  numGroups: number;
  numChannels: number;
  eps: number;
  affine: boolean;
}

/** torch.nn.GroupNorm over inputs [N, C, ...]: C channels in numGroups groups (C divisible by numGroups). */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  /**
   * Creates the layer.
   * @param numGroups groups the channels are split into, a positive integer dividing numChannels.
   * @param numChannels C of the input [N, C, ...], a positive integer.
   * @param opts eps (default 1e-5), affine (learn a per-channel weight and bias, default true).
   * @throws Error when a size is not a positive integer, numGroups does not divide numChannels, an option is unknown, or eps is below 0.
   * @example
   * ```ts
   * const gn = new nn.GroupNorm(4, 32);
   * ```
   */
  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super();
    checkPositiveInt('GroupNorm', 'numGroups', numGroups);
    checkPositiveInt('GroupNorm', 'numChannels', numChannels);
    if (numChannels % numGroups !== 0) invalid('GroupNorm', 'numGroups', `a divisor of numChannels (${numChannels})`, numGroups);
    const o = checkOptions('GroupNorm', opts, ['eps', 'affine']);
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = o.eps === undefined ? 1e-5 : checkNumber('GroupNorm', 'eps', o.eps, { min: 0 });
    const affine = o.affine === undefined ? true : checkBoolean('GroupNorm', 'affine', o.affine);
    this.weight = affine ? this.registerParameter('weight', ones([numChannels])) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numChannels])) : null;
  }

  /**
   * Normalises each sample's channel groups to zero mean and unit (biased) variance, then applies the
   * per-channel weight and bias; the same in training and eval mode.
   * @param x a Tensor [N, numChannels, ...] (any number of spatial dimensions, including none).
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a Tensor of at least 2 dimensions whose dimension 1 is numChannels.
   * @example new nn.GroupNorm(2, 8).forward(randn([4, 8, 5, 5])).shape // [4, 8, 5, 5]
   */
  override forward(x: Tensor): Tensor {
    const where = `${this.describe()}.forward`;
    if (!(x instanceof Tensor)) checkTensor(where, 'input', x);
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) {
      throw new Error(`${where}: expected input [N, ${this.numChannels}, ...], got ${shapeToString(x.shape)}`);
    }
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }

  override toConfig(): GroupNormConfig {
    return { type: 'GroupNorm', numGroups: this.numGroups, numChannels: this.numChannels, eps: this.eps, affine: this.weight !== null };
  }

  override describe(): string {
    return `GroupNorm(${this.numGroups} groups, ${this.numChannels} channels, eps=${this.eps}${this.weight ? '' : ', no affine'})`;
  }
}

/** ReduceMean over axis 2 keeping dims (axes an attribute before opset 18, an input from 18 on). */
function reduceMean(ctx: OnnxExportContext, x: string): string {
  if (ctx.opset >= 18) return ctx.node('ReduceMean', [x, int64(ctx, 'axes', [2])], [{ name: 'keepdims', int: 1 }]);
  return ctx.node('ReduceMean', [x], [{ name: 'axes', ints: [2] }, { name: 'keepdims', int: 1 }]);
}

/**
 * GroupNorm as ONNX nodes (every opset): Reshape x [N, C, ...sample] to [N, G, -1], subtract the mean, divide by
 * sqrt(mean of squares + eps), Reshape back, then Mul and Add the per-channel `weight` and `bias` values
 * (each [C, 1, ...]). `sample` is x's shape without the batch. Returns the output value (layer export and op table).
 */
export function groupNormNodes(ctx: OnnxExportContext, x: string, sample: number[], G: number, eps: number, weight: string, bias: string): string {
  const grouped = ctx.node('Reshape', [x, int64(ctx, 'group_shape', [0, G, -1])]);
  const centred = ctx.node('Sub', [grouped, reduceMean(ctx, grouped)]);
  const variance = reduceMean(ctx, ctx.node('Mul', [centred, centred]));
  const std = ctx.node('Sqrt', [ctx.node('Add', [variance, ctx.scalar(`${ctx.prefix}eps`, eps)])]);
  const normed = ctx.node('Reshape', [ctx.node('Div', [centred, std]), int64(ctx, 'shape', [0, ...sample])]);
  return ctx.node('Add', [ctx.node('Mul', [normed, weight]), bias]);
}

function exportOnnx(ctx: OnnxExportContext, c: GroupNormConfig): void {
  if (ctx.shape.length < 1 || ctx.shape[0] !== c.numChannels) {
    throw new Error(`onnx.exportModel: ${ctx.where} GroupNorm(${c.numGroups}, ${c.numChannels}) gets input [${['batch', ...ctx.shape].join(',')}]`);
  }
  const C = c.numChannels;
  const perChannel = [C, ...ctx.shape.slice(1).map(() => 1)];
  const weight = ctx.initializer(`${ctx.prefix}weight`, perChannel, c.affine ? ctx.param('weight') : new Float32Array(C).fill(1));
  const bias = ctx.initializer(`${ctx.prefix}bias`, perChannel, c.affine ? ctx.param('bias') : new Float32Array(C));
  ctx.current = groupNormNodes(ctx, ctx.current, ctx.shape, c.numGroups, c.eps, weight, bias);
}

register<GroupNormConfig>(GroupNorm, {
  keys: {
    numGroups: keyRules.positiveInt,
    numChannels: keyRules.positiveInt,
    eps: { expect: 'a number >= 0', ok: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 },
    affine: keyRules.boolean,
  },
  fromConfig: (c) => new GroupNorm(c.numGroups, c.numChannels, { eps: c.eps, affine: c.affine }),
  parameters: (c) => (c.affine ? [{ name: 'weight', shape: [c.numChannels] }, { name: 'bias', shape: [c.numChannels] }] : []),
  onnx: exportOnnx,
  keepsNoTensors: true,
});
