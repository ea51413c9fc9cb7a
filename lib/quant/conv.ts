// QuantizedConv2d: a Conv2d (BatchNorm folded in, activation fused) computing in int8 or bf16 for inference:
// im2col rows of the input, then the low-precision GEMMs with per-output-channel weight scales.
import { ACTIVATIONS, type Activation } from '../backend/contract';
import { getBackend } from '../backend/select';
import { Tensor, shapeToString } from '../tensor';
import type { LayerConfig } from '../nn/config';
import type { Conv2d } from '../nn/conv';
import { keyRules, register, type KeyRule } from '../nn/registry';
import { checkTensor } from '../validate';
import { QuantizedLayer, outputBuffer, quantizedParameters, type QuantDtype } from './base';
import { writeQdqConv } from '../io/onnx/qdq';

type Pair = [number, number];
/** A max pooling fused after the convolution: [kernelH, kernelW, strideH, strideW] (no padding, floor mode). */
export type FusedMaxPool = [number, number, number, number];

/** A QuantizedConv2d's settings (its config without the type). Padding is explicit (symmetric per axis). */
export interface QuantizedConv2dSettings {
  dtype: QuantDtype;
  inChannels: number;
  outChannels: number;
  kernelSize: Pair;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  bias: boolean;
  activation: Activation;
  alpha: number;
  /** int8: the calibrated (static) scale of the input, max |x| / 127; 0: a dynamic scale per image. */
  inputScale: number;
  /** A MaxPool2d after the activation folded in (quantize() does it), or null/absent (none). */
  pool?: FusedMaxPool | null;
}

export interface QuantizedConv2dConfig extends LayerConfig, QuantizedConv2dSettings {
  type: 'QuantizedConv2d';
}

/** The explicit padding of a Conv2d, or null when it is not symmetric ('same' with an even kernel extent). */
export function explicitPadding(conv: Conv2d): Pair | null {
  const p = conv.padding;
  if (p === 'valid') return [0, 0];
  if (p !== 'same') return [p[0], p[1]];
  const total = [conv.dilation[0] * (conv.kernelSize[0] - 1), conv.dilation[1] * (conv.kernelSize[1] - 1)];
  return total[0] % 2 === 0 && total[1] % 2 === 0 ? [total[0] / 2, total[1] / 2] : null;
}

/**
 * A Conv2d (groups 1) in low precision, with the BatchNorm after it folded in and the activation fused.
 * Each output pixel's input patch (C * KH * KW values, im2col) is one row of the low-precision GEMM:
 * int8 weights with a scale per output channel, the patch quantised with its own scale (or one calibrated
 * scale); bf16 weights and patches. Inference only. Saved like QuantizedLinear (weight I8 / BF16, weightScale, bias).
 */
