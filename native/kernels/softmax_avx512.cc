// Softmax row loops for AVX-512: vector max and vector exp (bit-identical to AVX2's exp) on 16
// lanes with masked tails, row sums in double (8 + 8 lanes; the sum's rounding order differs from
// the AVX2 build's, within the twin tests' tolerance).
#include <math.h>

#include <cstdint>

#include "isa.h"
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (see avx2_absent.cc)
#include "vecmath_avx512.h"

namespace myelin {
namespace avx512 {

static float row_max(long n, const float* x) {
  long j = 0;
  float m = x[0];
  if (n >= 16) {
    __m512 vm0 = _mm512_loadu_ps(x);
    for (j = 16; j + 16 <= n; j += 16) vm0 = _mm512_max_ps(vm0, _mm512_loadu_ps(x + j));
    m = _mm512_reduce_max_ps(vm0);
  }
  for (; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

static double exp_shift_sum(long n, const float* x, float shift, float* out) {
  const __m512 vs = _mm512_set1_ps(shift);
  __m512d a0 = _mm512_setzero_pd(), a1 = a0;
  long j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 e = vm512::exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), vs));
    if (out) _mm512_storeu_ps(out + j, e);
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  if (j < n) {  // masked-off lanes are zeroed after the exp and add nothing
    const __mmask16 m = vm512::tail_mask(n - j);
    __m512 e = _mm512_maskz_mov_ps(m, vm512::exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), vs)));
    if (out) _mm512_mask_storeu_ps(out + j, m, e);
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
}

#include "softmax_loops.inc"

}  // namespace avx512
}  // namespace myelin
#endif  // x86-64
