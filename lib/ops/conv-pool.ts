// Conv2d -> ReLU -> MaxPool2d as one op for training (Sequential runs its layers so): the pooling's backward applies
// the ReLU's mask as it scatters (maxPool2dReluBackward), and the convolution skips its ReLU's backward, which saves a
// pass over the convolution's whole output (the largest activation of a CNN). Same values and gradients, bit for bit,
// as conv2d with a ReLU then maxPool2d.
import type { Tensor } from '../tensor-core';
import { conv2d, type Conv2dOptions, type ConvEpilogue, type Size2 } from './conv';
import { maxPool2dAfterRelu, type Pool2dOptions } from './pool';

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
