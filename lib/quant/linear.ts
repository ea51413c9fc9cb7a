// QuantizedLinear: a Linear (with the activation fused after it) computing in int8 or bf16, for inference.
import { getBackend } from '../backend/select';
import { ACTIVATIONS, type Activation } from '../backend/contract';
import { Tensor, shapeToString, zeros } from '../tensor';
import { Module } from '../nn/module';
import type { LayerConfig } from '../nn/config';
import type { Linear } from '../nn/linear';
import { keyRules, register } from '../nn/registry';
import { checkTensor } from '../validate';

/** A low-precision weight type: 'int8' (a scale per output channel) or 'bf16'. */
export type QuantDtype = 'int8' | 'bf16';

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

/** The weights in the kernels' formats, derived from the saved float32 form while it is unchanged. */
interface Lowered {
  data: Float32Array;
  version: number;
  i8: Int8Array | null;
  bf16: Uint16Array | null;
}

/**
 * The weights of a Linear in low precision and the activation the planner fused after it.
 * int8: weights quantised per output channel (scale = max |w| / 127 of the row), inputs per row
 * (dynamic, or one calibrated scale), exact int32 sums, dequantised with bias and activation in one
 * kernel (backend qgemmI8). bf16: weights and inputs rounded to bfloat16, products and sums in
 * float32 (backend gemmBf16). Inference only: no gradients flow through it.
 *
 * Its parameters are the saved form (float32 safetensors): `weight` holds the int8 values (integers
 * in [-127, 127]) or the bfloat16 values exactly, `weightScale` the int8 per-channel scales.
 */
