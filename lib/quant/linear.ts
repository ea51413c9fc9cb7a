// QuantizedLinear: a Linear (with the activation fused after it) computing in int8 or bf16, for inference.
import { getBackend } from '../backend/select';
import type { Activation } from '../backend/contract';
import { Tensor, shapeToString } from '../tensor';
import { Module } from '../nn/module';
import type { LayerConfig } from '../nn/config';
import type { Linear } from '../nn/linear';
import { checkTensor } from '../validate';

export type QuantDtype = 'int8' | 'bf16';

export interface QuantizedLinearConfig extends LayerConfig {
  type: 'QuantizedLinear';
  dtype: QuantDtype;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  activation: Activation;
  alpha: number;
  /** int8 with calibration: the static scale of the input (max |x| / 127); absent: dynamic per row. */
  inputScale?: number;
}

/**
 * The weights of a Linear in low precision and the activation the planner fused after it.
 * int8: weights quantised per output channel (scale = max |w| / 127 of the row), inputs per row
 * (dynamic, or one calibrated scale), exact int32 sums, dequantised with bias and activation in one
 * kernel (backend qgemmI8). bf16: weights and inputs rounded to bfloat16, products and sums in
 * float32 (backend gemmBf16). Inference only: no gradients flow through it.
 */
export class QuantizedLinear extends Module {
  readonly dtype: QuantDtype;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly activation: Activation;
  readonly alpha: number;
  /** int8: the calibrated input scale, or 0 for a dynamic scale per row. */
  readonly inputScale: number;
  /** int8: [outFeatures, inFeatures] quantised weights; bf16: null. */
  readonly weightI8: Int8Array | null;
  /** int8: the scale of each output channel's weights. */
  readonly weightScale: Float32Array | null;
  /** bf16: [outFeatures, inFeatures] bfloat16 bits; int8: null. */
  readonly weightBf16: Uint16Array | null;
  /** Float32 bias (kept in float32 in both precisions), or null. */
  readonly bias: Float32Array | null;

  constructor(linear: Linear, dtype: QuantDtype, activation: Activation, alpha: number, inputScale = 0) {
    super();
    this.dtype = dtype;
    this.inFeatures = linear.inFeatures;
    this.outFeatures = linear.outFeatures;
    this.activation = activation;
    this.alpha = alpha;
    this.inputScale = inputScale;
    this.bias = linear.bias ? linear.bias.data.slice() : null;
    const N = this.outFeatures, K = this.inFeatures;
    const w = linear.weight.data;
    const backend = getBackend();
    if (dtype === 'int8') {
      this.weightI8 = new Int8Array(N * K);
      this.weightScale = new Float32Array(N);
      // Per output channel: each row of W quantised with its own max |w| / 127 (the kernel that
      // quantises activation rows does exactly this).
      backend.quantizeRowsI8(N, K, w, 0, this.weightI8, this.weightScale);
      for (let j = 0; j < N; j++) {
        if (Number.isNaN(this.weightScale[j])) throw new Error(`quantize: ${linear.describe()} has a NaN or infinite weight in output row ${j}`);
      }
      this.weightBf16 = null;
    } else {
      this.weightBf16 = new Uint16Array(N * K);
      backend.toBf16(N * K, w, this.weightBf16);
      this.weightI8 = null;
      this.weightScale = null;
    }
  }

  override forward(x: Tensor): Tensor {
    checkTensor(`${this.describe()}.forward`, 'input', x);
    const K = this.inFeatures, N = this.outFeatures;
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== K) {
      throw new Error(`${this.describe()}.forward: input of shape ${shapeToString(x.shape)} has ` +
        `${x.ndim === 0 ? 'no feature dimension' : `${x.shape[x.ndim - 1]} features in its last dimension`}, expected ${K}`);
    }
    const M = x.size / K;
    const out = new Float32Array(M * N);
    if (M > 0) this.run(M, x.data, out);
    return new Tensor(out, [...x.shape.slice(0, -1), N]);
  }

  /** out[M, outFeatures] = this layer on rows x[M, inFeatures]. */
  run(M: number, x: Float32Array, out: Float32Array): void {
    const backend = getBackend();
    const K = this.inFeatures, N = this.outFeatures;
    const common = { M, N, K, bias: this.bias, act: this.activation, alpha: this.alpha, out };
    if (this.weightI8 !== null && this.weightScale !== null) {
      const { A, aScale } = this.scratchFor(M);
      backend.quantizeRowsI8(M, K, x, this.inputScale, A, aScale);
      backend.qgemmI8({ ...common, A, aScale, W: this.weightI8, wScale: this.weightScale });
    } else {
      const A = this.scratchFor(M).A16;
      backend.toBf16(M * K, x, A);
      backend.gemmBf16({ ...common, A, W: this.weightBf16 as Uint16Array });
    }
  }

  /** The quantised input of the last batch size (reused: predict calls repeat their batch size). */
  private scratch: { rows: number; A: Int8Array; aScale: Float32Array; A16: Uint16Array } | null = null;

  private scratchFor(rows: number): { A: Int8Array; aScale: Float32Array; A16: Uint16Array } {
    const s = this.scratch;
    if (s !== null && s.rows === rows) return s;
    const n = rows * this.inFeatures;
    const fresh = this.dtype === 'int8'
      ? { rows, A: new Int8Array(n), aScale: new Float32Array(rows), A16: new Uint16Array(0) }
      : { rows, A: new Int8Array(0), aScale: new Float32Array(0), A16: new Uint16Array(n) };
    this.scratch = fresh;
    return fresh;
  }

  override inputFeatures(): number {
    return this.inFeatures;
  }

  override toConfig(): QuantizedLinearConfig {
    return {
      type: 'QuantizedLinear', dtype: this.dtype, inFeatures: this.inFeatures, outFeatures: this.outFeatures,
      bias: this.bias !== null, activation: this.activation, alpha: this.alpha,
      ...(this.inputScale > 0 ? { inputScale: this.inputScale } : {}),
    };
  }

  override describe(): string {
    const act = this.activation === 'none' ? '' : ` + ${this.activation}`;
    const scale = this.dtype === 'int8' ? (this.inputScale > 0 ? ', static input scale' : ', dynamic input scale') : '';
    return `QuantizedLinear(${this.inFeatures} -> ${this.outFeatures}, ${this.dtype}${scale}${act})`;
  }
}
