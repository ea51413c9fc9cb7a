// QuantizedLinear: a Linear (with the activation fused after it) computing in int8 or bf16, for inference.
import { ACTIVATIONS, type Activation } from '../backend/contract';
import { Tensor, shapeToString } from '../tensor';
import type { LayerConfig } from '../nn/config';
import type { Linear } from '../nn/linear';
import { keyRules, register } from '../nn/registry';
import { checkTensor } from '../validate';
import { QuantizedLayer, outputBuffer, quantizedParameters, type QuantDtype } from './base';
import { writeQdqLinear } from '../io/onnx/qdq';

export type { QuantDtype } from './base';

/** A QuantizedLinear's settings (its config without the type). */
export interface QuantizedLinearSettings {
  dtype: QuantDtype;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  activation: Activation;
  alpha: number;
  /** int8: the calibrated (static) scale of the input, max |x| / 127; 0: a dynamic scale per row. */
  inputScale: number;
}

export interface QuantizedLinearConfig extends LayerConfig, QuantizedLinearSettings {
  type: 'QuantizedLinear';
}

/**
 * The weights of a Linear in low precision and the activation the planner fused after it.
 * int8: weights quantised per output channel (scale = max |w| / 127 of the row), inputs per row
 * (dynamic, or one calibrated scale), exact int32 sums, dequantised with bias and activation in one
 * kernel (backend qgemmI8). bf16: weights and inputs rounded to bfloat16, products and sums in
 * float32 (backend gemmBf16). Inference only: no gradients flow through it.
 *
 * Saved as: `weight` (the int8 values, stored as I8, or the bfloat16 values, stored as BF16), `weightScale`
 * (int8: the per-channel scales, F32), `bias` (F32); the input scale is in the config (model.json).
 */
export class QuantizedLinear extends QuantizedLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;

  /**
   * An empty layer of this shape (load fills it); quantize() builds them from Linear layers.
   * @param cfg dtype ('int8' or 'bf16'), inFeatures, outFeatures, bias (has one), activation fused after the
   * product, alpha (its leaky slope), inputScale (int8: the calibrated max |x| / 127, or 0 for a dynamic scale per
   * row; must be 0 for bf16).
   * @throws Error when inputScale is negative or NaN, or nonzero with bf16; or when the feature counts do not make a
   * valid weight shape.
   * @example new QuantizedLinear({ dtype: 'int8', inFeatures: 64, outFeatures: 10, bias: true, activation: 'none', alpha: 0, inputScale: 0 })
   */
  constructor(cfg: QuantizedLinearSettings) {
    super('QuantizedLinear', cfg.dtype, [cfg.outFeatures, cfg.inFeatures], cfg.bias, cfg.activation, cfg.alpha, cfg.inputScale);
    this.inFeatures = cfg.inFeatures;
    this.outFeatures = cfg.outFeatures;
  }

  /**
   * linear's weights in dtype, with `activation` fused after it: int8 per output row (scale max |w| / 127) or bf16
   * (rounded to nearest even); the bias stays float32.
   * @param linear the float layer (not changed).
   * @param dtype 'int8' or 'bf16'.
   * @param activation the activation fused after the product ('none', 'relu', ...).
   * @param alpha the leaky-relu slope (used with 'leakyRelu').
   * @param inputScale int8: a calibrated static input scale (max |x| / 127), or 0 (default) for a dynamic scale per row.
   * @returns the quantized layer.
   * @throws Error when a weight row holds a NaN or infinite value (int8), or as the constructor checks inputScale.
   * @example const q = QuantizedLinear.fromLinear(new nn.Linear(64, 10), 'int8', 'relu', 0);
   */
  static fromLinear(linear: Linear, dtype: QuantDtype, activation: Activation, alpha: number, inputScale = 0): QuantizedLinear {
    const q = new QuantizedLinear({ dtype, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures, bias: linear.bias !== null, activation, alpha, inputScale });
    q.lowerFrom(linear.weight.data, linear.bias === null ? null : linear.bias.data, linear.describe());
    return q;
  }

  /**
   * The layer on rows of x in low precision: act(quantized(x) W^T + bias), inputs quantised per row (int8, by the
   * calibrated inputScale or each row's own max |x|) or rounded to bfloat16 (bf16). Not differentiable.
   * @param x - input rows [..., inFeatures] (float32).
   * @returns [..., outFeatures] (float32).
   * @throws Error when x is not a Tensor or its last dimension is not inFeatures.
   * @example
   * ```ts
   * const y = q.forward(myelin.randn([4, q.inFeatures]));
   * ```
   */
  override forward(x: Tensor): Tensor {
    checkTensor(`${this.describe()}.forward`, 'input', x);
    const K = this.inFeatures, N = this.outFeatures;
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== K) {
      throw new Error(`${this.describe()}.forward: input of shape ${shapeToString(x.shape)} has ` +
        `${x.ndim === 0 ? 'no feature dimension' : `${x.shape[x.ndim - 1]} features in its last dimension`}, expected ${K}`);
    }
    const M = x.size / K;
    // In an inference plan's step arena (predict) a pooled array, reclaimed after the pass; else a fresh one.
    const out = outputBuffer(M * N);
    if (M > 0) this.run(M, x.data, out);
    return new Tensor(out, [...x.shape.slice(0, -1), N]);
  }

  override inputFeatures(): number {
    return this.inFeatures;
  }

  override toConfig(): QuantizedLinearConfig {
    return {
      type: 'QuantizedLinear', dtype: this.dtype, inFeatures: this.inFeatures, outFeatures: this.outFeatures,
      bias: this.bias !== null, activation: this.activation, alpha: this.alpha, inputScale: this.inputScale,
    };
  }

  override describe(): string {
    return `QuantizedLinear(${this.inFeatures} -> ${this.outFeatures}, ${this.describeTail()})`;
  }
}

register<QuantizedLinearConfig>(QuantizedLinear, {
  keys: {
    dtype: keyRules.oneOf(['int8', 'bf16']), inFeatures: keyRules.positiveInt, outFeatures: keyRules.positiveInt,
    bias: keyRules.boolean, activation: keyRules.oneOf(ACTIVATIONS), alpha: keyRules.finite, inputScale: keyRules.finite,
  },
  fromConfig: (c) => new QuantizedLinear(c),
  parameters: (c) => quantizedParameters(c.dtype, [c.outFeatures, c.inFeatures], c.bias),
  // int8: QuantizeLinear / DequantizeLinear around a Gemm; bf16: a Gemm on bfloat16-rounded inputs (lib/io/onnx/qdq.ts).
  onnx: (ctx, c) => writeQdqLinear(ctx, c),
  keepsNoTensors: true,
});
