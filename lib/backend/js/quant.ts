// TypeScript twins of the low-precision kernels (native/kernels/qgemm*.cc): int8 quantisation and
// GEMM with exact integer sums and the same float32 epilogue steps (bit-identical to every native
// path for act none/relu/leakyRelu), float -> bfloat16 rounding bit for bit, and the bf16 GEMM
// widened to float32.
import type { Activation } from '../kernel-table';
import { activationForward } from './activation';
import { linearForward } from './gemm';

const fround = Math.fround;
/** 1.5 * 2^23: adding it to a float32 of magnitude <= 127 leaves no fraction bits (round to even). */
const ROUND_MAGIC = 12582912;
/** Largest K whose int32 sums cannot overflow (kQgemmMaxK in native/kernels/qgemm.h). */
export const QGEMM_MAX_K = 131072;
/** Rows whose max |x| is below this quantise to zeros; static scales are 0 or at least this (kQuantMinMax, kQuantMinScale). */
const QUANT_MIN = Math.fround(1e-30);
const FLT_MIN = 1.1754943508222875e-38;
/** Flush to zero, as the C++ kernels run (FTZ/DAZ): a float32 denormal becomes a zero of its sign. */
const ftz = (v: number): number => (v > -FLT_MIN && v < FLT_MIN ? v * 0 : v);

/** Q = int8 of each row of X, scales[i] its scale (scale 0: dynamic per row; > 0: static). */
export function quantizeRowsI8(M: number, K: number, X: Float32Array, scale: number, Q: Int8Array, scales: Float32Array): void {
  const fixed = fround(scale);
  if (!(fixed === 0 || fixed >= QUANT_MIN)) throw new Error(`quantizeRowsI8: scale must be 0 (a dynamic scale per row) or at least 1e-30, got ${scale}`);
  for (let i = 0; i < M; i++) {
    const o = i * K;
    let m = 0;
    let nonfinite = 0;
    for (let k = 0; k < K; k++) {
      const a = Math.abs(X[o + k]);
      if (a > m) m = a;
      nonfinite += X[o + k] * 0;
    }
    if (nonfinite !== 0 || Number.isNaN(nonfinite)) {
      scales[i] = NaN;
      Q.fill(0, o, o + K);
      continue;
    }
    let inv: number;
    if (fixed > 0) {
      scales[i] = fixed;
      inv = fround(1 / fixed);
    } else if (!(m >= QUANT_MIN)) {
      scales[i] = 0;
      Q.fill(0, o, o + K);
      continue;
    } else {
      scales[i] = fround(m / 127);
      inv = fround(127 / m);
    }
    for (let k = 0; k < K; k++) {
      let v = fround(X[o + k] * inv);
      v = v > 127 ? 127 : v < -127 ? -127 : v;
      Q[o + k] = fround(v + ROUND_MAGIC) - ROUND_MAGIC;
    }
  }
}

