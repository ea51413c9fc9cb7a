// TypeScript twins of the convolution and pooling kernels (NCHW): im2col + gemm, and window loops.
import type { Activation } from '../contract';
import { activationForward } from './activation';
import { gemm } from './gemm';

/** Indices into the geometry array the conv/pool kernels take (native/kernels/conv.h). */
export const GEOM = {
  C: 0, H: 1, W: 2, OC: 3, OH: 4, OW: 5, KH: 6, KW: 7, SH: 8, SW: 9, PH: 10, PW: 11, DH: 12, DW: 13, groups: 14,
} as const;
export const CONV_GEOM_LEN = 15;
const NAMES = ['C', 'H', 'W', 'OC', 'OH', 'OW', 'KH', 'KW', 'strideH', 'strideW', 'padH', 'padW', 'dilationH', 'dilationW', 'groups'];

interface Geom {
  C: number; H: number; W: number; OC: number; OH: number; OW: number; KH: number; KW: number;
  SH: number; SW: number; PH: number; PW: number; DH: number; DW: number; groups: number;
}

function readGeom(kernel: string, G: number, g: Int32Array): Geom {
  if (G !== CONV_GEOM_LEN) throw new Error(`${kernel}: geom must hold ${CONV_GEOM_LEN} integers, got ${G}`);
  for (let i = 0; i < CONV_GEOM_LEN; i++) {
    const min = i === GEOM.PH || i === GEOM.PW ? 0 : 1;
    if (g[i] < min) throw new Error(`${kernel}: geom ${NAMES[i]} must be >= ${min}, got ${g[i]}`);
  }
  return {
    C: g[0], H: g[1], W: g[2], OC: g[3], OH: g[4], OW: g[5], KH: g[6], KW: g[7],
    SH: g[8], SW: g[9], PH: g[10], PW: g[11], DH: g[12], DW: g[13], groups: g[14],
  };
}

function expectSize(kernel: string, what: string, got: number, expected: number): void {
  if (got !== expected) throw new Error(`${kernel}: ${what} is ${got}, the geometry gives ${expected}`);
}

const convOut = (n: number, k: number, s: number, p: number, d: number): number => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;

/** The checked geometry of a conv kernel call, with the per-group channel counts Cg = C/groups, OCg = OC/groups. */
export function convGeom(
  kernel: string, C: number, OC: number, inPlane: number, outPlane: number, kArea: number, G: number, geom: Int32Array,
): Geom & { Cg: number; OCg: number } {
  const g = readGeom(kernel, G, geom);
  expectSize(kernel, 'C', C, g.C);
  expectSize(kernel, 'OC', OC, g.OC);
  if (g.C % g.groups !== 0 || g.OC % g.groups !== 0) {
    throw new Error(`${kernel}: groups ${g.groups} must divide C ${g.C} and OC ${g.OC}`);
  }
  expectSize(kernel, 'inPlane', inPlane, g.H * g.W);
  expectSize(kernel, 'outPlane', outPlane, g.OH * g.OW);
  expectSize(kernel, 'kArea', kArea, (g.C / g.groups) * g.KH * g.KW);
  expectSize(kernel, 'OH', g.OH, convOut(g.H, g.KH, g.SH, g.PH, g.DH));
  expectSize(kernel, 'OW', g.OW, convOut(g.W, g.KW, g.SW, g.PW, g.DW));
  return { ...g, Cg: g.C / g.groups, OCg: g.OC / g.groups };
}

let colBuf: Float32Array = new Float32Array(0);
let dcolBuf: Float32Array = new Float32Array(0);
function grow(buf: Float32Array, n: number): Float32Array {
  return buf.length >= n ? buf : new Float32Array(Math.max(n, buf.length * 2));
}

/**
 * The im2col walk and its adjoint in one loop nest. Gather (adjoint false):
 * col[(c*KH+kh)*KW+kw, oh*OW+ow] = x[c, oh*SH-PH+kh*DH, ow*SW-PW+kw*DW], 0 outside.
 * Scatter (adjoint true, col2im): x[...] += col[...] inside the image (x zeroed by the caller).
 */
