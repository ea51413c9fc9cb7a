// LayerNorm: normalises the trailing normalizedShape dims to zero mean and unit variance, then scales and shifts (one fused kernel each way).
import { Tensor, ones, zeros } from '../tensor';
import { getBackend } from '../backend/select';
import { needsGrad, record } from '../autograd';
import { gradBuffer, outputBuffer, privateBuffer, releaseAfterBackward } from '../buffer-pool';
import { Module } from './module';
import type { LayerConfig } from './config';
import {
  keyRules, register, type ImportedLayer, type OnnxExportContext, type OnnxImport, type OnnxImportContext, type OnnxNodeView,
} from './registry';
import { checkBoolean, checkElementCount, checkNumber, checkOptions, checkPositiveInt, checkTensor, invalid } from '../validate';

/** Options of nn.LayerNorm: eps (default 1e-5) and elementwiseAffine (learned weight and bias, default true). */
export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5, as PyTorch). */
  eps?: number;
  /** Learn a per-element scale (weight, init 1) and shift (bias, init 0) (default true). */
  elementwiseAffine?: boolean;
}

interface LayerNormConfig extends LayerConfig {
  normalizedShape: number[];
  eps: number;
  elementwiseAffine: boolean;
}

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias over the last normalizedShape.length dims (biased
 * variance), as torch.nn.LayerNorm. Forward and backward are the fused layerNormForward and
 * layerNormBackward kernels (training, predict and predictAsync all run this forward).
 */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  /** Shape normalizedShape (ones), or null without elementwiseAffine. */
  readonly weight: Tensor | null;
  /** Shape normalizedShape (zeros), or null without elementwiseAffine. */
  readonly bias: Tensor | null;

  /**
   * Creates the layer (weight 1, bias 0).
   * @param normalizedShape the trailing dimensions normalised over: a positive integer or a non-empty array of them.
   * @param opts eps (default 1e-5), elementwiseAffine (learn weight and bias, default true).
   * @throws Error when normalizedShape is not a positive integer or a non-empty array of them, an option is unknown, or eps is below 0.
   * @example
   * ```ts
   * const ln = new nn.LayerNorm(64); // normalises the last dimension (64)
   * ```
   */
  constructor(normalizedShape: number | number[], opts: LayerNormOptions = {}) {
    super();
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape) || shape.length === 0) {
      invalid('LayerNorm', 'normalizedShape', 'a positive integer or a non-empty array of them', normalizedShape);
    }
    shape.forEach((d, i) => checkPositiveInt('LayerNorm', `normalizedShape[${i}]`, d));
    checkElementCount('LayerNorm', shape, 'normalizedShape');
    const o = checkOptions('LayerNorm', opts, ['eps', 'elementwiseAffine']);
    this.eps = o.eps === undefined ? 1e-5 : checkNumber('LayerNorm', 'eps', o.eps, { min: 0 });
    const affine = o.elementwiseAffine === undefined ? true : checkBoolean('LayerNorm', 'elementwiseAffine', o.elementwiseAffine);
    this.normalizedShape = [...shape];
    this.weight = affine ? this.registerParameter('weight', ones(this.normalizedShape)) : null;
    this.bias = affine ? this.registerParameter('bias', zeros(this.normalizedShape)) : null;
  }

  /**
   * Normalises the trailing normalizedShape dimensions of each sample to zero mean and unit variance, then
   * applies weight and bias (when elementwiseAffine).
   * @param x a Tensor whose shape ends in normalizedShape, e.g. [batch, length, dim] for LayerNorm(dim).
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a Tensor or its shape does not end in normalizedShape.
   * @example new nn.LayerNorm(16).forward(randn([2, 5, 16])).shape // [2, 5, 16]
   */
  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps, this.describe());
  }

  override toConfig(): LayerNormConfig {
    return { type: 'LayerNorm', normalizedShape: [...this.normalizedShape], eps: this.eps, elementwiseAffine: this.weight !== null };
  }

  override describe(): string {
    return `LayerNorm([${this.normalizedShape.join(', ')}], eps=${this.eps}${this.weight ? '' : ', no affine'})`;
  }
}

