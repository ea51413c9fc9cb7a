// The training path of a Sequential's Conv2d -> ReLU -> MaxPool2d: one op whose pooling backward applies the ReLU's mask.
import type { Tensor } from '../tensor';
import type { Conv2dOptions } from '../ops/conv';
import { conv2dReluMaxPool2d } from '../ops/conv-pool';
import { Conv2d } from './conv';
import type { Module } from './module';
import { MaxPool2d } from './pool';
import { definitionOf } from './registry';

/** pool when it is a built-in MaxPool2d (not a subclass or a patched forward) that convReluPoolForward can take, else null. */
export function fusablePool(pool: Module | undefined): MaxPool2d | null {
  return pool instanceof MaxPool2d && definitionOf(pool) !== undefined ? pool : null;
}

/**
 * Training path of a Sequential's Conv2d -> ReLU -> MaxPool2d (built-in layers, not while tracing for ONNX): the
 * three as one op whose pooling backward applies the ReLU's mask (lib/ops/conv-pool.ts), the same bits as running
 * them one by one. For an input of the wrong shape, the layers run one by one (they say what is wrong).
 */
export function convReluPoolForward(conv: Conv2d, h: Tensor, pool: MaxPool2d): Tensor {
  if (h.ndim !== 4 || h.shape[1] !== conv.inChannels) return pool.forward(conv.forward(h));
  const opts = { stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups } as Conv2dOptions;
  return conv2dReluMaxPool2d(h, conv.weight, conv.bias, opts, pool.kernelSize, { stride: pool.stride, padding: pool.padding, dilation: pool.dilation, ceilMode: pool.ceilMode });
}