function im2colWalk(g: Geom, Cg: number, x: Float32Array, xOff: number, col: Float32Array, adjoint: boolean): void {
  const P = g.OH * g.OW;
  const plane = g.H * g.W;
  let row = 0;
  for (let c = 0; c < Cg; c++) {
    const xc = xOff + c * plane;
    for (let kh = 0; kh < g.KH; kh++) {
      for (let kw = 0; kw < g.KW; kw++, row += P) {
        const off = kw * g.DW - g.PW;
        for (let oh = 0; oh < g.OH; oh++) {
          const ih = oh * g.SH - g.PH + kh * g.DH;
          const r = row + oh * g.OW;
          if (ih < 0 || ih >= g.H) {
            if (!adjoint) col.fill(0, r, r + g.OW);
            continue;
          }
          const xr = xc + ih * g.W;
          if (adjoint) {
            for (let ow = 0; ow < g.OW; ow++) {
              const iw = ow * g.SW + off;
              if (iw >= 0 && iw < g.W) x[xr + iw] += col[r + ow];
            }
          } else {
            for (let ow = 0; ow < g.OW; ow++) {
              const iw = ow * g.SW + off;
              col[r + ow] = iw >= 0 && iw < g.W ? x[xr + iw] : 0;
            }
          }
        }
      }
    }
  }
}

const im2col = (g: Geom, Cg: number, x: Float32Array, xOff: number, col: Float32Array): void => im2colWalk(g, Cg, x, xOff, col, false);
/** The adjoint of im2col: dx[...] += col[...] (dx zeroed by the caller). */
const col2im = (g: Geom, Cg: number, col: Float32Array, dx: Float32Array, xOff: number): void => im2colWalk(g, Cg, dx, xOff, col, true);

/** out = act(conv2d(X, W) + bias) on NCHW (the kernel conv2dForward). */
export function conv2dForward(
  N: number, C: number, OC: number, inPlane: number, outPlane: number, kArea: number, G: number, geom: Int32Array,
  X: Float32Array, W: Float32Array, bias: Float32Array | null, act: Activation, alpha: number, out: Float32Array,
): void {
  const g = convGeom('conv2dForward', C, OC, inPlane, outPlane, kArea, G, geom);
  const { Cg, OCg } = g;
  const P = outPlane;
  const K = kArea;
  colBuf = grow(colBuf, K * P);
  const col = colBuf;
  for (let n = 0; n < N; n++) {
    const xn = n * C * inPlane;
    const yn = n * OC * P;
    for (let grp = 0; grp < g.groups; grp++) {
      im2col(g, Cg, X, xn + grp * Cg * inPlane, col);
      gemm(false, false, OCg, P, K, 1, W.subarray(grp * OCg * K), col, 0, out.subarray(yn + grp * OCg * P));
    }
    if (bias !== null) {
      for (let o = 0; o < OC; o++) {
        const b = bias[o];
        const r = yn + o * P;
        for (let i = 0; i < P; i++) out[r + i] += b;
      }
    }
  }
  if (act !== 'none') activationForward(act, N * OC * P, out, out, alpha);
}

const f32 = Math.fround;

/**
 * The Winograd F(2x2, 3x3) filter transform U = G g G^T of each 3x3 filter, U[((grp*OCg + o)*Cg + i)*16 + p]
 * (G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]), in float32 steps as native/kernels/conv_winograd.cc.
 */
function winogradFilters(W: Float32Array, groups: number, Cg: number, OCg: number): Float32Array {
  const U = new Float32Array(groups * OCg * Cg * 16);
  const t = new Float32Array(12);
  for (let f = 0; f < groups * OCg * Cg; f++) {
    const w = f * 9;
    for (let j = 0; j < 3; j++) { // G g
      t[j] = W[w + j];
      t[3 + j] = f32(0.5 * f32(f32(W[w + j] + W[w + 3 + j]) + W[w + 6 + j]));
      t[6 + j] = f32(0.5 * f32(f32(W[w + j] - W[w + 3 + j]) + W[w + 6 + j]));
      t[9 + j] = W[w + 6 + j];
    }
    for (let r = 0; r < 4; r++) { // (G g) G^T
      const a = t[3 * r], b = t[3 * r + 1], c = t[3 * r + 2];
      const u = f * 16 + 4 * r;
      U[u] = a;
      U[u + 1] = f32(0.5 * f32(f32(a + b) + c));
      U[u + 2] = f32(0.5 * f32(f32(a - b) + c));
      U[u + 3] = c;
    }
  }
  return U;
}

