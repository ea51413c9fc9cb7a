// Conv2d -> ReLU -> MaxPool2d as one op for training (Sequential runs its layers so): the pooling's backward applies
// the ReLU's mask as it scatters (maxPool2dReluBackward), and the convolution skips its ReLU's backward, which saves a
// pass over the convolution's whole output (the largest activation of a CNN). Same values and gradients, bit for bit,
// as conv2d with a ReLU then maxPool2d.
// Also: inference-only Conv2d + activation + MaxPool2d as one kernel (conv2dMaxPoolForward), the planner's fused step (nn/plan.ts).
import { getBackend } from '../backend/select';
import { isTracing, needsGrad } from '../autograd';
import { outputBuffer } from '../buffer-pool';
import { Tensor } from '../tensor-core';
import { conv2d, geometry, type Conv2dOptions, type ConvEpilogue, type Size2 } from './conv';
import { maxPool2dAfterRelu, poolOutSize, type Pool2dOptions } from './pool';

const RELU_MASKED: ConvEpilogue = { act: 'relu', alpha: 0, gradMasked: true };

/**
 * maxPool2d(relu(conv2d(x, weight, bias, convOptions)), kernelSize, poolOptions), the ReLU's backward folded into
 * the pooling's. The intermediate convolution output is not returned, so nothing else can read its gradient.
 * @param x the input [N, C, H, W].
 * @param weight the filters [OC, C / groups, KH, KW].
 * @param bias [OC], or null.
 * @param convOptions the convolution's stride, padding, dilation and groups (as conv2d).
 * @param kernelSize the pooling window (as maxPool2d).
 * @param poolOptions the pooling's stride, padding, dilation and ceilMode (as maxPool2d).
 * @returns the pooled Tensor [N, OC, PH, PW].
 * @throws Error for the conditions conv2d and maxPool2d check.
 */
export function conv2dReluMaxPool2d(
  x: Tensor, weight: Tensor, bias: Tensor | null, convOptions: Conv2dOptions, kernelSize: Size2, poolOptions: Pool2dOptions,
): Tensor {
  return maxPool2dAfterRelu(conv2d(x, weight, bias, convOptions, RELU_MASKED), kernelSize, poolOptions);
}

type Pair = readonly [number, number];

/** One call's geometry, kept per pool settings object (a layer) for the next call with the same shapes. */
interface Geometry {
  conv: ConvSettings;
  shape: readonly number[];
  OH: number;
  OW: number;
  POH: number;
  POW: number;
  geom: Int32Array;
  pgeom: Int32Array;
}
const lastGeometry = new WeakMap<MaxPoolSettings, Geometry>();

/** The convolution and pooling geometry of x [N, C, H, W] and weight [OC, Cg, KH, KW], or null when a size does not fit. */
function geometryOf(x: Tensor, weight: Tensor, conv: ConvSettings, pool: MaxPoolSettings): Geometry | null {
  const [, C, H, W] = x.shape;
  const [OC, Cg, KH, KW] = weight.shape;
  const shape = [C, H, W, OC, Cg, KH, KW];
  const last = lastGeometry.get(pool);
  if (last !== undefined && last.conv === conv && last.shape.every((v, i) => v === shape[i])) return last;
  const { stride, dilation, groups } = conv;
  let pad: Pair;
  if (conv.padding === 'valid') pad = [0, 0];
  else if (conv.padding === 'same') {
    const total = [dilation[0] * (KH - 1), dilation[1] * (KW - 1)];
    if (total[0] % 2 === 1 || total[1] % 2 === 1) return null;
    pad = [total[0] / 2, total[1] / 2];
  } else pad = conv.padding;
  const OH = Math.floor((H + 2 * pad[0] - dilation[0] * (KH - 1) - 1) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * pad[1] - dilation[1] * (KW - 1) - 1) / stride[1]) + 1;
  if (C !== Cg * groups || OH < 1 || OW < 1) return null;
  const pk = pool.kernelSize, ps = pool.stride, pp = pool.padding, pd = pool.dilation;
  const POH = poolOutSize(OH, pk[0], ps[0], pp[0], pd[0], pool.ceilMode);
  const POW = poolOutSize(OW, pk[1], ps[1], pp[1], pd[1], pool.ceilMode);
  if (POH < 1 || POW < 1) return null;
  const g: Geometry = {
    conv, shape, OH, OW, POH, POW,
    geom: geometry(C, H, W, OC, OH, OW, KH, KW, stride, pad, dilation, groups),
    pgeom: geometry(1, OH, OW, 1, POH, POW, pk[0], pk[1], ps, pp, pd, 1),
  };
  lastGeometry.set(pool, g);
  return g;
}

/** A Conv2d's settings as the layer keeps them. */
export interface ConvSettings {
  stride: Pair;
  padding: Pair | 'same' | 'valid';
  dilation: Pair;
  groups: number;
}

/** A MaxPool2d's settings as the layer keeps them. */
export interface MaxPoolSettings {
  kernelSize: Pair;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  ceilMode: boolean;
}

/**
 * maxPool2d(act(conv2d(x, weight, bias))) by one kernel, the convolution's output never stored whole: the bits
 * of conv2d then maxPool2d. Returns null (the caller runs the layers) when gradients are wanted, while an op
 * tracer runs, for 'same' padding with an odd total (its crop), or when a size does not fit (the layers then say
 * what is wrong). x must be [N, C, H, W] with C = weight's in-channels times groups (the caller checks).
 * @param x the input [N, C, H, W].
 * @param weight the filters [OC, C / groups, KH, KW].
 * @param bias [OC] or null.
 * @param conv the convolution's stride, padding, dilation and groups.
 * @param epilogue the activation after the convolution (null: none).
 * @param pool the max pooling's window, stride, padding, dilation and ceil mode.
 * @returns [N, OC, POH, POW], or null.
 */
export function conv2dMaxPool(
  x: Tensor, weight: Tensor, bias: Tensor | null, conv: ConvSettings, epilogue: ConvEpilogue | null, pool: MaxPoolSettings,
): Tensor | null {
  if (isTracing() || needsGrad(x, weight, bias) || x.ndim !== 4 || weight.ndim !== 4) return null;
  const g = geometryOf(x, weight, conv, pool);
  if (g === null) return null;
  const [N, C, H, W] = x.shape;
  const [OC, Cg, KH, KW] = weight.shape;
  const { OH, OW, POH, POW, geom, pgeom } = g;
  const y = outputBuffer(N * OC * POH * POW);
  if (N > 0) {
    getBackend().conv2dMaxPoolForward({
      N, C, OC, inPlane: H * W, outPlane: OH * OW, kArea: Cg * KH * KW, poolPlane: POH * POW, G: geom.length, geom, pgeom,
      X: x.data, W: weight.data, bias: bias ? bias.data : null, act: epilogue ? epilogue.act : 'none', alpha: epilogue ? epilogue.alpha : 0, out: y,
    });
  }
  return new Tensor(y, [N, OC, POH, POW]);
}
