// Internal: the AVX-512 low-precision epilogues (qgemm_avx512.cc's VNNI tiles and, through its
// i8_epilogue_avx512 / bf16_epilogue_avx512, the AMX tiles; the activation step also qconv_avx512.cc).
// Include only inside a unit's AVX-512 region (after its `#pragma GCC target`), in an anonymous namespace
// or as here static inline, so no definition is shared between units built with different ISA flags.
#pragma once
#include <immintrin.h>

#include "codes.gen.h"
#include "qgemm_kernels.h"

namespace myelin {
namespace qgemm_kernels {

// The activations the epilogues apply (activation_forward's rules): relu keeps x > 0 and NaN, else 0;
// leakyRelu x > 0 ? x : f32(alpha * x). Other activations run after the kernel (act = kActNone here).
static inline __m512 epilogue_act(int act, __m512 v, __m512 alpha) {
  const __m512 zero = _mm512_setzero_ps();
  if (act == kActRelu) return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_NLE_UQ), v);
  if (act == kActLeakyRelu) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ),
                                _mm512_mul_round_ps(v, alpha, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), v);
  }
  return v;
}

static inline __mmask16 epilogue_lanes(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

// qgemm_kernels.h's I8Epilogue: qgemm.h's rule on a block of int32 sums (corr subtracted when not null).
static inline void i8_epilogue_block(const I8Args& p, const int32_t* c, int ldc, int i0, int rows, int jb, int nb) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  for (int b = 0; b < nb; ++b) {
    const int j0 = (jb + b) * 16;
    const __mmask16 m = epilogue_lanes(p.N - j0);
    const __m512i corr = p.corr != nullptr ? _mm512_loadu_si512(p.corr + j0) : _mm512_setzero_si512();  // padded to whole blocks
    const __m512 ws = _mm512_maskz_loadu_ps(m, p.w_scale + j0);
    const __m512 bs = p.bias != nullptr ? _mm512_maskz_loadu_ps(m, p.bias + j0) : _mm512_setzero_ps();
    for (int r = 0; r < rows; ++r) {
      // The *_round_ forms are not contracted into an FMA: each step rounds as the contract says.
      const __m512 s = _mm512_mul_round_ps(_mm512_set1_ps(p.a_scale[i0 + r]), ws, kRound);
      const __m512 q = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_loadu_si512(c + static_cast<long>(r) * ldc + 16 * b), corr));
      __m512 v = _mm512_mul_round_ps(q, s, kRound);
      if (p.bias != nullptr) v = _mm512_add_round_ps(v, bs, kRound);
      v = epilogue_act(p.act, v, _mm512_set1_ps(p.alpha));
      float* o = p.out + static_cast<long>(i0 + r) * p.N + j0;
      if (m == 0xffff) _mm512_storeu_ps(o, v);
      else _mm512_mask_storeu_ps(o, m, v);
    }
  }
}

// qgemm_kernels.h's Bf16Epilogue: sum + bias, then the activation.
static inline void bf16_epilogue_block(const Bf16Args& p, const float* c, int ldc, int i0, int rows, int jb, int nb) {
  for (int b = 0; b < nb; ++b) {
    const int j0 = (jb + b) * 16;
    const __mmask16 m = epilogue_lanes(p.N - j0);
    const __m512 bs = p.bias != nullptr ? _mm512_maskz_loadu_ps(m, p.bias + j0) : _mm512_setzero_ps();
    for (int r = 0; r < rows; ++r) {
      const __m512 v = epilogue_act(p.act, _mm512_add_ps(_mm512_loadu_ps(c + static_cast<long>(r) * ldc + 16 * b), bs),
                                    _mm512_set1_ps(p.alpha));
      float* o = p.out + static_cast<long>(i0 + r) * p.N + j0;
      if (m == 0xffff) _mm512_storeu_ps(o, v);
      else _mm512_mask_storeu_ps(o, m, v);
    }
  }
}

}  // namespace qgemm_kernels
}  // namespace myelin
