// TypeScript twins of the convolutions' training kernels beyond conv2dBackward: the Winograd weight gradient.
import { convGeom, maxPool2dBackward, winoInputTile } from './conv';

const f32 = Math.fround;
let maskedDy = new Float32Array(0);

/**
 * dW of conv2dBackward computed by Winograd F(2x2, 3x3) (the kernel conv2dWinogradWeightGrad; 3x3, stride 1,
 * dilation 1), the adjoint of conv2dWinogradForward: per 2x2 output tile, V = B^T d B of its 4x4 input patch d and
 * dM = A dY A^T of its 2x2 output gradient (zero past the edge), dU[o][c] = sum over the tiles of dM[o] .* V[c]
 * (16 points), dW[o][c] = G^T dU[o][c] G. A = [1 0; 1 1; 1 -1; 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
 * The transforms round in float32 like the native kernel; the tile sums in float64. dW is overwritten, or added
 * to with accumulate.
 */
export function conv2dWinogradWeightGrad(
  N: number, C: number, OC: number, inPlane: number, outPlane: number, kArea: number, G: number, geom: Int32Array,
  X: Float32Array, dY: Float32Array, dW: Float32Array, accumulate: boolean,
): void {
  const g = convGeom('conv2dWinogradWeightGrad', C, OC, inPlane, outPlane, kArea, G, geom);
  if (g.KH !== 3 || g.KW !== 3 || g.SH !== 1 || g.SW !== 1 || g.DH !== 1 || g.DW !== 1) {
    throw new Error(`conv2dWinogradWeightGrad: needs a 3x3 kernel, stride 1 and dilation 1, got kernel ${g.KH}x${g.KW}, stride ${g.SH}x${g.SW}, dilation ${g.DH}x${g.DW}`);
  }
  const { Cg, OCg } = g;
  const tH = Math.ceil(g.OH / 2), tW = Math.ceil(g.OW / 2);
  const dU = new Float64Array(g.groups * OCg * Cg * 16); // [grp][o][c][p]
  const V = new Float32Array(Cg * 16);
  const dM = new Float32Array(OCg * 16);
  const d = new Float32Array(16);
  const at = (x: number, r: number, c: number): number => (r >= 0 && r < g.H && c >= 0 && c < g.W ? X[x + r * g.W + c] : 0);
  const dyAt = (y: number, r: number, c: number): number => (r < g.OH && c < g.OW ? dY[y + r * g.OW + c] : 0);
  for (let n = 0; n < N; n++) {
    for (let grp = 0; grp < g.groups; grp++) {
      const x0 = (n * C + grp * Cg) * inPlane;
      for (let th = 0; th < tH; th++) {
        for (let tw = 0; tw < tW; tw++) {
          const r0 = 2 * th - g.PH, c0 = 2 * tw - g.PW;
          for (let c = 0; c < Cg; c++) { // V = (B^T d) B, as conv2dWinogradForward
            winoInputTile(at, x0 + c * inPlane, r0, c0, d, V, c * 16);
          }
          for (let o = 0; o < OCg; o++) { // dM = A dY A^T: rows (y0, y0 + y1, y0 - y1, -y1), then the same along columns
            const y = (n * OC + grp * OCg + o) * outPlane;
            const y00 = dyAt(y, 2 * th, 2 * tw), y01 = dyAt(y, 2 * th, 2 * tw + 1);
            const y10 = dyAt(y, 2 * th + 1, 2 * tw), y11 = dyAt(y, 2 * th + 1, 2 * tw + 1);
            const rows = [[y00, y01], [f32(y00 + y10), f32(y01 + y11)], [f32(y00 - y10), f32(y01 - y11)], [-y10, -y11]];
            for (let i = 0; i < 4; i++) {
              const [a, b] = rows[i];
              const m = o * 16 + 4 * i;
              dM[m] = a;
              dM[m + 1] = f32(a + b);
              dM[m + 2] = f32(a - b);
              dM[m + 3] = -b;
            }
          }
          for (let o = 0; o < OCg; o++) {
            for (let c = 0; c < Cg; c++) {
              const u = ((grp * OCg + o) * Cg + c) * 16;
              for (let p = 0; p < 16; p++) dU[u + p] += dM[o * 16 + p] * V[c * 16 + p];
            }
          }
        }
      }
    }
  }
  const t = new Float32Array(12);
  for (let k = 0; k < g.groups * OCg * Cg; k++) {
    const u = (p: number): number => f32(dU[k * 16 + p]);
    for (let j = 0; j < 4; j++) { // G^T u, per column: (u0 + (u1 + u2)/2, (u1 - u2)/2, (u1 + u2)/2 + u3)
      const sum = f32(0.5 * f32(u(4 + j) + u(8 + j))), diff = f32(0.5 * f32(u(4 + j) - u(8 + j)));
      t[j] = f32(u(j) + sum);
      t[4 + j] = diff;
      t[8 + j] = f32(sum + u(12 + j));
    }
    for (let i = 0; i < 3; i++) { // then G along the rows
      const sum = f32(0.5 * f32(t[4 * i + 1] + t[4 * i + 2])), diff = f32(0.5 * f32(t[4 * i + 1] - t[4 * i + 2]));
      const w = [f32(t[4 * i] + sum), diff, f32(sum + t[4 * i + 3])];
      for (let j = 0; j < 3; j++) dW[k * 9 + i * 3 + j] = accumulate ? f32(dW[k * 9 + i * 3 + j] + w[j]) : w[j];
    }
  }
}

/**
 * dX (NC planes, overwritten) = the gradient through relu then max pooling (the kernel maxPool2dReluBackward):
 * dY added at the argmax positions of the windows whose max (pooled: maxPool2dForward's out, the ReLU's output at
 * argmax) is > 0, zero elsewhere; the same values as maxPool2dBackward followed by the ReLU's backward
 * (dx = y > 0 ? dx : 0).
 */
export function maxPool2dReluBackward(
  NC: number, inPlane: number, outPlane: number, outTotal: number, argmax: Int32Array, pooled: Float32Array, dY: Float32Array,
  dX: Float32Array,
): void {
  if (outTotal !== NC * outPlane) throw new Error('maxPool2dReluBackward: outTotal differs from NC*outPlane');
  // dY zeroed where the window's max is not > 0, then maxPool2dBackward: a zero add leaves a sum's bits as they are,
  // and a position whose ReLU output is > 0 is only ever the argmax of windows whose max it is (> 0).
  if (maskedDy.length < outTotal) maskedDy = new Float32Array(outTotal);
  const g = maskedDy.subarray(0, outTotal);
  for (let i = 0; i < outTotal; i++) g[i] = pooled[i] > 0 ? dY[i] : 0;
  maxPool2dBackward(NC, inPlane, outPlane, outTotal, argmax, g, dX);
}