/**
 * conv2dForward computed by Winograd F(2x2, 3x3) (the kernel conv2dWinogradForward; 3x3, stride 1, dilation 1):
 * per 2x2 output tile, V = B^T d B of its 4x4 input patch d, M = sum over the input channels of U .* V
 * (16 points), out = A^T M A + bias, then the activation. B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 * A^T = [1 1 1 0; 0 1 -1 -1]. The transforms round in float32 like the native kernel; the channel sums in float64.
 */

/**
 * Winograd F(2x2,3x3) input transform of one 4x4 tile, V = B^T d B, rounded to float32 at each step as the native
 * kernels do: d is the tile whose top-left is (r0, c0) in the plane at x (read through at, zero outside), d4x4 is
 * scratch, V[v0..v0+16) receives the transformed tile. Shared by the forward/dX twin and the dW twin.
 */
export function winoInputTile(
  at: (x: number, r: number, c: number) => number, x: number, r0: number, c0: number,
  d4x4: Float32Array, V: Float32Array, v0: number,
): void {
  for (let j = 0; j < 4; j++) { // B^T d, column j
    const a0 = at(x, r0, c0 + j), a1 = at(x, r0 + 1, c0 + j), a2 = at(x, r0 + 2, c0 + j), a3 = at(x, r0 + 3, c0 + j);
    d4x4[j] = f32(a0 - a2);
    d4x4[4 + j] = f32(a1 + a2);
    d4x4[8 + j] = f32(a2 - a1);
    d4x4[12 + j] = f32(a1 - a3);
  }
  for (let i = 0; i < 4; i++) { // (B^T d) B
    const e0 = d4x4[4 * i], e1 = d4x4[4 * i + 1], e2 = d4x4[4 * i + 2], e3 = d4x4[4 * i + 3];
    const v = v0 + 4 * i;
    V[v] = f32(e0 - e2);
    V[v + 1] = f32(e1 + e2);
    V[v + 2] = f32(e2 - e1);
    V[v + 3] = f32(e1 - e3);
  }
}

export function conv2dWinogradForward(
  N: number, C: number, OC: number, inPlane: number, outPlane: number, kArea: number, G: number, geom: Int32Array,
  X: Float32Array, W: Float32Array, bias: Float32Array | null, act: Activation, alpha: number, out: Float32Array,
): void {
  const g = convGeom('conv2dWinogradForward', C, OC, inPlane, outPlane, kArea, G, geom);
  if (g.KH !== 3 || g.KW !== 3 || g.SH !== 1 || g.SW !== 1 || g.DH !== 1 || g.DW !== 1) {
    throw new Error(`conv2dWinogradForward: needs a 3x3 kernel, stride 1 and dilation 1, got kernel ${g.KH}x${g.KW}, stride ${g.SH}x${g.SW}, dilation ${g.DH}x${g.DW}`);
  }
  const { Cg, OCg } = g;
  const U = winogradFilters(W, g.groups, Cg, OCg);
  const tH = Math.ceil(g.OH / 2), tW = Math.ceil(g.OW / 2);
  const V = new Float32Array(Cg * 16);
  const d = new Float32Array(16);
  const m = new Float32Array(16);
  const at = (x: number, r: number, c: number): number => (r >= 0 && r < g.H && c >= 0 && c < g.W ? X[x + r * g.W + c] : 0);
  for (let n = 0; n < N; n++) {
    for (let grp = 0; grp < g.groups; grp++) {
      const x0 = (n * C + grp * Cg) * inPlane;
      for (let th = 0; th < tH; th++) {
        for (let tw = 0; tw < tW; tw++) {
          const r0 = 2 * th - g.PH, c0 = 2 * tw - g.PW;
          for (let c = 0; c < Cg; c++) {
            winoInputTile(at, x0 + c * inPlane, r0, c0, d, V, c * 16);
          }
          for (let o = 0; o < OCg; o++) {
            const u0 = (grp * OCg + o) * Cg * 16;
            for (let p = 0; p < 16; p++) {
              let s = 0;
              for (let c = 0; c < Cg; c++) s += U[u0 + c * 16 + p] * V[c * 16 + p];
              m[p] = s;
            }
            const b = bias === null ? 0 : bias[grp * OCg + o];
            const y0 = (n * OC + grp * OCg + o) * outPlane;
            for (let i = 0; i < 2; i++) {
              const oh = 2 * th + i;
              if (oh >= g.OH) break;
              // row i of A^T M, then times A
              const s0 = i === 0 ? f32(f32(m[0] + m[4]) + m[8]) : f32(f32(m[4] - m[8]) - m[12]);
              const s1 = i === 0 ? f32(f32(m[1] + m[5]) + m[9]) : f32(f32(m[5] - m[9]) - m[13]);
              const s2 = i === 0 ? f32(f32(m[2] + m[6]) + m[10]) : f32(f32(m[6] - m[10]) - m[14]);
              const s3 = i === 0 ? f32(f32(m[3] + m[7]) + m[11]) : f32(f32(m[7] - m[11]) - m[15]);
              out[y0 + oh * g.OW + 2 * tw] = f32(f32(f32(s0 + s1) + s2) + b);
              if (2 * tw + 1 < g.OW) out[y0 + oh * g.OW + 2 * tw + 1] = f32(f32(f32(s1 - s2) - s3) + b);
            }
          }
        }
      }
    }
  }
  if (act !== 'none') activationForward(act, N * OC * outPlane, out, out, alpha);
}

