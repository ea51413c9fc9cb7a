// Pooling ops on NCHW tensors: max and average pooling (2-d, and 1-d as 2-d with H = 1), adaptive average pooling.
import { getBackend } from '../backend/select';
import { needsGrad, record } from '../autograd';
import { gradBuffer, outputBuffer } from '../buffer-pool';
import { Tensor, shapeToString } from '../tensor-core';
import { checkBoolean, checkTensor, invalid } from '../validate';
import { geometry, pair, type Size2 } from './conv';
import { reshape } from './shape';

/** Options of the 2-D pooling ops: stride (default the kernel size) and padding (default 0). */
export interface Pool2dOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  /** Implicit padding on each side, at most half the kernel (default 0). Max pooling pads with -Infinity. */
  padding?: Size2;
  /** Max pooling only (default 1). */
  dilation?: Size2;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
  /** Average pooling only: divide by the whole window, padding included (default true, as PyTorch). */
  countIncludePad?: boolean;
}

/** Options of the 1-D pooling ops: stride (default the kernel size) and padding (default 0). */
export interface Pool1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

/** Output size of one pooled axis (PyTorch's rule: in ceil mode the last window must start inside the input or left padding). */
export function poolOutSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = n + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}

interface PoolGeometry {
  N: number; C: number; H: number; W: number; OH: number; OW: number; geom: Int32Array;
}

function poolGeometry(where: string, x: Tensor, kernelSize: Size2, options: Pool2dOptions, max: boolean): PoolGeometry {
  checkTensor(where, 'input', x);
  if (x.ndim !== 4) throw new Error(`${where}: input must be 4-D [batch, channels, height, width], got ${shapeToString(x.shape)}`);
  if (options === null || typeof options !== 'object') invalid(where, 'options', 'an object', options);
  const k = pair(where, 'kernelSize', kernelSize, 1);
  const s = pair(where, 'stride', options.stride ?? k, 1);
  const p = pair(where, 'padding', options.padding ?? 0, 0);
  const d = pair(where, 'dilation', options.dilation ?? 1, 1);
  if (!max && (d[0] !== 1 || d[1] !== 1)) invalid(where, 'dilation', '1 (average pooling has no dilation)', options.dilation);
  if (2 * p[0] > k[0] || 2 * p[1] > k[1]) {
    invalid(where, 'padding', `at most half the kernel size ${k.join('x')}`, options.padding);
  }
  const ceil = options.ceilMode === undefined ? false : checkBoolean(where, 'ceilMode', options.ceilMode);
  const [N, C, H, W] = x.shape;
  const OH = poolOutSize(H, k[0], s[0], p[0], d[0], ceil);
  const OW = poolOutSize(W, k[1], s[1], p[1], d[1], ceil);
  if (OH < 1 || OW < 1) {
    throw new Error(`${where}: input ${shapeToString(x.shape)} is smaller than the window ${k.join('x')} (padding ${p.join('x')}, dilation ${d.join('x')})`);
  }
  return { N, C, H, W, OH, OW, geom: geometry(1, H, W, 1, OH, OW, k[0], k[1], s, p, d, 1) };
}

let argmaxScratch = new Int32Array(0);
/** Argmax arrays kept for a backward pass, returned after it runs (no allocation per training step). */
const freeArgmax = new Map<number, Int32Array[]>();
function takeArgmax(n: number): Int32Array {
  return freeArgmax.get(n)?.pop() ?? new Int32Array(n);
}
function giveArgmax(a: Int32Array): void {
  const list = freeArgmax.get(a.length);
  if (list === undefined) freeArgmax.set(a.length, [a]);
  else if (list.length < 8) list.push(a);
}

/**
 * 2-d max pooling of x [N, C, H, W] over kernelSize windows (padding counts as -Infinity). Output
 * OH = floor((H + 2 * padH - dilationH * (KH - 1) - 1) / strideH) + 1 (ceil with ceilMode), likewise OW.
 * @param x a Tensor [N, C, H, W].
 * @param kernelSize the window, a positive integer or a pair [KH, KW].
 * @param options stride (default the kernel size), padding (at most half the kernel, default 0), dilation
 * (default 1), ceilMode (default false).
 * @returns a Tensor [N, C, OH, OW].
 * @throws Error when x is not a 4-D Tensor, options is not an object, a size is not a positive integer or pair of
 * them (padding: non-negative), padding exceeds half the kernel, ceilMode is not a boolean, or the input is
 * smaller than the window.
 * @example ops.maxPool2d(randn([1, 3, 32, 32]), 2).shape // [1, 3, 16, 16]
 */
export function maxPool2d(x: Tensor, kernelSize: Size2, options: Pool2dOptions = {}): Tensor {
  return maxPool2dWith(x, kernelSize, options, false);
}

/**
 * maxPool2d of x = relu(.) whose backward also applies the ReLU's mask (maxPool2dReluBackward: the gradient is zero
 * wherever x is not > 0, read from the pooled maxima), for conv2dReluMaxPool2d (lib/ops/conv-pool.ts), whose
 * convolution then skips its ReLU's backward. Only for an x that nothing else reads.
 */
