// The shared part of the quantised layers (QuantizedLinear, QuantizedConv2d): weights of shape [outputs, ...]
// in int8 (a scale per output channel) or bf16, lowered to the kernels' formats, and rows of K inputs run
// through the low-precision GEMMs with the fused activation.
import { getBackend } from '../backend/select';
import type { Activation } from '../backend/contract';
import { Tensor, zeros } from '../tensor';
import { Module } from '../nn/module';

/** A low-precision weight type: 'int8' (a scale per output channel) or 'bf16'. */
export type QuantDtype = 'int8' | 'bf16';

/** The GEMM's input rows of one batch size: int8 values and a scale per row, or bfloat16 bits. */
export interface RowScratch {
  rows: number;
  A: Int8Array;
  aScale: Float32Array;
  A16: Uint16Array;
}

/** The weights in the kernels' formats, derived from the saved float32 form while it is unchanged. */
interface Lowered {
  data: Float32Array;
  version: number;
  i8: Int8Array | null;
  bf16: Uint16Array | null;
}

/**
 * Weights [outputs, ...] (K values per output) in int8 or bf16 and the activation fused after them;
 * each input row of K values gives `outputs` values. Inference only: no gradients flow through it.
 */
export abstract class QuantizedLayer extends Module {
  readonly dtype: QuantDtype;
  readonly activation: Activation;
  readonly alpha: number;
  readonly inputScale: number;
  /** The int8 or bfloat16 weight values, as float32 (shape [outputs, ...]). */
  readonly weight: Tensor;
  /** int8: [outputs], each output channel's weight scale; bf16: null. */
  readonly weightScale: Tensor | null;
  /** [outputs] float32 (kept in float32 in both precisions), or null. */
  readonly bias: Tensor | null;
  private lowered: Lowered | null = null;
  private scratch: RowScratch | null = null;

  protected constructor(name: string, dtype: QuantDtype, weightShape: number[], bias: boolean, activation: Activation, alpha: number, inputScale: number) {
    super();
    if (!(inputScale >= 0) || (dtype === 'bf16' && inputScale !== 0)) {
      throw new Error(`${name}: inputScale must be >= 0 (0: dynamic), and 0 for bf16, got ${inputScale} (${dtype})`);
    }
    this.dtype = dtype;
    this.activation = activation;
    this.alpha = alpha;
    this.inputScale = inputScale;
    this.weight = this.registerParameter('weight', zeros(weightShape));
    this.weightScale = dtype === 'int8' ? this.registerParameter('weightScale', zeros([weightShape[0]])) : null;
    this.bias = bias ? this.registerParameter('bias', zeros([weightShape[0]])) : null;
  }

  /** Outputs per row (the weight's first dimension). */
  get outputs(): number {
    return this.weight.shape[0];
  }

  /** Inputs per row (K: the weight's other dimensions). */
  get rowLength(): number {
    return this.weight.size / this.weight.shape[0];
  }