/** dX (overwritten), dW and dB (overwritten, or added to with accumulate) of conv2dForward without activation. */
export function conv2dBackward(
  N: number, C: number, OC: number, inPlane: number, outPlane: number, kArea: number, G: number, geom: Int32Array,
  X: Float32Array, W: Float32Array, dY: Float32Array, dX: Float32Array | null, dW: Float32Array | null,
  dB: Float32Array | null, accumulate: boolean,
): void {
  const g = convGeom('conv2dBackward', C, OC, inPlane, outPlane, kArea, G, geom);
  const { Cg, OCg } = g;
  const P = outPlane;
  const K = kArea;
  if (dB !== null) {
    for (let o = 0; o < OC; o++) {
      let s = 0;
      for (let n = 0; n < N; n++) {
        const r = (n * OC + o) * P;
        let part = Math.fround(0);
        for (let i = 0; i < P; i++) part = Math.fround(part + dY[r + i]);
        s += part;
      }
      dB[o] = accumulate ? dB[o] + s : s;
    }
  }
  if (dX === null && dW === null) return;
  colBuf = grow(colBuf, K * P);
  dcolBuf = grow(dcolBuf, K * P);
  const col = colBuf;
  const dcol = dcolBuf;
  if (dW !== null && !accumulate) dW.fill(0, 0, OC * K);
  if (dX !== null) dX.fill(0, 0, N * C * inPlane);
  for (let n = 0; n < N; n++) {
    const xn = n * C * inPlane;
    const dyn = n * OC * P;
    for (let grp = 0; grp < g.groups; grp++) {
      const xg = xn + grp * Cg * inPlane;
      const dyg = dY.subarray(dyn + grp * OCg * P);
      const wg = W.subarray(grp * OCg * K);
      if (dW !== null) {
        im2col(g, Cg, X, xg, col);
        gemm(false, true, OCg, K, P, 1, dyg, col, 1, dW.subarray(grp * OCg * K));
      }
      if (dX !== null) {
        gemm(true, false, K, P, OCg, 1, wg, dyg, 0, dcol);
        col2im(g, Cg, dcol, dX, xg);
      }
    }
  }
}

interface PoolGeom {
  H: number; W: number; OH: number; OW: number; KH: number; KW: number;
  SH: number; SW: number; PH: number; PW: number; DH: number; DW: number;
}

