// Nearest-neighbour resizing of the trailing spatial dims of [N, C, ...] (torch.nn.functional.interpolate, mode 'nearest'): a gather forward, a scatter-add backward.
import { isTracing, record } from '../autograd';
import { Tensor, shapeToString } from '../tensor-core';
import { gradBuffer, outputBuffer } from '../buffer-pool';
import { checkTensor, invalid } from '../validate';

/**
 * Source index of each output position along one dim: min(floor(dst * ratio), inSize - 1) with ratio
 * 1 / scale (scale given) or inSize / outSize (size given), as PyTorch's nearest mode.
 */
export function nearestSourceIndex(inSize: number, outSize: number, scale: number | null): Int32Array {
  const idx = new Int32Array(outSize);
  const ratio = scale !== null ? Math.fround(1 / scale) : Math.fround(inSize / outSize);
  for (let d = 0; d < outSize; d++) {
    idx[d] = outSize === inSize ? d : Math.min(Math.floor(Math.fround(d * ratio)), inSize - 1);
  }
  return idx;
}

/**
 * Nearest upsampling of x [N, C, ...spatial] (1 to 3 spatial dims) to the spatial size `outSize`, as
 * PyTorch's interpolate(mode='nearest'): output index d reads input index min(floor(d * ratio), in - 1),
 * ratio = 1 / scale when `scales` is given, else in / out. Differentiable.
 * @param x a Tensor [N, C, L], [N, C, H, W] or [N, C, D, H, W].
 * @param outSize the output spatial size, one positive integer per spatial dimension of x.
 * @param scales the scale factor each size came from (one positive number per spatial dimension), or null
 * (default) to derive the ratio from the sizes.
 * @returns a Tensor [N, C, ...outSize].
 * @throws Error when x is not a Tensor, outSize does not have one value per spatial dimension (1 to 3), a size is
 * not a positive integer, or scales is neither null nor one positive finite number per spatial dimension.
 * @example ops.upsampleNearest(randn([1, 3, 8, 8]), [16, 16]).shape // [1, 3, 16, 16]
 */
export function upsampleNearest(x: Tensor, outSize: readonly number[], scales: readonly number[] | null = null): Tensor {
  const op = 'upsampleNearest';
  checkTensor(op, 'input', x);
  const k = outSize.length;
  if (k < 1 || k > 3 || x.ndim !== k + 2) {
    throw new Error(`${op}: input ${shapeToString(x.shape)} must be [N, C] followed by ${k} spatial dim(s) (1 to 3)`);
  }
  outSize.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 1) invalid(op, `outSize[${i}]`, 'a positive integer', d);
  });
  if (scales !== null && (!Array.isArray(scales) || scales.length !== k || !scales.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0))) {
    invalid(op, 'scales', `null or ${k} positive numbers (one scale factor per spatial dim)`, scales);
  }
  const inSpatial = x.shape.slice(2);
  const maps = outSize.map((o, i) => nearestSourceIndex(inSpatial[i], o, scales === null ? null : scales[i]));
  // Flat source offset of each output position within one (n, c) plane.
  const [o0, o1, o2] = [outSize[0], outSize[1] ?? 1, outSize[2] ?? 1];
  const [i1, i2] = [inSpatial[1] ?? 1, inSpatial[2] ?? 1];
  const plane = o0 * o1 * o2;
  const src = new Int32Array(plane);
  for (let a = 0; a < o0; a++) {
    for (let b = 0; b < o1; b++) {
      for (let c = 0; c < o2; c++) {
        src[(a * o1 + b) * o2 + c] = (maps[0][a] * i1 + (k > 1 ? maps[1][b] : 0)) * i2 + (k > 2 ? maps[2][c] : 0);
      }
    }
  }
  const planes = x.shape[0] * x.shape[1];
  const inPlane = inSpatial.reduce((p, d) => p * d, 1);
  const out = outputBuffer(planes * plane);
  const xd = x.data;
  for (let p = 0; p < planes; p++) {
    const xo = p * inPlane;
    const oo = p * plane;
    for (let j = 0; j < plane; j++) out[oo + j] = xd[xo + src[j]];
  }
  return record(new Tensor(out, [x.shape[0], x.shape[1], ...outSize]), 'upsampleNearest', [x], (g) => {
    const dx = gradBuffer(x.size).fill(0);
    for (let p = 0; p < planes; p++) {
      const xo = p * inPlane;
      const oo = p * plane;
      for (let j = 0; j < plane; j++) dx[xo + src[j]] += g[oo + j];
    }
    return [dx];
  }, isTracing() ? { size: outSize.slice(), scales: scales === null ? null : scales.slice() } : undefined);
}
