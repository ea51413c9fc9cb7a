// Internal: Winograd F(2x2, 3x3) convolution (stride 1, dilation 1, 3x3 kernels) for conv.cc.
//
// Per 2x2 output tile the 4x4 input patch d becomes V = B^T d B, the 3x3 filter g becomes
// U = G g G^T (both 4x4: 16 transform points), their product is summed over the input channels as
// 16 GEMMs (point p: M_p[OC, tiles] = U_p[OC, C] V_p[C, tiles], myelin::gemm), and the tile's output
// is A^T M A (+ bias, ReLU). 2.25x fewer multiply-adds than the direct convolution, rounded
// differently (the transforms' sums): the twin is winogradConv2d in lib/backend/js/conv.ts.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
#pragma once

namespace myelin {

// One group's convolution: input inC planes H x W, output outC planes OH x OW (OH = H + 2PH - 2),
// zero padding PH, PW.
struct WinoShape {
  int inC, outC, H, W, OH, OW, PH, PW;
};

// Floats of U for `groups` groups: 16 * outC * inC each.
inline long winograd_weights_size(int groups, int outC, int inC) { return 16L * groups * outC * inC; }

// U[grp][p][o][i] = (G w G^T)[p] for w [groups*OCg, Cg, 3, 3]; flip: the weights of dX's convolution,
// w'[c][o] = w[o][c] rotated 180 degrees (outC = Cg, inC = OCg).
void winograd_weights(int groups, int Cg, int OCg, const float* w, bool flip, float* U);

// y = act(bias + conv(x, w)) for images [first, last) of a batch (image strides xImage, yImage
// floats; group grp of an image at + grp * inC * H * W, resp. outC * OH * OW), U from
// winograd_weights, bias (nullable) per output channel of all groups; relu: fused ReLU (NaN passes).
// tasks 1: on the calling thread (the caller splits the images); tasks > 1: each chunk of images split by
// channels across the pool in `tasks` tasks (batches too small to split by images). The same bits either way.
void winograd_conv(const WinoShape& s, int groups, int first, int last, const float* x, long xImage,
                   const float* U, const float* bias, bool relu, float* y, long yImage, int tasks = 1);

// winograd_conv followed by a 2x2 stride-2 max pooling (unpadded, floor mode) in the output transform:
// each 2x2 output tile is one pooling window, so y receives PH x PW = OH/2 x OW/2 pooled planes
// (image stride yImage) and the convolution's own output is never stored. The same bits as
// winograd_conv then max_pool2d_forward.
void winograd_conv_pool(const WinoShape& s, int groups, int first, int last, const float* x, long xImage,
                        const float* U, const float* bias, bool relu, float* y, long yImage, int tasks = 1);

// The transforms of one plane (conv_winograd.inc, per ISA), tH x tW tiles, t = th*tW + tw:
// wino_input_plane: v[p*ps + t] = (B^T d_t B)[p] for the channel plane xc (H x W); scratch holds
//   wino_scratch(tH, tW, wino_lanes()) floats, the zero-padded plane (borders: its zeros are already there, from
//   the previous call with this scratch, s, tH and tW, and only the plane's rows are copied); v's rows need
//   wino_lanes() floats of slack.
// wino_output_plane: y (OH x OW) = act(A^T m_t A + bias) from m[p*ps + t] (read up
//   to wino_lanes() - 1 floats past each row); scratch: wino_scratch(...) as well.
// wino_output_pool_plane: y + b*yImage (PH x PW) = the max over each tile's four outputs of wino_output_plane
//   (tiles th < PH, tw < PW) for nimg images whose tiles follow each other in m; scratch:
//   nimg*tH*tW + wino_lanes() floats.
// Floats of scratch the transforms need (lanes: wino_lanes() of the ISA in use).
inline long wino_scratch(int tH, int tW, int lanes) {
  const long input = (2L * tH + 2) * (2L * tW + 2 + 2L * lanes);  // the padded plane
  const long output = 4 * ((static_cast<long>(tH) * tW + lanes - 1) / lanes * lanes + lanes);
  return input > output ? input : output;
}
#define MYELIN_DECLARE_WINO                                                                              \
  int wino_lanes();                                                                                      \
  void wino_input_plane(const WinoShape& s, int tH, int tW, const float* xc, float* v, long ps, float* scratch, \
                        bool borders);                                                                   \
  void wino_output_plane(const WinoShape& s, int tH, int tW, const float* m, long ps, float bias, bool relu,      \
                         float* y, float* scratch);                                                     \
  void wino_output_pool_plane(int tH, int tW, int nimg, const float* m, long ps, float bias, bool relu, int PH, \
                              int PW, float* y, long yImage, float* scratch);
namespace scalar { MYELIN_DECLARE_WINO }
// V[p][c][t] = (B^T d B)[p] of tile t's patch in channel c of group grp, for the nc images from n0 (T = nc * tpi
// tiles, images inner: a plane's vector slack lands on the next image's tiles or the next channel's, written
// after it), by `input` (wino_input_plane of an ISA).
inline void winograd_inputs(decltype(&scalar::wino_input_plane) input, const WinoShape& s, int tH, int tW,
                            const float* x, long xImage, int grp, int n0, int nc, float* V, long vps, float* work) {
  const long tpi = static_cast<long>(tH) * tW, T = nc * tpi, inPlane = static_cast<long>(s.H) * s.W;
  for (int c = 0; c < s.inC; c++) {
    for (int b = 0; b < nc; b++) {
      // The padded plane's zeros are written for the first plane only (work holds nothing else meanwhile).
      input(s, tH, tW, x + (n0 + b) * xImage + (static_cast<long>(grp) * s.inC + c) * inPlane, V + c * T + b * tpi, vps, work,
            c > 0 || b > 0);
    }
  }
}
namespace avx2 { MYELIN_DECLARE_WINO }
namespace avx512 { MYELIN_DECLARE_WINO }

}  // namespace myelin