export function maxPool2dAfterRelu(x: Tensor, kernelSize: Size2, options: Pool2dOptions = {}): Tensor {
  return maxPool2dWith(x, kernelSize, options, true);
}

function maxPool2dWith(x: Tensor, kernelSize: Size2, options: Pool2dOptions, reluMask: boolean): Tensor {
  const { N, C, H, W, OH, OW, geom } = poolGeometry('maxPool2d', x, kernelSize, options, true);
  const NC = N * C;
  const inPlane = H * W;
  const outPlane = OH * OW;
  const outTotal = NC * outPlane;
  const tracked = needsGrad(x);
  let argmax: Int32Array;
  if (tracked) argmax = takeArgmax(outTotal);
  else {
    if (argmaxScratch.length < outTotal) argmaxScratch = new Int32Array(outTotal);
    argmax = argmaxScratch.subarray(0, outTotal);
  }
  const y = outputBuffer(outTotal);
  const backend = getBackend();
  if (NC > 0) backend.maxPool2dForward({ NC, inPlane, outPlane, outTotal, G: geom.length, geom, X: x.data, out: y, argmax });
  const out = new Tensor(y, [N, C, OH, OW]);
  if (!tracked) return out;
  return record(out, 'maxPool2d', [x], (g) => {
    const dX = gradBuffer(NC * inPlane);
    if (NC > 0 && reluMask) backend.maxPool2dReluBackward({ NC, inPlane, outPlane, outTotal, argmax, pooled: y, dY: g, dX });
    else if (NC > 0) backend.maxPool2dBackward({ NC, inPlane, outPlane, outTotal, argmax, dY: g, dX });
    giveArgmax(argmax);
    return [dX];
  });
}

/**
 * 2-d average pooling of x [N, C, H, W] over kernelSize windows. Output OH = floor((H + 2 * padH - KH) / strideH) + 1
 * (ceil with ceilMode), likewise OW.
 * @param x a Tensor [N, C, H, W].
 * @param kernelSize the window, a positive integer or a pair [KH, KW].
 * @param options stride (default the kernel size), padding (at most half the kernel, default 0), ceilMode (default
 * false), countIncludePad (divide by the whole window, padding included; default true). No dilation.
 * @returns a Tensor [N, C, OH, OW].
 * @throws Error when x is not a 4-D Tensor, options is not an object, a size is not a positive integer or pair of
 * them (padding: non-negative), padding exceeds half the kernel, dilation is not 1, ceilMode or countIncludePad is
 * not a boolean, or the input is smaller than the window.
 * @example ops.avgPool2d(randn([1, 3, 32, 32]), 2).shape // [1, 3, 16, 16]
 */
export function avgPool2d(x: Tensor, kernelSize: Size2, options: Pool2dOptions = {}): Tensor {
  const { N, C, H, W, OH, OW, geom } = poolGeometry('avgPool2d', x, kernelSize, options, false);
  const countIncludePad = options.countIncludePad === undefined ? true : checkBoolean('avgPool2d', 'countIncludePad', options.countIncludePad);
  const NC = N * C;
  const inPlane = H * W;
  const outPlane = OH * OW;
  const y = outputBuffer(NC * outPlane);
  const backend = getBackend();
  const G = geom.length;
  if (NC > 0) backend.avgPool2dForward({ NC, inPlane, outPlane, G, geom, countIncludePad, X: x.data, out: y });
  const out = new Tensor(y, [N, C, OH, OW]);
  if (!needsGrad(x)) return out;
  return record(out, 'avgPool2d', [x], (g) => {
    const dX = gradBuffer(NC * inPlane);
    if (NC > 0) backend.avgPool2dBackward({ NC, inPlane, outPlane, G, geom, countIncludePad, dY: g, dX });
    return [dX];
  });
}

function pool1d(where: string, fn: typeof maxPool2d, x: Tensor, kernelSize: number, options: Pool1dOptions): Tensor {
  checkTensor(where, 'input', x);
  if (x.ndim !== 3) throw new Error(`${where}: input must be 3-D [batch, channels, length], got ${shapeToString(x.shape)}`);
  if (options === null || typeof options !== 'object') invalid(where, 'options', 'an object', options);
  const one = (name: string, v: unknown, min: number): [number, number] => [min === 0 ? 0 : 1, pair(where, name, v, min)[1]];
  const k = one('kernelSize', kernelSize, 1);
  const y = fn(reshape(x, [x.shape[0], x.shape[1], 1, x.shape[2]]), k, {
    stride: one('stride', options.stride ?? k[1], 1),
    padding: one('padding', options.padding ?? 0, 0),
    dilation: one('dilation', options.dilation ?? 1, 1),
    ceilMode: options.ceilMode,
    countIncludePad: options.countIncludePad,
  });
  return reshape(y, [y.shape[0], y.shape[1], y.shape[3]]);
}

