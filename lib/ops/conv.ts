// Convolution ops on NCHW tensors: conv2d (and conv1d as conv2d with H = 1), forward and backward side by side.
import { getBackend } from '../backend/select';
import { isTracing, needsGrad, record } from '../autograd';
import { gradBuffer, outputBuffer } from '../buffer-pool';
import { Tensor, shapeToString } from '../tensor-core';
import { checkTensor, invalid } from '../validate';
import { intoLeafGrad, zeroedGradBuffer } from './linear';
import { reshape } from './shape';
import { narrow } from './view';
import { activate } from './activation';
import type { Activation } from '../backend/contract';

/** A size given once for both spatial axes, or as [height, width]. */
export type Size2 = number | readonly [number, number];

/** Options of ops.conv2d: stride, padding (numbers, pairs, 'same' or 'valid'), dilation and groups. */
export interface Conv2dOptions {
  /** Default 1. */
  stride?: Size2;
  /** Zero padding on each side (default 0); 'valid' = 0; 'same' keeps the size (stride 1 only). */
  padding?: Size2 | 'same' | 'valid';
  /** Default 1. */
  dilation?: Size2;
  /** Input and output channels split into this many groups (default 1; = channels: depthwise). */
  groups?: number;
}

/** Options of ops.conv1d: stride (default 1), padding (a number, 'same' or 'valid'; default 0), dilation, groups. */
export interface Conv1dOptions {
  stride?: number;
  padding?: number | 'same' | 'valid';
  dilation?: number;
  groups?: number;
}

const GEOM_LEN = 15; // lib/backend/js/conv.ts, native/kernels/conv.h

/** Reads a Size2 option as [h, w] of integers >= min. */
export function pair(where: string, name: string, v: unknown, min: number): [number, number] {
  const ok = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= min;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
  return invalid(where, name, `an integer >= ${min} or a pair [h, w] of them`, v);
}

/** Reads an integer option >= min. */
export function intOf(where: string, name: string, v: unknown, min: number): number {
  if (Number.isSafeInteger(v) && (v as number) >= min) return v as number;
  return invalid(where, name, `an integer >= ${min}`, v);
}

/** Geometry arrays by their values (kernels only read them), so a training step allocates none. */
const geometries = new Map<string, Int32Array>();

/** The geometry array the conv/pool kernels take (shared: never write to it). */
export function geometry(
  C: number, H: number, W: number, OC: number, OH: number, OW: number, kh: number, kw: number,
  s: readonly number[], p: readonly number[], d: readonly number[], groups: number,
): Int32Array {
  const values = [C, H, W, OC, OH, OW, kh, kw, s[0], s[1], p[0], p[1], d[0], d[1], groups];
  const key = values.join();
  let g = geometries.get(key);
  if (g === undefined) {
    if (geometries.size >= 256) geometries.clear();
    g = new Int32Array(GEOM_LEN);
    g.set(values);
    geometries.set(key, g);
  }
  return g;
}

/**
 * An activation applied to the convolution's output in the kernel's output pass (the planner's fused
 * Conv + activation); recorded, its backward runs before the convolution's.
 */
export interface ConvEpilogue {
  act: Activation;
  alpha: number;
  /**
   * The gradient that reaches the output is already zero wherever the ReLU's output is not > 0 (its only reader,
   * maxPool2dAfterRelu, applied the mask): the ReLU's backward is skipped. relu only; conv2dReluMaxPool2d sets it.
   */
  gradMasked?: boolean;
}

