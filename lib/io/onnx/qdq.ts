// ONNX export of quantised layers in QDQ form. int8: the weights as an INT8 initializer read through a per-channel
// DequantizeLinear (axis 0), the input through QuantizeLinear -> DequantizeLinear (the calibrated scale, or a scale
// per row computed in the graph: ReduceMax(Abs(x)) / 127), then Gemm (transB) or Conv with the float32 bias and
// the fused activation; onnxruntime recognises the patterns (DQ -> Gemm / Conv) and may run them on its int8
// kernels. bf16: the bfloat16 weights as float32 (exact), the input rounded to bfloat16 by Cast -> Cast.
import type { OnnxExportContext } from '../../nn/registry';

/** What the QDQ export needs of a QuantizedLinear's config. */
export interface QdqLinearConfig {
  dtype: 'int8' | 'bf16';
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  activation: string;
  alpha: number;
  inputScale: number;
}

/** What the QDQ export needs of a QuantizedConv2d's config. */
export interface QdqConvConfig {
  dtype: 'int8' | 'bf16';
  inChannels: number;
  outChannels: number;
  kernelSize: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  bias: boolean;
  activation: string;
  alpha: number;
  inputScale: number;
  /** A max pooling fused after the activation: [kernelH, kernelW, strideH, strideW]. */
  pool?: [number, number, number, number] | null;
}

/** The smallest per-row scale the graph uses (a row of zeros quantises to zeros instead of 0 / 0). */
const MIN_ROW_SCALE = 1e-30;
/** TensorProto.DataType values for Cast. */
const ONNX_FLOAT = 1;
const ONNX_INT8 = 3;
const ONNX_BFLOAT16 = 16;
/** The activations written after the product (the others have no export here). */
const EXPORTED_ACTIVATIONS = ['none', 'relu', 'leakyRelu', 'sigmoid', 'tanh'];

/** The checks both layers share; returns the int8 initializer writer (int8) or null (bf16). */
function begin(ctx: OnnxExportContext, layer: string, c: { dtype: string; activation: string }): ((base: string, dims: number[], v: Int8Array) => string) | null {
  if (!EXPORTED_ACTIVATIONS.includes(c.activation)) throw new Error(`onnx.exportModel: ${ctx.where} (${layer}): activation '${c.activation}' has no QDQ export`);
  if (c.dtype !== 'int8') return null;
  if (ctx.int8Initializer === undefined) throw new Error(`onnx.exportModel: ${ctx.where} (${layer}): this exporter writes no int8 initializers`);
  return ctx.int8Initializer.bind(ctx);
}

/**
 * The layer's weights as a float value of shape `dims`: int8 values through a DequantizeLinear with a scale per
 * output channel (axis 0, zero points 0), or the bfloat16 values as float32 (exact).
 */
function weightValue(ctx: OnnxExportContext, int8: ((base: string, dims: number[], v: Int8Array) => string) | null, dims: number[]): string {
  const w = ctx.param('weight');
  if (int8 === null) return ctx.initializer(`${ctx.prefix}weight`, dims, w);
  const wq = new Int8Array(w.length);
  for (let i = 0; i < wq.length; i++) wq[i] = w[i];
  const wName = int8(`${ctx.prefix}weight_quantized`, dims, wq);
  const wScale = ctx.initializer(`${ctx.prefix}weight_scale`, [dims[0]], ctx.param('weightScale'));
  const wZero = int8(`${ctx.prefix}weight_zero_point`, [dims[0]], new Int8Array(dims[0]));
  return ctx.node('DequantizeLinear', [wName, wScale, wZero], [{ name: 'axis', int: 0 }], 'per-output-channel int8 weights');
}

/**
 * `x` as the layer's kernels see it: int8 through QuantizeLinear -> DequantizeLinear with the calibrated scale, or
 * (inputScale 0, x of shape [rows, K]) a scale per row, max |x| / 127, computed in the graph; bf16 rounded to
 * bfloat16 (Cast to BFLOAT16 and back, round to nearest even).
 */
function inputValue(ctx: OnnxExportContext, int8: ((base: string, dims: number[], v: Int8Array) => string) | null, x: string, inputScale: number): string {
  if (int8 === null) {
    const h = ctx.node('Cast', [x], [{ name: 'to', int: ONNX_BFLOAT16 }], 'inputs rounded to bfloat16');
    return ctx.node('Cast', [h], [{ name: 'to', int: ONNX_FLOAT }]);
  }
  if (inputScale > 0) {
    const s = ctx.scalar(`${ctx.prefix}input_scale`, inputScale);
    const z = int8(`${ctx.prefix}input_zero_point`, [], new Int8Array(1));
    return ctx.node('DequantizeLinear', [ctx.node('QuantizeLinear', [x, s, z], [], 'calibrated input scale'), s, z]);
  }
  const absMax = ctx.node('ReduceMax', [ctx.node('Abs', [x])], [{ name: 'axes', ints: [1] }, { name: 'keepdims', int: 0 }]);
  const scale = ctx.node('Max', [ctx.node('Div', [absMax, ctx.scalar(`${ctx.prefix}int8_max`, 127)]), ctx.scalar(`${ctx.prefix}min_scale`, MIN_ROW_SCALE)], [], 'per-row input scale: max |x| / 127');
  const zero = ctx.node('Cast', [ctx.node('Mul', [scale, ctx.scalar(`${ctx.prefix}zero`, 0)])], [{ name: 'to', int: ONNX_INT8 }]);
  const xq = ctx.node('QuantizeLinear', [x, scale, zero], [{ name: 'axis', int: 0 }], 'dynamic per-row input scale');
  return ctx.node('DequantizeLinear', [xq, scale, zero], [{ name: 'axis', int: 0 }]);
}