/** out = act(f32(f32(acc) * f32(aScale[i] * wScale[j])) + bias[j]), acc the exact int32 dot product. */
export function qgemmI8(
  M: number, N: number, K: number, A: Int8Array, aScale: Float32Array, W: Int8Array, wScale: Float32Array,
  bias: Float32Array | null, act: Activation, alpha: number, out: Float32Array,
): void {
  if (K > QGEMM_MAX_K) throw new Error(`qgemmI8: K must be at most ${QGEMM_MAX_K} (int32 sums), got ${K}`);
  // -128 counts as -127 on every path (the AVX2 path's |a| must fit vpmaddubsw without saturating).
  const a = Int8Array.from(A.subarray(0, M * K), (v) => (v === -128 ? -127 : v));
  const w = Int8Array.from(W.subarray(0, N * K), (v) => (v === -128 ? -127 : v));
  for (let i = 0; i < M; i++) {
    const ao = i * K;
    const as = aScale[i];
    for (let j = 0; j < N; j++) {
      const wo = j * K;
      let acc = 0;
      for (let k = 0; k < K; k++) acc += a[ao + k] * w[wo + k];
      const s = ftz(fround(as * wScale[j]));
      let z = ftz(fround(fround(acc) * s));
      if (bias !== null) z = ftz(fround(z + bias[j]));
      out[i * N + j] = z;
    }
  }
  activationForward(act, M * N, out, out, fround(alpha)); // alpha crosses to C++ as a float32
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The bfloat16 bits of x: nearest even, float32 denormals to signed zero, NaN stays a quiet NaN. */
export function bf16Bits(x: number): number {
  F32[0] = x;
  const u = U32[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0) return ((u >>> 16) | 0x0040) & 0xffff;
  if ((u & 0x7f800000) === 0) return (u >>> 16) & 0x8000;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The float32 value of bfloat16 bits (exact). */
export function bf16Value(h: number): number {
  U32[0] = (h & 0xffff) << 16;
  return F32[0];
}

export function toBf16(n: number, x: Float32Array, out: Uint16Array): void {
  for (let i = 0; i < n; i++) out[i] = bf16Bits(x[i]);
}

/** out = act(A W^T + bias) on bf16 inputs: widened to float32 (exact) and run as the float32 dense layer. */
export function gemmBf16(
  M: number, N: number, K: number, A: Uint16Array, W: Uint16Array, bias: Float32Array | null,
  act: Activation, alpha: number, out: Float32Array,
): void {
  const af = Float32Array.from(A.subarray(0, M * K), bf16Value);
  const wf = Float32Array.from(W.subarray(0, N * K), bf16Value);
  linearForward(M, N, K, af, wf, bias, act, alpha, out, null);
}

/** The geometry entries conv.h lists (geom[G]: C, H, W, OC, OH, OW, KH, KW, strides, paddings, dilations, groups). */
function patchGeom(kernel: string, C: number, inPlane: number, outPlane: number, kArea: number, geom: Int32Array): number[] {
  const g = Array.from(geom);
  if (g.length !== 15) throw new Error(`${kernel}: geom must hold 15 integers, got ${g.length}`);
  g.forEach((v, i) => {
    const min = i === 10 || i === 11 ? 0 : 1;
    if (v < min) throw new Error(`${kernel}: geom[${i}] must be >= ${min}, got ${v}`);
  });
  const [gc, H, W, , OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, groups] = g;
  if (groups !== 1) throw new Error(`${kernel}: groups must be 1, got ${groups}`);
  const out = (n: number, k: number, s: number, p: number, d: number): number => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
  if (gc !== C || H * W !== inPlane || OH * OW !== outPlane || gc * KH * KW !== kArea || OH !== out(H, KH, SH, PH, DH) || OW !== out(W, KW, SW, PW, DW)) {
    throw new Error(`${kernel}: the geometry (C ${gc}, ${H}x${W} -> ${OH}x${OW}, kernel ${KH}x${KW}) disagrees with C ${C}, inPlane ${inPlane}, outPlane ${outPlane}, kArea ${kArea}`);
  }
  return g;
}

/** rows[n*outPlane + oh*OW + ow, (c*KH + i)*KW + j] = X[n, c, oh*SH - PH + i*DH, ow*SW - PW + j*DW] (0 outside). */
function im2colRows(kernel: string, N: number, C: number, inPlane: number, outPlane: number, kArea: number, geom: Int32Array, X: Float32Array): Float32Array {
  const [, H, W, , OH, OW, KH, KW, SH, SW, PH, PW, DH, DW] = patchGeom(kernel, C, inPlane, outPlane, kArea, geom);
  const rows = new Float32Array(N * outPlane * kArea);
  let at = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let c = 0; c < C; c++) {
          const plane = (n * C + c) * H * W;
          for (let i = 0; i < KH; i++) {
            const ih = oh * SH - PH + i * DH;
            for (let j = 0; j < KW; j++, at++) {
              const iw = ow * SW - PW + j * DW;
              rows[at] = ih >= 0 && ih < H && iw >= 0 && iw < W ? X[plane + ih * W + iw] : 0;
            }
          }
        }
      }
    }
  }
  return rows;
}