export class QuantizedConv2d extends QuantizedLayer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  /** A max pooling run on the output, or null. */
  readonly pool: FusedMaxPool | null;

  /**
   * An empty layer of this shape (load fills it); quantize() builds them from Conv2d layers.
   * @param cfg - dtype, channels, kernelSize, stride, padding (explicit), dilation, bias, activation, alpha, inputScale (0: dynamic), pool (a fused max pooling [kh, kw, sh, sw]; default null).
   * @throws Error when inputScale is negative, or not 0 with dtype 'bf16'.
   * @example
   * ```ts
   * const q = QuantizedConv2d.fromConv2d(new nn.Conv2d(1, 8, 3, { padding: 1 }), 'int8', 'relu', 0.01);
   * ```
   */
  constructor(cfg: QuantizedConv2dSettings) {
    super('QuantizedConv2d', cfg.dtype, [cfg.outChannels, cfg.inChannels, cfg.kernelSize[0], cfg.kernelSize[1]], cfg.bias, cfg.activation, cfg.alpha, cfg.inputScale);
    this.inChannels = cfg.inChannels;
    this.outChannels = cfg.outChannels;
    this.kernelSize = [cfg.kernelSize[0], cfg.kernelSize[1]];
    this.stride = [cfg.stride[0], cfg.stride[1]];
    this.padding = [cfg.padding[0], cfg.padding[1]];
    this.dilation = [cfg.dilation[0], cfg.dilation[1]];
    const pool = cfg.pool ?? null;
    this.pool = pool === null ? null : [pool[0], pool[1], pool[2], pool[3]];
  }

  /**
   * conv's weights (groups 1, explicit or symmetric padding) in dtype, with `activation` fused after it.
   * @param conv - the float32 layer (not changed).
   * @param dtype - 'int8' (per-output-channel scales) or 'bf16'.
   * @param activation - the activation applied to the outputs ('none' for none).
   * @param alpha - leakyRelu's slope.
   * @param inputScale - int8: the calibrated input scale, or 0 (default) for a scale per image.
   * @param pool - a max pooling [kh, kw, sh, sw] fused after the activation, or null (default).
   * @returns the quantised layer.
   * @throws Error when conv has groups or an asymmetric 'same' padding, or a NaN or infinite weight.
   */
  static fromConv2d(conv: Conv2d, dtype: QuantDtype, activation: Activation, alpha: number, inputScale = 0, pool: FusedMaxPool | null = null): QuantizedConv2d {
    const padding = explicitPadding(conv);
    if (conv.groups !== 1 || padding === null) throw new Error(`quantize: ${conv.describe()} cannot be quantised (groups must be 1 and padding symmetric)`);
    const q = new QuantizedConv2d({
      dtype, inChannels: conv.inChannels, outChannels: conv.outChannels, kernelSize: conv.kernelSize, stride: conv.stride, padding,
      dilation: conv.dilation, bias: conv.bias !== null, activation, alpha, inputScale, pool,
    });
    q.lowerFrom(conv.weight.data, conv.bias === null ? null : conv.bias.data, conv.describe());
    return q;
  }

  /**
   * The convolution of x [batch, inChannels, height, width] in low precision.
   * @param x - the input images.
   * @returns [batch, outChannels, outHeight, outWidth] (with a fused pool: the pooled height and width).
   * @throws Error when x is not a Tensor of 4 dimensions with inChannels channels, or smaller than the kernel (or its output smaller than the pool window).
   */
  override forward(x: Tensor): Tensor {
    checkTensor(`${this.describe()}.forward`, 'input', x);
    const [kh, kw] = this.kernelSize, [sh, sw] = this.stride, [ph, pw] = this.padding, [dh, dw] = this.dilation;
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`${this.describe()}.forward: input of shape ${shapeToString(x.shape)}, expected [batch, channels, height, width] with ${this.inChannels} channels`);
    }
    const [N, C, H, W] = x.shape;
    const OH = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
    const OW = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
    if (OH < 1 || OW < 1) throw new Error(`${this.describe()}.forward: input of shape ${shapeToString(x.shape)} is smaller than the kernel (output ${OH}x${OW})`);
    const P = OH * OW, K = C * kh * kw, OC = this.outChannels;
    const backend = getBackend();
    const xd = x.data.length === x.size ? x.data : x.data.subarray(0, x.size);
    const geom = Int32Array.of(C, H, W, OC, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, 1);
    const pool = Int32Array.from(this.pool ?? [1, 1, 1, 1]);
    if (pool[0] > OH || pool[1] > OW) throw new Error(`${this.describe()}.forward: input of shape ${shapeToString(x.shape)} gives ${OH}x${OW} outputs, smaller than the pool window ${pool[0]}x${pool[1]}`);
    const PH = Math.floor((OH - pool[0]) / pool[2]) + 1, PW = Math.floor((OW - pool[1]) / pool[3]) + 1;
    const out = outputBuffer(N * OC * PH * PW);
    // Each image quantised (or rounded to bfloat16) once, the products read straight from it (direct convolution,
    // fused epilogue and pooling).
    const common = {
      N, C, OC, inPlane: H * W, convPlane: P, outPlane: PH * PW, kArea: K, G: geom.length, geom, PG: 4, pool, X: xd,
      bias: this.bias === null ? null : this.bias.data, act: this.activation, alpha: this.alpha, out,
    };
    if (this.dtype === 'int8') {
      const w = this.int8Weights();
      backend.qconvI8({ ...common, scale: this.inputScale, W: w.W, wScale: w.wScale });
    } else {
      backend.qconvBf16({ ...common, W: this.bf16Weights() });
    }
    return new Tensor(out, [N, OC, PH, PW]);
  }

  override toConfig(): QuantizedConv2dConfig {
    return {
      type: 'QuantizedConv2d', dtype: this.dtype, inChannels: this.inChannels, outChannels: this.outChannels, kernelSize: [...this.kernelSize],
      stride: [...this.stride], padding: [...this.padding], dilation: [...this.dilation], bias: this.bias !== null, activation: this.activation,
      alpha: this.alpha, inputScale: this.inputScale, ...(this.pool === null ? {} : { pool: [...this.pool] as FusedMaxPool }),
    };
  }

  override describe(): string {
    const extras: string[] = [];
    if (this.stride[0] !== 1 || this.stride[1] !== 1) extras.push(`stride ${this.stride.join('x')}`);
    if (this.padding[0] !== 0 || this.padding[1] !== 0) extras.push(`padding ${this.padding.join('x')}`);
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) extras.push(`dilation ${this.dilation.join('x')}`);
    const pool = this.pool === null ? '' : ` + max pool ${this.pool[0]}x${this.pool[1]}${this.pool[2] !== this.pool[0] || this.pool[3] !== this.pool[1] ? ` stride ${this.pool[2]}x${this.pool[3]}` : ''}`;
    return `QuantizedConv2d(${this.inChannels} -> ${this.outChannels}, kernel ${this.kernelSize.join('x')}${extras.map((e) => `, ${e}`).join('')}, ${this.describeTail()}${pool})`;
  }
}

const pair = (min: number): KeyRule => ({
  expect: `a pair [h, w] of integers >= ${min}`,
  ok: (v) => Array.isArray(v) && v.length === 2 && v.every((d) => Number.isSafeInteger(d) && d >= min),
});

register<QuantizedConv2dConfig>(QuantizedConv2d, {
  keys: {
    dtype: keyRules.oneOf(['int8', 'bf16']), inChannels: keyRules.positiveInt, outChannels: keyRules.positiveInt, kernelSize: pair(1),
    stride: pair(1), padding: pair(0), dilation: pair(1), bias: keyRules.boolean, activation: keyRules.oneOf(ACTIVATIONS),
    alpha: keyRules.finite, inputScale: keyRules.finite,
    pool: {
      expect: 'null or [kernelH, kernelW, strideH, strideW] of positive integers', optional: true,
      ok: (v) => v === null || (Array.isArray(v) && v.length === 4 && v.every((d) => Number.isSafeInteger(d) && d >= 1)),
    },
  },
  fromConfig: (c) => new QuantizedConv2d(c),
  parameters: (c) => quantizedParameters(c.dtype, [c.outChannels, c.inChannels, c.kernelSize[0], c.kernelSize[1]], c.bias),
  // int8: QuantizeLinear / DequantizeLinear around a Conv (or, with dynamic scales, a Gemm on the patches); bf16: a Conv on bfloat16-rounded inputs (lib/io/onnx/qdq.ts).
  onnx: (ctx, c) => writeQdqConv(ctx, c),
  keepsNoTensors: true,
});