/**
 * The LayerNorm op: y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing dims that
 * normalizedShape names (weight and bias of that shape, or null), with a fused backward.
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null, bias: Tensor | null, eps: number, who = 'layerNorm'): Tensor {
  checkTensor(`${who}.forward`, 'input', x);
  const k = normalizedShape.length;
  if (x.ndim < k || x.shape.slice(x.ndim - k).some((d, i) => d !== normalizedShape[i])) {
    throw new Error(`${who}.forward: input of shape [${x.shape.join(',')}] does not end in [${normalizedShape.join(',')}]`);
  }
  const N = normalizedShape.reduce((a, b) => a * b, 1);
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p !== null && p.size !== N) throw new Error(`${who}: ${name} has ${p.size} elements, normalizedShape [${normalizedShape.join(',')}] needs ${N}`);
  }
  const M = x.size / N;
  const backend = getBackend();
  const y = outputBuffer(x.size);
  const tracked = needsGrad(x, weight, bias);
  const mean = tracked ? privateBuffer(M) : null;
  const rstd = tracked ? privateBuffer(M) : null;
  if (M > 0) backend.layerNormForward({ M, N, x: x.data, weight: weight?.data ?? null, bias: bias?.data ?? null, eps, y, mean, rstd });
  const out = new Tensor(y, x.shape);
  if (!tracked || mean === null || rstd === null) return out;
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return record(out, 'layerNorm', inputs, (g) => {
    const dx = x.requiresGrad ? gradBuffer(x.size) : null;
    const dWeight = weight?.requiresGrad ? gradBuffer(N) : null;
    const dBias = bias?.requiresGrad ? gradBuffer(N) : null;
    if (M > 0) {
      backend.layerNormBackward({ M, N, x: x.data, weight: weight?.data ?? null, mean, rstd, dy: g, dx, dWeight, dBias, accumulate: false });
    } else {
      dWeight?.fill(0);
      dBias?.fill(0);
    }
    releaseAfterBackward(mean);
    releaseAfterBackward(rstd);
    return [dx, ...(weight ? [dWeight] : []), ...(bias ? [dBias] : [])];
  });
}

/** Scale and bias initializers (ones and zeros without elementwiseAffine). */
function scaleAndBias(ctx: OnnxExportContext, c: LayerNormConfig): [string, string] {
  const n = c.normalizedShape.reduce((a, b) => a * b, 1);
  const scale = c.elementwiseAffine ? ctx.param('weight') : new Float32Array(n).fill(1);
  const bias = c.elementwiseAffine ? ctx.param('bias') : new Float32Array(n);
  return [ctx.initializer(`${ctx.prefix}weight`, c.normalizedShape, scale), ctx.initializer(`${ctx.prefix}bias`, c.normalizedShape, bias)];
}



/** A constant input of node n as float32 values, or null. */
function constantOf(n: OnnxNodeView, ctx: OnnxImportContext, index: number): { dims: number[]; data: Float32Array } | null {
  const c = n.inputs[index] ? ctx.constant(n.inputs[index]) : null;
  return c === null ? null : { dims: c.dims, data: Float32Array.from(c.data) };
}

/** The normalised shape when `axes` are the trailing dims of the sample (known), else null. */
function trailingShape(axes: number[], sample: (number | null)[] | null): number[] | null {
  if (sample === null || axes.length === 0 || axes.length > sample.length) return null;
  const rank = sample.length + 1;
  const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  if (norm.some((a, i) => a !== rank - axes.length + i)) return null;
  const shape = sample.slice(sample.length - axes.length);
  return shape.every((d) => d !== null) ? (shape as number[]) : null;
}

function imported(normalizedShape: number[], eps: number, weight?: Float32Array, bias?: Float32Array): ImportedLayer {
  const n = normalizedShape.reduce((a, b) => a * b, 1);
  return {
    config: { type: 'LayerNorm', normalizedShape, eps: Math.fround(eps) === eps ? shortest(eps) : eps, elementwiseAffine: true },
    params: { weight: weight ?? new Float32Array(n).fill(1), bias: bias ?? new Float32Array(n) },
  };
}

/** The shortest decimal that rounds to the same float32 (1e-5 stored as float32 reads back as 1e-5). */
function shortest(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const v = Number(x.toPrecision(p));
    if (Math.fround(v) === Math.fround(x)) return v;
  }
  return x;
}