function poolGeom(kernel: string, inPlane: number, outPlane: number, G: number, geom: Int32Array): PoolGeom {
  if (G !== CONV_GEOM_LEN) throw new Error(`${kernel}: geom must hold ${CONV_GEOM_LEN} integers, got ${G}`);
  for (let i: number = GEOM.H; i <= GEOM.DW; i++) {
    if (i === GEOM.OC) continue;
    const min = i === GEOM.PH || i === GEOM.PW ? 0 : 1;
    if (geom[i] < min) throw new Error(`${kernel}: geom entry ${i} must be >= ${min}, got ${geom[i]}`);
  }
  const p: PoolGeom = {
    H: geom[1], W: geom[2], OH: geom[4], OW: geom[5], KH: geom[6], KW: geom[7],
    SH: geom[8], SW: geom[9], PH: geom[10], PW: geom[11], DH: geom[12], DW: geom[13],
  };
  if (2 * p.PH > p.KH || 2 * p.PW > p.KW) throw new Error(`${kernel}: padding must be at most half the kernel size`);
  if (p.H * p.W !== inPlane) throw new Error(`${kernel}: inPlane ${inPlane} differs from H*W`);
  if (p.OH * p.OW !== outPlane) throw new Error(`${kernel}: outPlane ${outPlane} differs from OH*OW`);
  if ((p.OH - 1) * p.SH >= p.H + p.PH || (p.OW - 1) * p.SW >= p.W + p.PW) {
    throw new Error(`${kernel}: OH/OW too large for the input and stride`);
  }
  return p;
}

/** Max pooling over NC planes; argmax = index of the max within its plane (the kernel maxPool2dForward). */
export function maxPool2dForward(
  NC: number, inPlane: number, outPlane: number, outTotal: number, G: number, geom: Int32Array,
  X: Float32Array, out: Float32Array, argmax: Int32Array,
): void {
  const g = poolGeom('maxPool2dForward', inPlane, outPlane, G, geom);
  if (outTotal !== NC * outPlane) throw new Error('maxPool2dForward: outTotal differs from NC*OH*OW');
  for (let pl = 0; pl < NC; pl++) {
    const x = pl * inPlane;
    const y = pl * outPlane;
    for (let oh = 0; oh < g.OH; oh++) {
      const h0 = oh * g.SH - g.PH;
      for (let ow = 0; ow < g.OW; ow++) {
        const w0 = ow * g.SW - g.PW;
        let best = -Infinity;
        let at = -1;
        for (let kh = 0; kh < g.KH; kh++) {
          const ih = h0 + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          for (let kw = 0; kw < g.KW; kw++) {
            const iw = w0 + kw * g.DW;
            if (iw < 0 || iw >= g.W) continue;
            const idx = ih * g.W + iw;
            const v = X[x + idx];
            if (at < 0 || v > best || Number.isNaN(v)) {
              best = v;
              at = idx;
            }
          }
        }
        out[y + oh * g.OW + ow] = best;
        argmax[y + oh * g.OW + ow] = at;
      }
    }
  }
}

/**
 * maxPool(act(conv2d(X, W) + bias)) (the kernel conv2dMaxPoolForward): conv2dForward into a temporary, then
 * maxPool2dForward of its planes by pgeom (whose H, W must be the convolution's OH, OW) into out.
 */
export function conv2dMaxPoolForward(
  N: number, C: number, OC: number, inPlane: number, outPlane: number, kArea: number, poolPlane: number, G: number,
  geom: Int32Array, pgeom: Int32Array, X: Float32Array, W: Float32Array, bias: Float32Array | null, act: Activation,
  alpha: number, out: Float32Array,
): void {
  const kernel = 'conv2dMaxPoolForward';
  const g = convGeom(kernel, C, OC, inPlane, outPlane, kArea, G, geom);
  if (pgeom.length < CONV_GEOM_LEN || pgeom[GEOM.H] !== g.OH || pgeom[GEOM.W] !== g.OW) {
    throw new Error(`${kernel}: the pooling's input ${pgeom[GEOM.H]}x${pgeom[GEOM.W]} differs from the convolution's output ${g.OH}x${g.OW}`);
  }
  poolGeom(kernel, outPlane, poolPlane, G, pgeom);
  const planes = new Float32Array(N * OC * outPlane);
  conv2dForward(N, C, OC, inPlane, outPlane, kArea, G, geom, X, W, bias, act, alpha, planes);
  maxPool2dForward(N * OC, outPlane, poolPlane, N * OC * poolPlane, G, pgeom, planes, out, new Int32Array(N * OC * poolPlane));
}

