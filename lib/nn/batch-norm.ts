// BatchNorm1d and BatchNorm2d: per-channel normalisation with batch statistics in training and running statistics in eval (PyTorch semantics and state names).
import { Tensor, ones, shapeToString, zeros } from '../tensor';
import { batchNorm, type RunningStats } from '../ops/norm';
import { Module } from './module';
import type { LayerConfig } from './config';
import { keyRules, register, type ImportedLayer, type InferenceRole, type OnnxExportContext, type OnnxImport, type OnnxNodeView, type OnnxImportContext } from './registry';
import { checkBoolean, checkNumber, checkOptions, checkPositiveInt, checkTensor } from '../validate';

/** Options of nn.BatchNorm1d / nn.BatchNorm2d: eps (default 1e-5), momentum (default 0.1), affine and trackRunningStats. */
export interface BatchNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /**
   * Weight of a new batch in the running statistics (default 0.1, as PyTorch): running = (1 - m) * running
   * + m * batch. null: a cumulative average over all batches seen.
   */
  momentum?: number | null;
  /** Learn a per-channel scale (weight, init 1) and shift (bias, init 0) (default true). */
  affine?: boolean;
  /** Keep running mean and variance for eval mode (default true); false: batch statistics in both modes. */
  trackRunningStats?: boolean;
}

export interface BatchNormConfig extends LayerConfig {
  type: 'BatchNorm1d' | 'BatchNorm2d';
  numFeatures: number;
  eps: number;
  momentum: number | null;
  affine: boolean;
  trackRunningStats: boolean;
}

/**
 * Training-mode normalisation over several processes (set by distributed.syncBatchNorm): returns the
 * output, or null to normalise with this process's batch alone.
 */
export type BatchNormSync = (x: Tensor, o: { eps: number; running: RunningStats | null; weight: Tensor | null; bias: Tensor | null }) => Tensor | null;

type Kind = 'BatchNorm1d' | 'BatchNorm2d';
/** The input ranks each kind accepts ([N, C] or [N, C, L]; [N, C, H, W]). */
const RANKS: Record<Kind, number[]> = { BatchNorm1d: [2, 3], BatchNorm2d: [4] };
const EXPECTED: Record<Kind, string> = { BatchNorm1d: '[N, C] or [N, C, L]', BatchNorm2d: '[N, C, H, W]' };

/**
 * The shared implementation: weight and bias are parameters, running_mean, running_var and
 * num_batches_tracked are buffers (saved and loaded with the weights under PyTorch's names).
 */
abstract class BatchNormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  /** [C] scale (ones), or null without affine. */
  readonly weight: Tensor | null;
  /** [C] shift (zeros), or null without affine. */
  readonly bias: Tensor | null;
  /** [C] running mean (zeros), or null without trackRunningStats. */
  readonly runningMean: Tensor | null;
  /** [C] running (unbiased) variance (ones), or null without trackRunningStats. */
  readonly runningVar: Tensor | null;
  /** [] batches seen in training mode (a float32 count, as stored), or null without trackRunningStats. */
  readonly numBatchesTracked: Tensor | null;
  protected abstract readonly kind: Kind;
  /** Set by distributed.syncBatchNorm: batch statistics over every rank in training mode; null: this process's batch. */
  sync: BatchNormSync | null = null;

  constructor(kind: Kind, numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    checkPositiveInt(kind, 'numFeatures', numFeatures);
    const o = checkOptions(kind, opts, ['eps', 'momentum', 'affine', 'trackRunningStats']);
    this.numFeatures = numFeatures;
    this.eps = o.eps === undefined ? 1e-5 : checkNumber(kind, 'eps', o.eps, { min: 0 });
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum === null ? null : checkNumber(kind, 'momentum', o.momentum, { min: 0, max: 1 });
    const affine = o.affine === undefined ? true : checkBoolean(kind, 'affine', o.affine);
    const track = o.trackRunningStats === undefined ? true : checkBoolean(kind, 'trackRunningStats', o.trackRunningStats);
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures])) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures])) : null;
    this.runningMean = track ? this.registerBuffer('running_mean', zeros([numFeatures])) : null;
    this.runningVar = track ? this.registerBuffer('running_var', ones([numFeatures])) : null;
    this.numBatchesTracked = track ? this.registerBuffer('num_batches_tracked', zeros([])) : null;
  }

  /** Sets the running statistics back to mean 0, variance 1 and no batches seen. */
  resetRunningStats(): void {
    if (this.runningMean === null || this.runningVar === null || this.numBatchesTracked === null) return;
    this.runningMean.data.fill(0);
    this.runningVar.data.fill(1);
    this.numBatchesTracked.data[0] = 0;
    for (const t of [this.runningMean, this.runningVar, this.numBatchesTracked]) t._version++;
  }

  override forward(x: Tensor): Tensor {
    const where = `${this.describe()}.forward`;
    if (!(x instanceof Tensor)) checkTensor(where, 'input', x);
    if (!RANKS[this.kind].includes(x.ndim) || x.shape[1] !== this.numFeatures) {
      throw new Error(`${where}: expected input ${EXPECTED[this.kind]} with C = ${this.numFeatures}, got ${shapeToString(x.shape)}`);
    }
    let running: RunningStats | null = null;
    if (this.runningMean !== null && this.runningVar !== null && this.numBatchesTracked !== null) {
      running = { mean: this.runningMean.data, var: this.runningVar.data, momentum: this.momentum, batches: this.numBatchesTracked.data[0] };
    }
    let y: Tensor;
    try {
      const synced = this.training && this.sync !== null ? this.sync(x, { eps: this.eps, running, weight: this.weight, bias: this.bias }) : null;
      y = synced ?? batchNorm(x, { training: this.training, eps: this.eps, running, weight: this.weight, bias: this.bias });
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
    if (running !== null && this.training) {
      (this.numBatchesTracked as Tensor).data[0] = running.batches;
      for (const t of [this.runningMean, this.runningVar, this.numBatchesTracked] as Tensor[]) t._version++;
    }
    return y;
  }

  override toConfig(): BatchNormConfig {
    return {
      type: this.kind, numFeatures: this.numFeatures, eps: this.eps, momentum: this.momentum,
      affine: this.weight !== null, trackRunningStats: this.runningMean !== null,
    };
  }

  override describe(): string {
    const extra = [this.weight ? '' : 'no affine', this.runningMean ? '' : 'no running stats'].filter((s) => s !== '');
    return `${this.kind}(${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}${extra.map((s) => `, ${s}`).join('')})`;
  }
}