/** Reads LayerNormalization (opset 17) and the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div decomposition written below it. */
const layerNormImport: OnnxImport = {
  attributes: {
    LayerNormalization: { axis: 'int', epsilon: 'float', stash_type: 'int' },
    ReduceMean: { axes: 'ints', keepdims: 'int' },
  },
  node(n, ctx) {
    if (n.opType !== 'LayerNormalization') throw new Error(`${n.label}: ReduceMean is supported only inside a LayerNorm decomposition`);
    const axis = n.int('axis', -1);
    const scale = constantOf(n, ctx, 1);
    const bias = n.inputs.length > 2 && n.inputs[2] ? constantOf(n, ctx, 2) : null;
    if (scale === null || (n.inputs.length > 2 && n.inputs[2] && bias === null)) throw new Error(`${n.label}: Scale and B must be constants`);
    const k = scale.dims.length;
    const rank = ctx.sample === null ? null : ctx.sample.length + 1;
    if (!(axis === -k || (rank !== null && axis === rank - k))) {
      throw new Error(`${n.label}: axis=${axis} does not normalise the trailing ${k} dim(s) that Scale [${scale.dims.join(',')}] covers`);
    }
    if (bias !== null && bias.data.length !== scale.data.length) throw new Error(`${n.label}: B has ${bias.data.length} values, Scale ${scale.data.length}`);
    return imported(scale.dims, n.float('epsilon', 1e-5), scale.data, bias?.data);
  },
  region(nodes, input, ctx) {
    // mean = ReduceMean(x); c = x - mean; v = ReduceMean(c*c or c^2); y = c / Sqrt(v + eps)
    if (nodes.length !== 7) return null;
    const [m, sub, sq, m2, add, sqrt, div] = nodes;
    const ops = nodes.map((n) => n.opType).join(',');
    if (ops !== 'ReduceMean,Sub,Pow,ReduceMean,Add,Sqrt,Div' && ops !== 'ReduceMean,Sub,Mul,ReduceMean,Add,Sqrt,Div') return null;
    const out = (n: OnnxNodeView): string => n.output;
    const axes = m.ints('axes');
    const axes2 = m2.ints('axes');
    const exponent = sq.opType === 'Pow' ? ctx.constant(sq.inputs[1]) : null;
    const epsC = add.inputs.map((s) => ctx.constant(s)).find((c) => c !== null) ?? null;
    const ok = m.inputs[0] === input && sub.inputs[0] === input && sub.inputs[1] === out(m) &&
      (sq.opType === 'Pow' ? sq.inputs[0] === out(sub) && exponent !== null && exponent.data.length === 1 && exponent.data[0] === 2
        : sq.inputs[0] === out(sub) && sq.inputs[1] === out(sub)) &&
      m2.inputs[0] === out(sq) && add.inputs.includes(out(m2)) && epsC !== null && epsC.data.length === 1 &&
      sqrt.inputs[0] === out(add) && div.inputs[0] === out(sub) && div.inputs[1] === out(sqrt) &&
      axes !== null && axes2 !== null && axes.join() === axes2.join() && m.int('keepdims', 1) === 1 && m2.int('keepdims', 1) === 1;
    if (!ok) return null;
    const shape = trailingShape(axes, ctx.sample);
    return shape === null ? null : imported(shape, (epsC as { data: Float64Array }).data[0]);
  },
  absorb(layer, n, ctx) {
    // The decomposition's scale and shift: Mul by a constant of the normalised shape, then Add one.
    const w = layer.params.weight;
    const c = n.inputs.map((s) => ctx.constant(s)).find((t) => t !== null) ?? null;
    if (c === null || c.data.length !== w.length || (n.opType !== 'Mul' && n.opType !== 'Add')) return false;
    const target = n.opType === 'Mul' ? w : layer.params.bias;
    if (n.opType === 'Mul' && (w.some((v) => v !== 1) || layer.params.bias.some((v) => v !== 0))) return false;
    if (n.opType === 'Add' && target.some((v) => v !== 0)) return false;
    target.set(Float32Array.from(c.data));
    return true;
  },
};

register<LayerNormConfig>(LayerNorm, {
  keys: { normalizedShape: keyRules.positiveIntList, eps: { expect: 'a number >= 0', ok: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 }, elementwiseAffine: keyRules.boolean },
  fromConfig: (c) => new LayerNorm(c.normalizedShape, { eps: c.eps, elementwiseAffine: c.elementwiseAffine }),
  parameters: (c) => (c.elementwiseAffine ? [{ name: 'weight', shape: c.normalizedShape }, { name: 'bias', shape: c.normalizedShape }] : []),
  onnx(ctx, c) {
    const k = c.normalizedShape.length;
    if (ctx.shape.length < k || ctx.shape.slice(ctx.shape.length - k).some((d, i) => d !== c.normalizedShape[i])) {
      throw new Error(`onnx.exportModel: ${ctx.where} LayerNorm([${c.normalizedShape.join(',')}]) gets input [${['batch', ...ctx.shape].join(',')}]`);
    }
    const [scale, bias] = scaleAndBias(ctx, c);
    if (ctx.opset >= 17) {
      ctx.current = ctx.node('LayerNormalization', [ctx.current, scale, bias], [{ name: 'axis', int: -k }, { name: 'epsilon', float: c.eps }]);
      return;
    }
    // Before opset 17: the decomposition torch.onnx.export writes (ReduceMean takes axes as an attribute below 18).
    const axes = { name: 'axes', ints: c.normalizedShape.map((_, i) => i - k) };
    const x = ctx.current;
    const centred = ctx.node('Sub', [x, ctx.node('ReduceMean', [x], [axes])]);
    const variance = ctx.node('ReduceMean', [ctx.node('Mul', [centred, centred])], [axes]);
    const std = ctx.node('Sqrt', [ctx.node('Add', [variance, ctx.scalar(`${ctx.prefix}eps`, c.eps)])]);
    ctx.current = ctx.node('Add', [ctx.node('Mul', [ctx.node('Div', [centred, std]), scale]), bias]);
  },
  onnxImport: layerNormImport,
});