/** Q, scales = quantizeRowsI8 of the patch rows of X (im2colQuantizeI8). */
export function im2colQuantizeI8(N: number, C: number, inPlane: number, outPlane: number, kArea: number, G: number, geom: Int32Array, X: Float32Array, scale: number, Q: Int8Array, scales: Float32Array): void {
  const fixed = fround(scale);
  if (!(fixed === 0 || fixed >= QUANT_MIN)) throw new Error(`im2colQuantizeI8: scale must be 0 (a dynamic scale per row) or at least 1e-30, got ${scale}`);
  quantizeRowsI8(N * outPlane, kArea, im2colRows('im2colQuantizeI8', N, C, inPlane, outPlane, kArea, geom.subarray(0, G), X), scale, Q, scales);
}

/** out = toBf16 of the patch rows of X (im2colBf16). */
export function im2colBf16(N: number, C: number, inPlane: number, outPlane: number, kArea: number, G: number, geom: Int32Array, X: Float32Array, out: Uint16Array): void {
  toBf16(N * outPlane * kArea, im2colRows('im2colBf16', N, C, inPlane, outPlane, kArea, geom.subarray(0, G), X), out);
}

/** out[n, oc, p] = Y[n, p, oc]. */
export function planesFromRows(N: number, P: number, OC: number, Y: Float32Array, out: Float32Array): void {
  for (let n = 0; n < N; n++) {
    const src = n * P * OC, dst = n * OC * P;
    for (let p = 0; p < P; p++) {
      const r = src + p * OC;
      for (let oc = 0; oc < OC; oc++) out[dst + oc * P + p] = Y[r + oc];
    }
  }
}

/**
 * The direct int8 convolution (qconvI8): each image quantised as one row of C*inPlane values, its patch rows
 * (the integers gathered exactly: re-quantised with scale 1) through qgemmI8 with the image's scale on every row,
 * the rows put back as NCHW planes, then the max pooling.
 */
export function qconvI8(
  N: number, C: number, OC: number, inPlane: number, convPlane: number, outPlane: number, kArea: number, G: number, geom: Int32Array,
  PG: number, pool: Int32Array, X: Float32Array, scale: number, W: Int8Array, wScale: Float32Array, bias: Float32Array | null,
  act: Activation, alpha: number, out: Float32Array,
): void {
  const fixed = fround(scale);
  if (!(fixed === 0 || fixed >= QUANT_MIN)) throw new Error(`qconvI8: scale must be 0 (a dynamic scale per row) or at least 1e-30, got ${scale}`);
  const g = patchGeom('qconvI8', C, inPlane, convPlane, kArea, geom.subarray(0, G));
  if (PG !== 4) throw new Error(`qconvI8: pool must hold 4 integers (KH, KW, SH, SW), got ${PG}`);
  const [, , , , OH, OW] = g;
  const { PH, PW } = poolShape('qconvI8', pool, OH, OW, outPlane);
  if (geom[3] !== OC) throw new Error(`qconvI8: geom[3] (output channels) is ${geom[3]}, expected OC ${OC}`);
  if (kArea > QGEMM_MAX_K) throw new Error(`qconvI8: kArea must be at most ${QGEMM_MAX_K} (int32 sums), got ${kArea}`);
  const image = C * inPlane, M = N * convPlane;
  const q = new Int8Array(N * image), scales = new Float32Array(N);
  quantizeRowsI8(N, image, X, scale, q, scales);
  const rows = new Int8Array(M * kArea), rowScale = new Float32Array(M);
  im2colQuantizeI8(N, C, inPlane, convPlane, kArea, G, geom, Float32Array.from(q), 1, rows, rowScale);
  for (let r = 0; r < M; r++) rowScale[r] = scales[Math.floor(r / convPlane)];
  const y = new Float32Array(M * OC);
  qgemmI8(M, OC, kArea, rows, rowScale, W, wScale, bias, act, alpha, y);
  const planes = new Float32Array(M * OC);
  planesFromRows(N, convPlane, OC, y, planes);
  maxPoolPlanes(N * OC, OH, OW, pool, PH, PW, planes, out);
}

