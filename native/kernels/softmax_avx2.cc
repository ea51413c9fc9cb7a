// Softmax row loops for AVX2+FMA: vector max, vector exp with double-precision row sums.
#include <math.h>

#include <cstdint>

#include "isa.h"
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (see avx2_absent.cc)
#include "vecmath_avx2.h"

namespace myelin {
namespace avx2 {

static float row_max(long n, const float* x) {
  long j = 0;
  float m = x[0];
  if (n >= 8) {
    __m256 vm0 = _mm256_loadu_ps(x);
    for (j = 8; j + 8 <= n; j += 8) vm0 = _mm256_max_ps(vm0, _mm256_loadu_ps(x + j));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(vm0), _mm256_extractf128_ps(vm0, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    m = _mm_cvtss_f32(h);
  }
  for (; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

static double exp_shift_sum(long n, const float* x, float shift, float* out) {
  const __m256 vs = _mm256_set1_ps(shift);
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  long j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 e = vm::exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vs));
    if (out) _mm256_storeu_ps(out + j, e);
    a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  __m256d a = _mm256_add_pd(a0, a1);
  __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  double s = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
  if (j < n) {
    float in[8], res[8];
    for (long k = 0; k < 8; ++k) in[k] = j + k < n ? x[j + k] - shift : -200.0f;  // exp -> 0
    _mm256_storeu_ps(res, vm::exp_ps(_mm256_loadu_ps(in)));
    for (long k = j; k < n; ++k) {
      if (out) out[k] = res[k - j];
      s += res[k - j];
    }
  }
  return s;
}

#include "softmax_loops.inc"

}  // namespace avx2
}  // namespace myelin
#endif  // x86-64
