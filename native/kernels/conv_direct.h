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

namespace scalar { MYELIN_DECLARE_CONV_DIRECT }
namespace avx2 { MYELIN_DECLARE_CONV_DIRECT }
namespace avx512 { MYELIN_DECLARE_CONV_DIRECT }

}  // namespace myelin
