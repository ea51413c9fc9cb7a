// Internal: the direct convolution loop for small patches (conv.cc), compiled three times: portable,
// AVX2+FMA (conv_avx2.cc) and AVX-512 (conv_avx512.cc), picked at run time by gemm_simd_level().
#pragma once

namespace myelin {

// One image and group, stride 1: y[o, oh, ow] = act(bias[o] + sum over c, kh, kw of
// w[o, c, kh, kw] * x[c, oh - PH + kh*DH, ow - PW + kw*DW]) (0 outside the image), act applied here
// only for relu (act_relu true); bias may be null. scratch holds conv_direct_scratch(...) floats.
#define MYELIN_DECLARE_CONV_DIRECT                                                                    \
  void conv_direct_image(int Cg, int OCg, int H, int W, int OH, int OW, int KH, int KW, int PH, int PW, \
                         int DH, int DW, const float* x, const float* w, const float* bias,          \
                         bool act_relu, float* y, float* scratch);

// Floats of scratch conv_direct_image needs: the padded planes, their read slack, OH padded rows.
inline long conv_direct_scratch(int Cg, int H, int W, int OH, int KW, int PH, int PW, int DW) {
  const long Wp = W + 2L * PW;
  return Cg * (H + 2L * PH) * Wp + static_cast<long>(KW) * DW + OH * Wp;
}

// The register-blocked direct convolution (stride 1) of one image and group. Sizes: the input is
// Cg x H x W, the output OCg x OH x OW (OH = H + 2PH - DH(KH-1), likewise OW).
struct DirectShape {
  int Cg, OCg, H, W, OH, OW, KH, KW, PH, PW, DH, DW;
};

// conv_blocked_oc(): output channels per register tile (OB); conv_blocked_q(): floats of the
// flattened padded plane per tile (QB).
// conv_blocked_image: y = act(bias + conv(x, w)) as conv_direct_image, with w packed by
// pack_blocked (conv.cc: OB output channels interleaved per tap); scratch: conv_blocked_scratch(s, OB, QB).
// conv_blocked_dw_image: dw[o, t] += sum over the plane of dy[o] times x at tap t (tapoff[t] =
// c*Hp*Wp + kh*DH*Wp + kw*DW, t = (c*KH + kh)*KW + kw); scratch: conv_blocked_scratch(s, OCg + 1, VL).
// Its sums also multiply the dropped columns' zeros by input values: an Inf or NaN in x reaches the
// taps those columns read as NaN (where im2col + GEMM would leave some finite).
#define MYELIN_DECLARE_CONV_BLOCKED                                                                         \
  int conv_blocked_oc();                                                                                    \
  int conv_blocked_q();                                                                                     \
  void conv_blocked_image(const DirectShape& s, const float* x, const float* wp, const float* bias,          \
                          bool act_relu, float* y, float* scratch);                                         \
  void conv_blocked_dw_image(const DirectShape& s, const long* tapoff, const float* x, const float* dy,      \
                             float* dw, float* scratch);                                                  \
  int conv_dwt_lanes();                                                                                     \
  void conv_dwt_image(const DirectShape& s, const long* tapoff, const float* x, const float* dy, float* dwt, \
                      float* scratch);                                                                      \
  void conv_ovec_image(const DirectShape& s, const long* tapoff, const long* base, const float* x,          \
                       const float* wT, const float* bias, bool act_relu, float* y, float* scratch);

// conv_dwt_image: dwt[t, o] += the same sums as conv_blocked_dw_image, into a [K + 1, OCr] accumulator
// (OCr = OCg rounded up to conv_dwt_lanes(); row K and the columns past OCg are scratch); scratch:
// conv_blocked_scratch(s, OCr, 1).
// conv_ovec_image: the forward with positions as rows and output channels as vectors (no dropped
// columns): wT = w as [K, OCr] (pack_blocked with OB = OCr), tapoff as above, base[p] = oh*Wp + ow for
// the P = OH*OW outputs then kOvecPad zeros; scratch: conv_blocked_scratch(s, 0, 1) + (P + kOvecPad)*OCr.
constexpr long kOvecPad = 32;  // >= the register tile's positions (MYELIN_CONV_WACC)
// Floats of scratch the blocked kernels need: the padded planes with their read slack (rounded to 16),
// then rows planes of the padded output rounded up to a multiple of QB (the forward's accumulators:
// rows = OB; the weight gradient's padded dY: rows = OCg + 1, QB = the vector's lanes).
inline long conv_blocked_scratch(const DirectShape& s, int rows, long QB) {
  const long Wp = s.W + 2L * s.PW, plane = (s.H + 2L * s.PH) * Wp;
  const long Q = s.OH * Wp, Qr = (Q + QB - 1) / QB * QB;
  const long xlen = s.Cg * plane + static_cast<long>(s.KW) * s.DW + (Qr - Q);
  return (xlen + 15) / 16 * 16 + rows * Qr;
}

namespace scalar { MYELIN_DECLARE_CONV_DIRECT MYELIN_DECLARE_CONV_BLOCKED }
namespace avx2 { MYELIN_DECLARE_CONV_DIRECT MYELIN_DECLARE_CONV_BLOCKED }
namespace avx512 { MYELIN_DECLARE_CONV_DIRECT MYELIN_DECLARE_CONV_BLOCKED }

}  // namespace myelin