/** Batch normalisation over [N, C] or [N, C, L] inputs, as torch.nn.BatchNorm1d. */
export class BatchNorm1d extends BatchNormBase {
  protected readonly kind = 'BatchNorm1d' as const;
  /**
   * Creates the layer.
   * @param numFeatures C, the channels of the input [N, C] or [N, C, L], a positive integer.
   * @param opts eps (default 1e-5), momentum (default 0.1; null: a cumulative average), affine (default true), trackRunningStats (default true).
   * @throws Error for an unknown option, numFeatures not a positive integer, eps below 0, or momentum outside [0, 1].
   * @example
   * ```ts
   * const bn = new nn.BatchNorm1d(16, { momentum: 0.01 });
   * ```
   */
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('BatchNorm1d', numFeatures, opts);
  }
}

/** Batch normalisation over [N, C, H, W] inputs, as torch.nn.BatchNorm2d. */
export class BatchNorm2d extends BatchNormBase {
  protected readonly kind = 'BatchNorm2d' as const;
  /**
   * Creates the layer.
   * @param numFeatures C, the channels of the input [N, C, H, W], a positive integer.
   * @param opts eps (default 1e-5), momentum (default 0.1; null: a cumulative average), affine (default true), trackRunningStats (default true).
   * @throws Error for an unknown option, numFeatures not a positive integer, eps below 0, or momentum outside [0, 1].
   * @example
   * ```ts
   * const bn = new nn.BatchNorm2d(16, { momentum: 0.01 });
   * ```
   */
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('BatchNorm2d', numFeatures, opts);
  }
}

/** The per-channel scale and shift eval mode applies: y = x * scale + shift (what the planner folds into a Linear or Conv). */
export function batchNormAffine(c: BatchNormConfig, p: Record<string, Float32Array | undefined>): { scale: Float32Array; shift: Float32Array } {
  const C = c.numFeatures;
  const scale = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let i = 0; i < C; i++) {
    const rm = p.running_mean ? p.running_mean[i] : 0;
    const rv = p.running_var ? p.running_var[i] : 1;
    const s = (p.weight ? p.weight[i] : 1) / Math.sqrt(Math.fround(rv + c.eps));
    scale[i] = s;
    shift[i] = (p.bias ? p.bias[i] : 0) - rm * s;
  }
  return { scale, shift };
}

function exportOnnx(ctx: OnnxExportContext, c: BatchNormConfig): void {
  const rank = ctx.shape.length + 1;
  if (!RANKS[c.type].includes(rank) || ctx.shape[0] !== c.numFeatures) {
    throw new Error(`onnx.exportModel: ${ctx.where} ${c.type}(${c.numFeatures}) gets input [${['batch', ...ctx.shape].join(',')}]; expected ${EXPECTED[c.type]} with C = ${c.numFeatures}`);
  }
  if (!c.trackRunningStats) {
    throw new Error(`onnx.exportModel: ${ctx.where} ${c.type} with trackRunningStats false normalises with batch statistics even at inference, which ONNX BatchNormalization (inference form) cannot express`);
  }
  const C = c.numFeatures;
  const p = (name: string, fill: number): string => {
    const values = name === 'weight' || name === 'bias' ? (c.affine ? ctx.param(name) : new Float32Array(C).fill(fill)) : ctx.param(name);
    return ctx.initializer(`${ctx.prefix}${name}`, [C], values);
  };
  ctx.current = batchNormNode(ctx, [ctx.current, p('weight', 1), p('bias', 0), p('running_mean', 0), p('running_var', 1)], c.eps, c.momentum);
}