export class QuantizedLinear extends Module {
  readonly dtype: QuantDtype;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly activation: Activation;
  readonly alpha: number;
  readonly inputScale: number;
  /** Shape [outFeatures, inFeatures]: the int8 or bfloat16 weight values, as float32. */
  readonly weight: Tensor;
  /** int8: [outFeatures], each output channel's weight scale; bf16: null. */
  readonly weightScale: Tensor | null;
  /** [outFeatures] float32 (kept in float32 in both precisions), or null. */
  readonly bias: Tensor | null;
  private lowered: Lowered | null = null;

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
    super();
    if (!(cfg.inputScale >= 0) || (cfg.dtype === 'bf16' && cfg.inputScale !== 0)) {
      throw new Error(`QuantizedLinear: inputScale must be >= 0 (0: dynamic), and 0 for bf16, got ${cfg.inputScale} (${cfg.dtype})`);
    }
    this.dtype = cfg.dtype;
    this.inFeatures = cfg.inFeatures;
    this.outFeatures = cfg.outFeatures;
    this.activation = cfg.activation;
    this.alpha = cfg.alpha;
    this.inputScale = cfg.inputScale;
    this.weight = this.registerParameter('weight', zeros([cfg.outFeatures, cfg.inFeatures]));
    this.weightScale = cfg.dtype === 'int8' ? this.registerParameter('weightScale', zeros([cfg.outFeatures])) : null;
    this.bias = cfg.bias ? this.registerParameter('bias', zeros([cfg.outFeatures])) : null;
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
    const N = linear.outFeatures, K = linear.inFeatures;
    const q = new QuantizedLinear({ dtype, inFeatures: K, outFeatures: N, bias: linear.bias !== null, activation, alpha, inputScale });
    const backend = getBackend();
    const w = linear.weight.data;
    if (q.weightScale !== null) {
      // Per output channel: each row of W with its own max |w| / 127 (the activation-row quantiser).
      const i8 = new Int8Array(N * K);
      backend.quantizeRowsI8(N, K, w, 0, i8, q.weightScale.data);
      for (let j = 0; j < N; j++) {
        if (Number.isNaN(q.weightScale.data[j])) throw new Error(`quantize: ${linear.describe()} has a NaN or infinite weight in output row ${j}`);
      }
      q.weight.data.set(i8);
    } else {
      const h = new Uint16Array(N * K);
      backend.toBf16(N * K, w, h);
      const u = new Uint32Array(q.weight.data.buffer, q.weight.data.byteOffset, N * K);
      for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
    }
    if (q.bias !== null && linear.bias !== null) q.bias.data.set(linear.bias.data);
    return q;
  }

  /** The weights in the kernel's format (rebuilt after load or any change to `weight`). */
  private loweredWeights(): Lowered {
    const w = this.weight;
    const l = this.lowered;
    if (l !== null && l.data === w.data && l.version === w._version) return l;
    const n = w.data.length;
    let i8: Int8Array | null = null;
    let bf16: Uint16Array | null = null;
    if (this.dtype === 'int8') {
      i8 = new Int8Array(n);
      for (let i = 0; i < n; i++) {
        const v = w.data[i];
        if (!(Number.isInteger(v) && v >= -127 && v <= 127)) {
          throw new Error(`${this.describe()}: weight element ${i} is ${v}, not an int8 value in [-127, 127]`);
        }
        i8[i] = v;
      }
    } else {
      bf16 = new Uint16Array(n);
      getBackend().toBf16(n, w.data, bf16);
    }
    const fresh = { data: w.data, version: w._version, i8, bf16 };
    this.lowered = fresh;
    return fresh;
  }

  /**
   * The layer on rows of x: act(quantized(x) W^T + bias), inputs quantized per row (int8) or rounded (bf16).
   * Not differentiable (an inference layer).
   * @param x a Tensor [..., inFeatures].
   * @returns a Tensor [..., outFeatures].
   * @throws Error when x is not a Tensor or its last dimension is not inFeatures.
   * @example QuantizedLinear.fromLinear(new nn.Linear(64, 10), 'int8', 'none', 0).forward(randn([3, 64])).shape // [3, 10]
   */
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

  /**
   * out[M, outFeatures] = this layer on rows x[M, inFeatures], without a Tensor (the planner's entry).
   * @param M the number of rows.
   * @param x M * inFeatures inputs, row-major.
   * @param out M * outFeatures outputs, overwritten.
   * @throws Error (from the kernels, before any memory is touched) when x or out does not have M rows of the layer's widths.
   * @example const out = new Float32Array(2 * 10); q.run(2, x.data, out); // q: 64 -> 10, x [2, 64]
   */
  run(M: number, x: Float32Array, out: Float32Array): void {
    const backend = getBackend();
    const K = this.inFeatures, N = this.outFeatures;
    const w = this.loweredWeights();
    const common = { M, N, K, bias: this.bias === null ? null : this.bias.data, act: this.activation, alpha: this.alpha, out };
    if (w.i8 !== null && this.weightScale !== null) {
      const { A, aScale } = this.scratchFor(M);
      backend.quantizeRowsI8(M, K, x, this.inputScale, A, aScale);
      backend.qgemmI8({ ...common, A, aScale, W: w.i8, wScale: this.weightScale.data });
    } else {
      const A = this.scratchFor(M).A16;
      backend.toBf16(M * K, x, A);
      backend.gemmBf16({ ...common, A, W: w.bf16 as Uint16Array });
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
      bias: this.bias !== null, activation: this.activation, alpha: this.alpha, inputScale: this.inputScale,
    };
  }

  override describe(): string {
    const act = this.activation === 'none' ? '' : ` + ${this.activation}`;
    const scale = this.dtype === 'int8' ? (this.inputScale > 0 ? ', static input scale' : ', dynamic input scale') : '';
    return `QuantizedLinear(${this.inFeatures} -> ${this.outFeatures}, ${this.dtype}${scale}${act})`;
  }
}

register<QuantizedLinearConfig>(QuantizedLinear, {
  keys: {
    dtype: keyRules.oneOf(['int8', 'bf16']), inFeatures: keyRules.positiveInt, outFeatures: keyRules.positiveInt,
    bias: keyRules.boolean, activation: keyRules.oneOf(ACTIVATIONS), alpha: keyRules.finite, inputScale: keyRules.finite,
  },
  fromConfig: (c) => new QuantizedLinear(c),
  parameters: (c) => [
    { name: 'weight', shape: [c.outFeatures, c.inFeatures] },
    ...(c.dtype === 'int8' ? [{ name: 'weightScale', shape: [c.outFeatures] }] : []),
    ...(c.bias ? [{ name: 'bias', shape: [c.outFeatures] }] : []),
  ],
  keepsNoTensors: true,
});