/**
 * 1-d max pooling of x [N, C, L] (maxPool2d with a height of 1).
 * @param x a Tensor [N, C, L].
 * @param kernelSize the window length, a positive integer.
 * @param options stride (default the kernel size), padding (at most half the kernel, default 0), dilation
 * (default 1), ceilMode (default false): numbers.
 * @returns a Tensor [N, C, OL], OL = floor((L + 2 * padding - dilation * (kernelSize - 1) - 1) / stride) + 1.
 * @throws Error when x is not a 3-D Tensor, options is not an object, or for the conditions maxPool2d checks.
 * @example ops.maxPool1d(randn([2, 4, 100]), 2).shape // [2, 4, 50]
 */
export function maxPool1d(x: Tensor, kernelSize: number, options: Pool1dOptions = {}): Tensor {
  return pool1d('maxPool1d', maxPool2d, x, kernelSize, options);
}

/**
 * 1-d average pooling of x [N, C, L] (avgPool2d with a height of 1).
 * @param x a Tensor [N, C, L].
 * @param kernelSize the window length, a positive integer.
 * @param options stride (default the kernel size), padding (at most half the kernel, default 0), ceilMode
 * (default false), countIncludePad (default true): numbers and booleans.
 * @returns a Tensor [N, C, OL], OL = floor((L + 2 * padding - kernelSize) / stride) + 1.
 * @throws Error when x is not a 3-D Tensor, options is not an object, or for the conditions avgPool2d checks.
 * @example ops.avgPool1d(randn([2, 4, 100]), 4).shape // [2, 4, 25]
 */
export function avgPool1d(x: Tensor, kernelSize: number, options: Pool1dOptions = {}): Tensor {
  return pool1d('avgPool1d', avgPool2d, x, kernelSize, options);
}

/** PyTorch's adaptive bins of an axis of n into o: [floor(i n / o), ceil((i + 1) n / o)). */
function bins(n: number, o: number): Int32Array {
  const b = new Int32Array(2 * o);
  for (let i = 0; i < o; i++) {
    b[2 * i] = Math.floor((i * n) / o);
    b[2 * i + 1] = Math.ceil(((i + 1) * n) / o);
  }
  return b;
}

/**
 * Adaptive average pooling of x [N, C, H, W] to outputSize (1 for global pooling): output (i, j) averages
 * PyTorch's bin, rows [floor(i H / OH), ceil((i + 1) H / OH)) and likewise columns. Differentiable.
 * @param x a Tensor [N, C, H, W], H and W at least 1.
 * @param outputSize OH and OW: a positive integer (both) or a pair [OH, OW].
 * @returns a Tensor [N, C, OH, OW].
 * @throws Error when x is not a 4-D Tensor, has an empty spatial axis, or outputSize is not a positive integer or
 * a pair of them.
 * @example ops.adaptiveAvgPool2d(randn([2, 16, 7, 7]), 1).shape // [2, 16, 1, 1]
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2): Tensor {
  const where = 'adaptiveAvgPool2d';
  checkTensor(where, 'input', x);
  if (x.ndim !== 4) throw new Error(`${where}: input must be 4-D [batch, channels, height, width], got ${shapeToString(x.shape)}`);
  const [OH, OW] = pair(where, 'outputSize', outputSize, 1);
  const [N, C, H, W] = x.shape;
  if (H < 1 || W < 1) throw new Error(`${where}: input ${shapeToString(x.shape)} has an empty spatial axis`);
  const bh = bins(H, OH);
  const bw = bins(W, OW);
  const NC = N * C;
  const inPlane = H * W;
  const outPlane = OH * OW;
  const y = outputBuffer(NC * outPlane);
  const xd = x.data;
  for (let pl = 0; pl < NC; pl++) {
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        let s = 0;
        for (let h = bh[2 * i]; h < bh[2 * i + 1]; h++) {
          const r = pl * inPlane + h * W;
          for (let w = bw[2 * j]; w < bw[2 * j + 1]; w++) s += xd[r + w];
        }
        y[pl * outPlane + i * OW + j] = s / ((bh[2 * i + 1] - bh[2 * i]) * (bw[2 * j + 1] - bw[2 * j]));
      }
    }
  }
  const out = new Tensor(y, [N, C, OH, OW]);
  if (!needsGrad(x)) return out;
  return record(out, where, [x], (g) => {
    const dX = gradBuffer(NC * inPlane).fill(0);
    for (let pl = 0; pl < NC; pl++) {
      for (let i = 0; i < OH; i++) {
        for (let j = 0; j < OW; j++) {
          const v = g[pl * outPlane + i * OW + j] / ((bh[2 * i + 1] - bh[2 * i]) * (bw[2 * j + 1] - bw[2 * j]));
          for (let h = bh[2 * i]; h < bh[2 * i + 1]; h++) {
            const r = pl * inPlane + h * W;
            for (let w = bw[2 * j]; w < bw[2 * j + 1]; w++) dX[r + w] += v;
          }
        }
      }
    }
    return [dX];
  });
}