/** The pooled plane's size [PH, PW] of pool = [KH, KW, SH, SW] on OH x OW outputs, checked against outPlane. */
function poolShape(kernel: string, pool: Int32Array, OH: number, OW: number, outPlane: number): { PH: number; PW: number } {
  pool.subarray(0, 4).forEach((v, i) => {
    if (v < 1) throw new Error(`${kernel}: pool[${i}] must be >= 1, got ${v}`);
  });
  const [PKH, PKW, PSH, PSW] = pool;
  if (PKH > OH || PKW > OW) throw new Error(`${kernel}: the pooling window ${PKH}x${PKW} is larger than the convolution's output ${OH}x${OW}`);
  const PH = Math.floor((OH - PKH) / PSH) + 1, PW = Math.floor((OW - PKW) / PSW) + 1;
  if (PH * PW !== outPlane) throw new Error(`${kernel}: outPlane is ${outPlane}, but the pooling gives ${PH}x${PW}`);
  return { PH, PW };
}

/** out = the max of each pool window (no padding, floor mode; NaN wins) of `planes` planes OH x OW. */
function maxPoolPlanes(planes: number, OH: number, OW: number, pool: Int32Array, PH: number, PW: number, src: Float32Array, out: Float32Array): void {
  const [PKH, PKW, PSH, PSW] = pool;
  for (let pl = 0; pl < planes; pl++) {
    for (let ph = 0; ph < PH; ph++) {
      for (let pw = 0; pw < PW; pw++) {
        let m = -Infinity;
        for (let i = 0; i < PKH; i++) {
          for (let j = 0; j < PKW; j++) {
            const v = src[pl * OH * OW + (ph * PSH + i) * OW + pw * PSW + j];
            if (v > m || Number.isNaN(v)) m = Number.isNaN(m) ? m : v;
          }
        }
        out[pl * PH * PW + ph * PW + pw] = m;
      }
    }
  }
}

/** qconvBf16: the patch rows rounded to bfloat16 through gemmBf16, put back as NCHW planes, then the max pooling. */
export function qconvBf16(
  N: number, C: number, OC: number, inPlane: number, convPlane: number, outPlane: number, kArea: number, G: number, geom: Int32Array,
  PG: number, pool: Int32Array, X: Float32Array, W: Uint16Array, bias: Float32Array | null, act: Activation, alpha: number, out: Float32Array,
): void {
  const g = patchGeom('qconvBf16', C, inPlane, convPlane, kArea, geom.subarray(0, G));
  if (PG !== 4) throw new Error(`qconvBf16: pool must hold 4 integers (KH, KW, SH, SW), got ${PG}`);
  const [, , , , OH, OW] = g;
  const { PH, PW } = poolShape('qconvBf16', pool, OH, OW, outPlane);
  if (geom[3] !== OC) throw new Error(`qconvBf16: geom[3] (output channels) is ${geom[3]}, expected OC ${OC}`);
  const M = N * convPlane;
  const rows = new Uint16Array(M * kArea);
  im2colBf16(N, C, inPlane, convPlane, kArea, G, geom, X, rows);
  const y = new Float32Array(M * OC);
  gemmBf16(M, OC, kArea, rows, W, bias, act, alpha, y);
  const planes = new Float32Array(M * OC);
  planesFromRows(N, convPlane, OC, y, planes);
  maxPoolPlanes(N * OC, OH, OW, pool, PH, PW, planes, out);
}