/**
 * 2-d convolution (cross-correlation, as PyTorch): x [N, C, H, W], weight [OC, C/groups, KH, KW],
 * bias [OC] or null; returns [N, OC, OH, OW], OH = floor((H + 2 * padH - dilationH * (KH - 1) - 1) / strideH) + 1
 * (likewise OW). Differentiable in x, weight and bias.
 * @param x the input, a Tensor [N, C, H, W].
 * @param weight the filters, a Tensor [OC, C / groups, KH, KW].
 * @param bias a Tensor [OC], or null (default) for none.
 * @param options stride (default 1), padding (a number or pair, 'valid' = 0, or 'same': output size = input size,
 * stride 1 only; default 0), dilation (default 1), groups (default 1). Numbers apply to both axes, pairs are [h, w].
 * @param epilogue an activation run on the output inside the kernel (the planner's fused Conv + activation), or
 * null (default).
 * @returns a Tensor [N, OC, OH, OW].
 * @throws Error when x, weight or bias is not a Tensor, options is not an object, x or weight is not 4-D, C differs
 * from weight's in-channels times groups, OC is not divisible by groups, bias is not [OC], stride, dilation or
 * padding is not a (pair of) positive (padding: non-negative) integer(s), 'same' is asked with a stride other than 1,
 * or the input is smaller than the dilated kernel.
 * @example ops.conv2d(randn([1, 3, 32, 32]), randn([8, 3, 3, 3]), null, { padding: 1 }).shape // [1, 8, 32, 32]
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}, epilogue: ConvEpilogue | null = null): Tensor {
  const where = 'conv2d';
  checkTensor(where, 'input', x);
  checkTensor(where, 'weight', weight);
  if (bias !== null) checkTensor(where, 'bias (or null)', bias);
  if (options === null || typeof options !== 'object') invalid(where, 'options', 'an object', options);
  if (weight.ndim !== 4) throw new Error(`conv2d: weight must be 4-D [out, in/groups, kh, kw], got ${shapeToString(weight.shape)}`);
  if (x.ndim !== 4) throw new Error(`conv2d: input must be 4-D [batch, channels, height, width], got ${shapeToString(x.shape)}`);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) invalid(where, 'groups', 'an integer >= 1', groups);
  const [N, C, H, W] = x.shape;
  const [OC, Cg, KH, KW] = weight.shape;
  if (C !== Cg * groups) {
    throw new Error(`conv2d: input has ${C} channels, weight ${shapeToString(weight.shape)} with groups ${groups} expects ${Cg * groups}`);
  }
  if (OC % groups !== 0) throw new Error(`conv2d: out channels ${OC} are not divisible by groups ${groups}`);
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== OC)) {
    throw new Error(`conv2d: bias shape ${shapeToString(bias.shape)} does not match weight ${shapeToString(weight.shape)} (expected [${OC}])`);
  }
  const stride = pair(where, 'stride', options.stride ?? 1, 1);
  const dilation = pair(where, 'dilation', options.dilation ?? 1, 1);
  const padOpt = options.padding ?? 0;
  // 'same': total padding d*(k-1) per axis; an odd total pads one more on the right/bottom (as
  // PyTorch), done here by padding the larger side on both and dropping the first output row/column.
  let pad: [number, number];
  let crop = [false, false];
  if (padOpt === 'valid') pad = [0, 0];
  else if (padOpt === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1) invalid(where, 'padding', "a number when stride is not 1 ('same' needs stride 1)", padOpt);
    const total = [dilation[0] * (KH - 1), dilation[1] * (KW - 1)];
    pad = [Math.ceil(total[0] / 2), Math.ceil(total[1] / 2)];
    crop = [total[0] % 2 === 1, total[1] % 2 === 1];
  } else pad = pair(where, 'padding', padOpt, 0);
  const OH = Math.floor((H + 2 * pad[0] - dilation[0] * (KH - 1) - 1) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * pad[1] - dilation[1] * (KW - 1) - 1) / stride[1]) + 1;
  if (OH < 1 || OW < 1) {
    throw new Error(
      `conv2d: input ${shapeToString(x.shape)} is smaller than the kernel ${KH}x${KW} (dilation ${dilation.join('x')}, padding ${pad.join('x')})`,
    );
  }
  // The activation commutes with the 'same' crop. With gradients, only relu and leakyRelu (whose backward
  // reads the output alone) run in the kernel; others run as their own op after it.
  // While an op tracer runs (ONNX export), the activation is its own op, as the tracer expects.
  const fuse = epilogue !== null && !isTracing() && (!needsGrad(x, weight, bias) || epilogue.act === 'relu' || epilogue.act === 'leakyRelu');
  const out = conv2dRaw(x, weight, bias, [N, C, H, W, OC, OH, OW, KH, KW], stride, pad, dilation, groups, fuse ? epilogue : null);
  let y = out;
  if (crop[0]) y = narrow(y, 2, 1, OH - 1);
  if (crop[1]) y = narrow(y, 3, 1, OW - 1);
  return epilogue !== null && !fuse ? activate(y, epilogue.act, epilogue.alpha) : y;
}

function conv2dRaw(
  x: Tensor, weight: Tensor, bias: Tensor | null, dims: number[], stride: number[], pad: number[], dilation: number[], groups: number,
  epilogue: ConvEpilogue | null,
): Tensor {
  const [N, C, H, W, OC, OH, OW, KH, KW] = dims;
  const geom = geometry(C, H, W, OC, OH, OW, KH, KW, stride, pad, dilation, groups);
  const inPlane = H * W;
  const outPlane = OH * OW;
  const kArea = (C / groups) * KH * KW;
  const backend = getBackend();
  const y = outputBuffer(N * OC * outPlane);
  const G = GEOM_LEN;
  if (N > 0) {
    backend.conv2dForward({
      N, C, OC, inPlane, outPlane, kArea, G, geom, X: x.data, W: weight.data, bias: bias ? bias.data : null,
      act: epilogue ? epilogue.act : 'none', alpha: epilogue ? epilogue.alpha : 0, out: y,
    });
  }
  const out = new Tensor(y, [N, OC, OH, OW]);
  if (!needsGrad(x, weight, bias)) return out;
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, 'conv2d', inputs, (gOut) => {
    let g = gOut;
    if (epilogue !== null && !(epilogue.gradMasked === true && epilogue.act === 'relu')) {
      // The fused activation's backward first (relu / leakyRelu: from the output alone).
      g = gradBuffer(y.length);
      if (y.length > 0) backend.activationBackward(epilogue.act, y.length, y, y, gOut, g, epilogue.alpha);
    }
    const wInto = intoLeafGrad(weight);
    const bInto = bias ? intoLeafGrad(bias) : null;
    const dX = x.requiresGrad ? gradBuffer(N * C * inPlane) : null;
    const dW = weight.requiresGrad ? (wInto ?? zeroedGradBuffer(OC * kArea)) : null;
    const dB = bias && bias.requiresGrad ? (bInto ?? zeroedGradBuffer(OC)) : null;
    if (N > 0) {
      backend.conv2dBackward({
        N, C, OC, inPlane, outPlane, kArea, G, geom, X: x.data, W: weight.data, dY: g, dX, dW, dB, accumulate: true,
      });
    } else if (dX) dX.fill(0);
    const gW = dW && !wInto ? dW : null;
    const gB = dB && !bInto ? dB : null;
    return bias ? [dX, gW, gB] : [dX, gW];
  });
}

/**
 * 1-d convolution: x [N, C, L], weight [OC, C/groups, K]; conv2d with a height of 1. Returns [N, OC, OL],
 * OL = floor((L + 2 * padding - dilation * (K - 1) - 1) / stride) + 1.
 * @param x the input, a Tensor [N, C, L].
 * @param weight the filters, a Tensor [OC, C / groups, K].
 * @param bias a Tensor [OC], or null (default) for none.
 * @param options stride (default 1), padding (a number, 'valid' = 0, or 'same', stride 1 only; default 0),
 * dilation (default 1), groups (default 1): numbers, not pairs.
 * @param epilogue an activation run on the output inside the kernel, or null (default).
 * @returns a Tensor [N, OC, OL].
 * @throws Error when x or weight is not a 3-D Tensor, options is not an object, stride or dilation is an array,
 * and for the conditions conv2d checks (channels and groups, bias shape, sizes, input shorter than the kernel).
 * @example ops.conv1d(randn([2, 4, 100]), randn([8, 4, 5])).shape // [2, 8, 96]
 */