/** dX = dY scattered to argmax (the kernel maxPool2dBackward). */
export function maxPool2dBackward(
  NC: number, inPlane: number, outPlane: number, outTotal: number, argmax: Int32Array, dY: Float32Array, dX: Float32Array,
): void {
  if (outTotal !== NC * outPlane) throw new Error('maxPool2dBackward: outTotal differs from NC*outPlane');
  dX.fill(0, 0, NC * inPlane);
  for (let pl = 0; pl < NC; pl++) {
    const x = pl * inPlane;
    const y = pl * outPlane;
    for (let i = 0; i < outPlane; i++) {
      const a = argmax[y + i];
      if (a >= 0 && a < inPlane) dX[x + a] += dY[y + i];
    }
  }
}

/** The window of output (oh, ow) clipped to the input, and its divisor. */
function avgWindow(g: PoolGeom, oh: number, ow: number, countIncludePad: boolean): [number, number, number, number, number] {
  let h0 = oh * g.SH - g.PH;
  let w0 = ow * g.SW - g.PW;
  let h1 = Math.min(h0 + g.KH, g.H + g.PH);
  let w1 = Math.min(w0 + g.KW, g.W + g.PW);
  const padded = (h1 - h0) * (w1 - w0);
  h0 = Math.max(h0, 0);
  w0 = Math.max(w0, 0);
  h1 = Math.min(h1, g.H);
  w1 = Math.min(w1, g.W);
  const inside = Math.max(0, h1 - h0) * Math.max(0, w1 - w0);
  return [h0, h1, w0, w1, countIncludePad ? padded : inside];
}

/**
 * Average pooling and its adjoint in one loop nest over NC planes: forward (adjoint false) writes
 * dst[y] = mean of src over the window; backward (adjoint true) spreads src[y] / div over the window of dst.
 */
function avgPoolWalk(
  kernel: string, NC: number, inPlane: number, outPlane: number, G: number, geom: Int32Array, countIncludePad: boolean,
  src: Float32Array, dst: Float32Array, adjoint: boolean,
): void {
  const g = poolGeom(kernel, inPlane, outPlane, G, geom);
  if (g.DH !== 1 || g.DW !== 1) throw new Error(`${kernel}: dilation must be 1`);
  if (adjoint) dst.fill(0, 0, NC * inPlane);
  for (let pl = 0; pl < NC; pl++) {
    const x = pl * inPlane;
    const y = pl * outPlane;
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        const [h0, h1, w0, w1, div] = avgWindow(g, oh, ow, countIncludePad);
        const o = y + oh * g.OW + ow;
        if (adjoint) {
          const v = Math.fround(src[o] / div);
          for (let ih = h0; ih < h1; ih++) for (let iw = w0; iw < w1; iw++) dst[x + ih * g.W + iw] += v;
        } else {
          let s = Math.fround(0);
          for (let ih = h0; ih < h1; ih++) for (let iw = w0; iw < w1; iw++) s = Math.fround(s + src[x + ih * g.W + iw]);
          dst[o] = s / div;
        }
      }
    }
  }
}

/** Average pooling over NC planes (the kernel avgPool2dForward). */
export function avgPool2dForward(
  NC: number, inPlane: number, outPlane: number, G: number, geom: Int32Array, countIncludePad: boolean,
  X: Float32Array, out: Float32Array,
): void {
  avgPoolWalk('avgPool2dForward', NC, inPlane, outPlane, G, geom, countIncludePad, X, out, false);
}

/** Gradient of avgPool2dForward: each dY spread evenly over its window (the kernel avgPool2dBackward). */
export function avgPool2dBackward(
  NC: number, inPlane: number, outPlane: number, G: number, geom: Int32Array, countIncludePad: boolean,
  dY: Float32Array, dX: Float32Array,
): void {
  avgPoolWalk('avgPool2dBackward', NC, inPlane, outPlane, G, geom, countIncludePad, dY, dX, true);
}