/** BatchNormalization (inference form) over [x, scale, B, mean, var]; momentum in ONNX's sense (1 - PyTorch's). */
export function batchNormNode(ctx: OnnxExportContext, inputs: string[], eps: number, momentum: number | null): string {
  const attrs = [{ name: 'epsilon', float: eps }, ...(momentum === null ? [] : [{ name: 'momentum', float: 1 - momentum }])];
  return ctx.node('BatchNormalization', inputs, attrs);
}

/** Rounds a value read from a float32 attribute to the short decimal it was written from (1 - 0.9f -> 0.1). */
function tidy(v: number): number {
  return Number(v.toPrecision(7));
}

const batchNormImport: OnnxImport = {
  attributes: { BatchNormalization: { epsilon: 'float', momentum: 'float', training_mode: 'int', spatial: 'int' } },
  node(n: OnnxNodeView, ctx: OnnxImportContext): ImportedLayer {
    if (n.int('training_mode', 0) !== 0) throw new Error(`${n.label}: training_mode=1 is not supported (only the inference form)`);
    if (n.int('spatial', 1) !== 1) throw new Error(`${n.label}: spatial=0 is not supported`);
    const consts = [1, 2, 3, 4].map((i) => (n.inputs[i] ? ctx.constant(n.inputs[i]) : null));
    if (consts.some((k) => k === null)) throw new Error(`${n.label}: scale, B, mean and var must be constants`);
    const [scale, bias, mean, variance] = consts as { dims: number[]; data: Float64Array }[];
    const C = scale.data.length;
    if ([bias, mean, variance].some((k) => k.data.length !== C)) throw new Error(`${n.label}: scale, B, mean and var must each have ${C} values`);
    const rank = ctx.sample === null ? null : ctx.sample.length + 1;
    const type: Kind | null = rank === 2 || rank === 3 ? 'BatchNorm1d' : rank === 4 ? 'BatchNorm2d' : null;
    if (type === null) throw new Error(`${n.label}: the input rank is ${rank ?? 'unknown'}; BatchNorm1d reads rank 2 or 3, BatchNorm2d rank 4`);
    if (ctx.sample !== null && ctx.sample[0] !== null && ctx.sample[0] !== C) throw new Error(`${n.label}: input has ${ctx.sample[0]} channels, scale ${C}`);
    const eps = tidy(n.float('epsilon', 1e-5));
    return {
      config: { type, numFeatures: C, eps, momentum: tidy(1 - n.float('momentum', 0.9)), affine: true, trackRunningStats: true },
      params: {
        weight: Float32Array.from(scale.data), bias: Float32Array.from(bias.data),
        running_mean: Float32Array.from(mean.data), running_var: Float32Array.from(variance.data), num_batches_tracked: new Float32Array(1),
      },
    };
  },
};

const keys = {
  numFeatures: keyRules.positiveInt,
  eps: { expect: 'a number >= 0', ok: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0 },
  momentum: { expect: 'a number in [0, 1] or null', ok: (v: unknown) => v === null || (typeof v === 'number' && v >= 0 && v <= 1) },
  affine: keyRules.boolean,
  trackRunningStats: keyRules.boolean,
};

function parameters(c: BatchNormConfig): { name: string; shape: number[] }[] {
  const C = [c.numFeatures];
  return [
    ...(c.affine ? [{ name: 'weight', shape: C }, { name: 'bias', shape: C }] : []),
    ...(c.trackRunningStats ? [{ name: 'running_mean', shape: C }, { name: 'running_var', shape: C }, { name: 'num_batches_tracked', shape: [] }] : []),
  ];
}

const optionsOf = (c: BatchNormConfig): BatchNormOptions => ({ eps: c.eps, momentum: c.momentum, affine: c.affine, trackRunningStats: c.trackRunningStats });

/** With running statistics, the planner folds a BatchNorm into the Conv before it at inference (nn/plan.ts). */
const inference = (c: BatchNormConfig): InferenceRole | null => (c.trackRunningStats ? { kind: 'batchNorm' } : null);

register<BatchNormConfig>(BatchNorm1d, {
  keys, parameters, fromConfig: (c) => new BatchNorm1d(c.numFeatures, optionsOf(c)), onnx: exportOnnx, onnxImport: batchNormImport, inference, keepsNoTensors: true,
});
register<BatchNormConfig>(BatchNorm2d, {
  keys, parameters, fromConfig: (c) => new BatchNorm2d(c.numFeatures, optionsOf(c)), onnx: exportOnnx, inference, keepsNoTensors: true,
});

/** True for a config of either BatchNorm layer. */
export function isBatchNormConfig(c: LayerConfig): c is BatchNormConfig {
  return c.type === 'BatchNorm1d' || c.type === 'BatchNorm2d';
}
