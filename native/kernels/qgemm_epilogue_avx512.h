// Internal: the activation step of the AVX-512 low-precision epilogues (qgemm_avx512.cc, qconv_avx512.cc).
// Include only inside a unit's AVX-512 region (after its `#pragma GCC target`), in an anonymous namespace
// or as here static inline, so no definition is shared between units built with different ISA flags.
#pragma once
#include <immintrin.h>

#include "codes.gen.h"

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

}  // namespace qgemm_kernels
}  // namespace myelin