  /** Sets the weights from float32 ones of the same shape (quantised per output row, or rounded to bf16) and the bias. */
  protected lowerFrom(w: Float32Array, bias: Float32Array | null, source: string): void {
    const N = this.outputs, K = this.rowLength;
    const backend = getBackend();
    if (this.weightScale !== null) {
      // Per output channel: each row of W with its own max |w| / 127 (the activation-row quantiser).
      const i8 = new Int8Array(N * K);
      backend.quantizeRowsI8(N, K, w, 0, i8, this.weightScale.data);
      for (let j = 0; j < N; j++) {
        if (Number.isNaN(this.weightScale.data[j])) throw new Error(`quantize: ${source} has a NaN or infinite weight in output channel ${j}`);
      }
      this.weight.data.set(i8);
    } else {
      const h = new Uint16Array(N * K);
      backend.toBf16(N * K, w, h);
      const u = new Uint32Array(this.weight.data.buffer, this.weight.data.byteOffset, N * K);
      for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
    }
    if (this.bias !== null && bias !== null) this.bias.data.set(bias);
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

  /** out[M, outputs] = this layer on rows x[M, K] (x may be longer; its first M * K values are read). */
  run(M: number, x: Float32Array, out: Float32Array): void {
    const backend = getBackend();
    const K = this.rowLength;
    const rows = x.length === M * K ? x : x.subarray(0, M * K);
    const s = this.scratchFor(M);
    if (this.dtype === 'int8') backend.quantizeRowsI8(M, K, rows, this.inputScale, s.A, s.aScale);
    else backend.toBf16(M * K, rows, s.A16);
    this.gemmRows(M, s, out);
  }

  /** int8 layers: the weights as the kernels take them (int8 values, per-output-channel scales). */
  protected int8Weights(): { W: Int8Array; wScale: Float32Array } {
    const w = this.loweredWeights();
    if (w.i8 === null || this.weightScale === null) throw new Error(`${this.describe()}: not an int8 layer`);
    return { W: w.i8, wScale: this.weightScale.data };
  }

  /** bf16 layers: the weights as bfloat16 bits. */
  protected bf16Weights(): Uint16Array {
    const w = this.loweredWeights();
    if (w.bf16 === null) throw new Error(`${this.describe()}: not a bf16 layer`);
    return w.bf16;
  }

  /** out[M, outputs] = the GEMM of the M rows already in s (int8: A and aScale; bf16: A16), bias and activation. */
  protected gemmRows(M: number, s: RowScratch, out: Float32Array): void {
    const backend = getBackend();
    const K = this.rowLength, N = this.outputs;
    const w = this.loweredWeights();
    const common = { M, N, K, bias: this.bias === null ? null : this.bias.data, act: this.activation, alpha: this.alpha, out };
    if (w.i8 !== null && this.weightScale !== null) backend.qgemmI8({ ...common, A: s.A, aScale: s.aScale, W: w.i8, wScale: this.weightScale.data });
    else backend.gemmBf16({ ...common, A: s.A16, W: w.bf16 as Uint16Array });
  }

  /** The quantised input of the last batch size (reused: predict calls repeat their batch size). */
  protected scratchFor(rows: number): RowScratch {
    const s = this.scratch;
    if (s !== null && s.rows === rows) return s;
    const n = rows * this.rowLength;
    const fresh = this.dtype === 'int8'
      ? { rows, A: new Int8Array(n), aScale: new Float32Array(rows), A16: new Uint16Array(0) }
      : { rows, A: new Int8Array(0), aScale: new Float32Array(0), A16: new Uint16Array(n) };
    this.scratch = fresh;
    return fresh;
  }

  /**
   * Checks the saved form before loadStateDict copies it (the layer is unchanged when this throws): int8
   * weights must be integers in [-127, 127] and each weight scale finite and >= 0; bf16 weights finite bfloat16 numbers.
   * @param values - this layer's tensors by name (weight, weightScale, bias).
   * @throws Error naming the layer, the tensor, the element and its value when one is not of this form.
   */
  protected override validateLoadedState(values: (name: string) => Float32Array): void {
    const w = values('weight');
    const bits = new Uint32Array(w.buffer, w.byteOffset, w.length);
    for (let i = 0; i < w.length; i++) {
      const v = w[i];
      const ok = this.dtype === 'int8' ? Number.isInteger(v) && v >= -127 && v <= 127 : Number.isFinite(v) && (bits[i] & 0xffff) === 0;
      if (!ok) {
        throw new Error(`${this.describe()}: weight element ${i} is ${v}, not ${this.dtype === 'int8' ? 'an int8 value in [-127, 127]' : 'a finite bfloat16 number'} (a corrupt or foreign weights file?)`);
      }
    }
    if (this.dtype !== 'int8') return;
    const s = values('weightScale');
    for (let j = 0; j < s.length; j++) {
      if (!(Number.isFinite(s[j]) && s[j] >= 0)) throw new Error(`${this.describe()}: weightScale of output channel ${j} is ${s[j]}, expected a finite scale >= 0 (a corrupt weights file?)`);
    }
  }

  /** ', static input scale' / ', dynamic input scale' (int8), then ' + activation'. */
  protected describeTail(): string {
    const act = this.activation === 'none' ? '' : ` + ${this.activation}`;
    const scale = this.dtype === 'int8' ? (this.inputScale > 0 ? ', static input scale' : ', dynamic input scale') : '';
    return `${this.dtype}${scale}${act}`;
  }
}

/** The saved tensors of a quantised layer: weight (I8 or BF16 in the weights file), weightScale (int8), bias. */
export function quantizedParameters(dtype: QuantDtype, weightShape: number[], bias: boolean): { name: string; shape: number[]; dtype?: 'I8' | 'BF16' }[] {
  return [
    { name: 'weight', shape: weightShape, dtype: dtype === 'int8' ? 'I8' : 'BF16' },
    ...(dtype === 'int8' ? [{ name: 'weightScale', shape: [weightShape[0]] }] : []),
    ...(bias ? [{ name: 'bias', shape: [weightShape[0]] }] : []),
  ];
}

/** Allocation of a layer's output: a pooled array inside an inference plan's step arena (predict), else fresh. */
export { outputBuffer } from '../buffer-pool';