export function conv1d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv1dOptions = {}, epilogue: ConvEpilogue | null = null): Tensor {
  checkTensor('conv1d', 'input', x);
  checkTensor('conv1d', 'weight', weight);
  if (x.ndim !== 3) throw new Error(`conv1d: input must be 3-D [batch, channels, length], got ${shapeToString(x.shape)}`);
  if (weight.ndim !== 3) throw new Error(`conv1d: weight must be 3-D [out, in/groups, k], got ${shapeToString(weight.shape)}`);
  if (options === null || typeof options !== 'object') invalid('conv1d', 'options', 'an object', options);
  const one = (name: string, v: unknown, min: number): [number, number] => [1, pair('conv1d', name, v, min)[1]];
  const padding = options.padding ?? 0;
  const pad2 = padding === 'same' || padding === 'valid' ? padding : ([0, pair('conv1d', 'padding', padding, 0)[1]] as [number, number]);
  for (const name of ['stride', 'dilation'] as const) {
    if (Array.isArray(options[name])) invalid('conv1d', name, 'an integer (conv1d takes one number, not a pair)', options[name]);
  }
  const y = conv2d(
    reshape(x, [x.shape[0], x.shape[1], 1, x.shape[2]]),
    reshape(weight, [weight.shape[0], weight.shape[1], 1, weight.shape[2]]),
    bias,
    { stride: one('stride', options.stride ?? 1, 1), dilation: one('dilation', options.dilation ?? 1, 1), padding: pad2, groups: options.groups },
    epilogue,
  );
  return reshape(y, [y.shape[0], y.shape[1], y.shape[3]]);
}
