// Elementwise kernels for AVX2+FMA: the shared loops compiled for AVX2, vector exp, double sums.
#include <math.h>

#include "elementwise.h"
#include "isa.h"
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (see avx2_absent.cc)
#include "vecmath_avx2.h"

namespace myelin {
namespace avx2 {

static void exp_array(long n, const float* x, float* out) {
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, vm::exp_ps(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float in[8] = {0, 0, 0, 0, 0, 0, 0, 0}, res[8];
    for (long j = i; j < n; ++j) in[j - i] = x[j];
    _mm256_storeu_ps(res, vm::exp_ps(_mm256_loadu_ps(in)));
    for (long j = i; j < n; ++j) out[j] = res[j - i];
  }
}

static void sqrt_array(long n, const float* x, float* out) {
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) out[i] = __builtin_sqrtf(x[i]);  // correctly rounded either way
}

#include "elementwise_loops.inc"

static inline double hsum_pd(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

double sum(long n, const float* x) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
    a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)));
    a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 8)));
    a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 12)));
  }
  // Lane j of a0..a3 holds partial sums j, 4+j, 8+j, 12+j: combined in the order of scalar::sum.
  double s = hsum_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
  for (; i < n; ++i) s += x[i];
  return s;
}

double sum_sq_diff(long n, const float* a, const float* b) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + i)), _mm256_cvtps_pd(_mm_loadu_ps(b + i)));
    __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + i + 4)),
                               _mm256_cvtps_pd(_mm_loadu_ps(b + i + 4)));
    a0 = _mm256_fmadd_pd(d0, d0, a0);
    a1 = _mm256_fmadd_pd(d1, d1, a1);
  }
  double s = hsum_pd(_mm256_add_pd(a0, a1));
  for (; i < n; ++i) {
    double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return s;
}

}  // namespace avx2
}  // namespace myelin
#endif  // x86-64