/** The fused activation after the layer's product. */
function activation(ctx: OnnxExportContext, c: { activation: string; alpha: number }): void {
  if (c.activation === 'relu') ctx.chain('Relu');
  else if (c.activation === 'leakyRelu') ctx.chain('LeakyRelu', [{ name: 'alpha', float: c.alpha }]);
  else if (c.activation === 'sigmoid') ctx.chain('Sigmoid');
  else if (c.activation === 'tanh') ctx.chain('Tanh');
}

/**
 * Writes a QuantizedLinear: int8 as QuantizeLinear/DequantizeLinear nodes around a Gemm; bf16 as a Gemm on the
 * bfloat16 weights (float32 initializer) and the input rounded to bfloat16 (Cast -> Cast).
 * @param ctx - the exporter's context (its current value is the layer's [batch, inFeatures] input).
 * @param c - the layer's config.
 * @throws Error for an input that is not [batch, inFeatures] or an activation without a QDQ form.
 */
export function writeQdqLinear(ctx: OnnxExportContext, c: QdqLinearConfig): void {
  const int8 = begin(ctx, 'QuantizedLinear', c);
  if (ctx.shape.length !== 1 || ctx.shape[0] !== c.inFeatures) {
    throw new Error(`onnx.exportModel: ${ctx.where} (QuantizedLinear): the input must be [batch, ${c.inFeatures}], got per-sample shape [${ctx.shape.join(',')}]`);
  }
  const N = c.outFeatures, K = c.inFeatures;
  const inputs = [inputValue(ctx, int8, ctx.current, c.inputScale), weightValue(ctx, int8, [N, K])];
  if (c.bias) inputs.push(ctx.initializer(`${ctx.prefix}bias`, [N], ctx.param('bias')));
  ctx.current = ctx.node('Gemm', inputs, [{ name: 'transB', int: 1 }]);
  ctx.shape = [N];
  activation(ctx, c);
}

/**
 * Writes a QuantizedConv2d. int8 with a calibrated input scale: QuantizeLinear/DequantizeLinear on the input and a
 * per-output-channel DequantizeLinear (axis 0) on the weights around a Conv. int8 with dynamic scales (each image
 * scaled by its own max |x|): the images reshaped to rows [batch, C * H * W], quantised per row as QuantizedLinear's
 * inputs are, and reshaped back before the same Conv. bf16: a Conv on the bfloat16 weights and the input rounded to
 * bfloat16. A fused max pooling follows the activation as a MaxPool.
 * @param ctx - the exporter's context (its current value is the layer's [batch, inChannels, height, width] input).
 * @param c - the layer's config.
 * @throws Error for an input that is not [batch, inChannels, height, width] (or smaller than the kernel) or an
 * activation without a QDQ form.
 */
export function writeQdqConv(ctx: OnnxExportContext, c: QdqConvConfig): void {
  const where = `onnx.exportModel: ${ctx.where} (QuantizedConv2d)`;
  const int8 = begin(ctx, 'QuantizedConv2d', c);
  if (ctx.shape.length !== 3 || ctx.shape[0] !== c.inChannels) {
    throw new Error(`${where}: the input must be [batch, ${c.inChannels}, height, width], got per-sample shape [${ctx.shape.join(',')}] (set inputShape)`);
  }
  const [kh, kw] = c.kernelSize, [sh, sw] = c.stride, [ph, pw] = c.padding, [dh, dw] = c.dilation;
  const [C, H, W] = ctx.shape;
  const OH = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  if (OH < 1 || OW < 1) throw new Error(`${where}: the input [${ctx.shape.join(',')}] is smaller than the kernel (output ${OH}x${OW})`);
  const OC = c.outChannels;
  const attrs = [
    { name: 'kernel_shape', ints: [kh, kw] },
    { name: 'strides', ints: [sh, sw] },
    { name: 'pads', ints: [ph, pw, ph, pw] },
    { name: 'dilations', ints: [dh, dw] },
  ];
  const bias = c.bias ? [ctx.initializer(`${ctx.prefix}bias`, [OC], ctx.param('bias'))] : [];
  let x = ctx.current;
  if (int8 !== null && c.inputScale === 0) {
    // Dynamic: one scale per image. The image as one row [batch, C * H * W], quantised per row, then back to NCHW.
    const rows = ctx.node('Reshape', [x, ctx.ints(`${ctx.prefix}image_rows_shape`, [-1, C * H * W])], [], 'each image as one row: a dynamic scale per image');
    x = ctx.node('Reshape', [inputValue(ctx, int8, rows, 0), ctx.ints(`${ctx.prefix}image_shape`, [-1, C, H, W])]);
  } else {
    x = inputValue(ctx, int8, x, c.inputScale);
  }
  ctx.current = ctx.node('Conv', [x, weightValue(ctx, int8, [OC, C, kh, kw]), ...bias], attrs);
  ctx.shape = [OC, OH, OW];
  activation(ctx, c);
  const pool = c.pool ?? null;
  if (pool !== null) {
    if (pool[0] > OH || pool[1] > OW) throw new Error(`${where}: the output ${OH}x${OW} is smaller than the pool window ${pool[0]}x${pool[1]}`);
    ctx.chain('MaxPool', [{ name: 'kernel_shape', ints: [pool[0], pool[1]] }, { name: 'strides', ints: [pool[2], pool[3]] }], 'the max pooling fused into the layer');
    ctx.shape = [OC, Math.floor((OH - pool[0]) / pool[2]) + 1, Math.floor((OW - pool[1]) / pool[3]) + 1];
  }
}
