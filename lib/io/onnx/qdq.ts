// ONNX export of quantised layers in QDQ form: the int8 weights as an INT8 initializer read through a per-channel
// DequantizeLinear (axis 0), the input through QuantizeLinear -> DequantizeLinear (the calibrated scale, or a scale
// per row computed in the graph: ReduceMax(Abs(x)) / 127), then Gemm (transB) with the float32 bias and the fused
// activation. onnxruntime recognises the pattern (DQ -> Gemm) and may run it on its int8 kernels.
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

/** The smallest per-row scale the graph uses (a row of zeros quantises to zeros instead of 0 / 0). */
const MIN_ROW_SCALE = 1e-30;
/** TensorProto.DataType INT8, for Cast. */
const ONNX_INT8 = 3;

/**
 * Writes a QuantizedLinear (int8) as QuantizeLinear/DequantizeLinear nodes around a Gemm.
 * @param ctx - the exporter's context (its current value is the layer's [batch, inFeatures] input).
 * @param c - the layer's config.
 * @throws Error for bf16 layers, an input that is not [batch, inFeatures], or an activation without a QDQ form.
 */
export function writeQdqLinear(ctx: OnnxExportContext, c: QdqLinearConfig): void {
  const fail = (why: string): never => {
    throw new Error(`onnx.exportModel: ${ctx.where} (QuantizedLinear): ${why}`);
  };
  if (c.dtype !== 'int8') fail('bf16 layers have no QDQ form in ONNX; export the float32 model instead');
  if (ctx.int8Initializer === undefined) fail('this exporter writes no int8 initializers');
  if (ctx.shape.length !== 1 || ctx.shape[0] !== c.inFeatures) fail(`the input must be [batch, ${c.inFeatures}], got per-sample shape [${ctx.shape.join(',')}]`);
  if (!['none', 'relu', 'leakyRelu', 'sigmoid', 'tanh'].includes(c.activation)) fail(`activation '${c.activation}' has no QDQ export`);
  const int8 = ctx.int8Initializer!.bind(ctx);
  const N = c.outFeatures, K = c.inFeatures;
  // Weights: int8 values, per-output-channel scales, zero points 0.
  const w = ctx.param('weight');
  const wq = new Int8Array(N * K);
  for (let i = 0; i < wq.length; i++) wq[i] = w[i];
  const wName = int8(`${ctx.prefix}weight_quantized`, [N, K], wq);
  const wScale = ctx.initializer(`${ctx.prefix}weight_scale`, [N], ctx.param('weightScale'));
  const wZero = int8(`${ctx.prefix}weight_zero_point`, [N], new Int8Array(N));
  const weight = ctx.node('DequantizeLinear', [wName, wScale, wZero], [{ name: 'axis', int: 0 }], 'per-output-channel int8 weights');
  // Input: one calibrated scale, or one scale per row computed from the row.
  let xq: string, xd: string;
  if (c.inputScale > 0) {
    const s = ctx.scalar(`${ctx.prefix}input_scale`, c.inputScale);
    const z = int8(`${ctx.prefix}input_zero_point`, [], new Int8Array(1));
    xq = ctx.node('QuantizeLinear', [ctx.current, s, z], [], 'calibrated input scale');
    xd = ctx.node('DequantizeLinear', [xq, s, z]);
  } else {
    const absMax = ctx.node('ReduceMax', [ctx.node('Abs', [ctx.current])], [{ name: 'axes', ints: [1] }, { name: 'keepdims', int: 0 }]);
    const scale = ctx.node('Max', [ctx.node('Div', [absMax, ctx.scalar(`${ctx.prefix}int8_max`, 127)]), ctx.scalar(`${ctx.prefix}min_scale`, MIN_ROW_SCALE)], [], 'per-row input scale: max |x| / 127');
    const zero = ctx.node('Cast', [ctx.node('Mul', [scale, ctx.scalar(`${ctx.prefix}zero`, 0)])], [{ name: 'to', int: ONNX_INT8 }]);
    xq = ctx.node('QuantizeLinear', [ctx.current, scale, zero], [{ name: 'axis', int: 0 }], 'dynamic per-row input scale');
    xd = ctx.node('DequantizeLinear', [xq, scale, zero], [{ name: 'axis', int: 0 }]);
  }
  const inputs = [xd, weight];
  if (c.bias) inputs.push(ctx.initializer(`${ctx.prefix}bias`, [N], ctx.param('bias')));
  ctx.current = ctx.node('Gemm', inputs, [{ name: 'transB', int: 1 }]);
  ctx.shape = [N];
  if (c.activation === 'relu') ctx.chain('Relu');
  else if (c.activation === 'leakyRelu') ctx.chain('LeakyRelu', [{ name: 'alpha', float: c.alpha }]);
  else if (c.activation === 'sigmoid') ctx.chain('Sigmoid');
  else if (c.activation === 'tanh') ctx.chain('Tanh');
}
