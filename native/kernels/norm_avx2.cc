// Normalisation span loops for AVX2+FMA: 8 floats per step, statistics accumulated in double.
#include "norm_spans.h"

#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty and norm.cc never calls it
#include <immintrin.h>

namespace myelin {
namespace norm_avx2 {

static inline double hsum(__m256d a) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

double span_sum(const float* p, long S) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  long j = 0;
  for (; j + 8 <= S; j += 8) {
    __m256 v = _mm256_loadu_ps(p + j);
    a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  double s = hsum(_mm256_add_pd(a0, a1));
  for (; j < S; ++j) s += p[j];
  return s;
}

double span_sq_dev(const float* p, long S, double m) {
  const __m256d vm = _mm256_set1_pd(m);
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  long j = 0;
  for (; j + 8 <= S; j += 8) {
    __m256 v = _mm256_loadu_ps(p + j);
    __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vm);
    __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vm);
    a0 = _mm256_fmadd_pd(d0, d0, a0);
    a1 = _mm256_fmadd_pd(d1, d1, a1);
  }
  double s = hsum(_mm256_add_pd(a0, a1));
  for (; j < S; ++j) {
    double d = p[j] - m;
    s += d * d;
  }
  return s;
}

void span_grad_sums(const float* x, const float* dy, long S, double m, double* s_dy, double* s_dyx) {
  const __m256d vm = _mm256_set1_pd(m);
  __m256d g0 = _mm256_setzero_pd(), g1 = g0, h0 = g0, h1 = g0;
  long j = 0;
  for (; j + 8 <= S; j += 8) {
    __m256 vg = _mm256_loadu_ps(dy + j);
    __m256 vx = _mm256_loadu_ps(x + j);
    __m256d gl = _mm256_cvtps_pd(_mm256_castps256_ps128(vg)), gh = _mm256_cvtps_pd(_mm256_extractf128_ps(vg, 1));
    __m256d xl = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(vx)), vm);
    __m256d xh = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(vx, 1)), vm);
    g0 = _mm256_add_pd(g0, gl);
    g1 = _mm256_add_pd(g1, gh);
    h0 = _mm256_fmadd_pd(gl, xl, h0);
    h1 = _mm256_fmadd_pd(gh, xh, h1);
  }
  double a = hsum(_mm256_add_pd(g0, g1)), b = hsum(_mm256_add_pd(h0, h1));
  for (; j < S; ++j) {
    a += dy[j];
    b += dy[j] * (x[j] - m);
  }
  *s_dy += a;
  *s_dyx += b;
}

void span_normalise(const float* x, long S, float m, float a, float b, float* out) {
  const __m256 vm = _mm256_set1_ps(m), va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  long j = 0;
  for (; j + 8 <= S; j += 8) _mm256_storeu_ps(out + j, _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm), va, vb));
  for (; j < S; ++j) out[j] = (x[j] - m) * a + b;
}

void span_dx(const float* dy, const float* x, long S, float a, float m, float b, float k, float* dx) {
  const __m256 va = _mm256_set1_ps(a), vm = _mm256_set1_ps(m), vb = _mm256_set1_ps(b), vk = _mm256_set1_ps(k);
  long j = 0;
  for (; j + 8 <= S; j += 8) {
    __m256 t = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm), vb, vk);
    _mm256_storeu_ps(dx + j, _mm256_fmadd_ps(_mm256_loadu_ps(dy + j), va, t));
  }
  for (; j < S; ++j) dx[j] = dy[j] * a + (x[j] - m) * b + k;
}

}  // namespace norm_avx2
}  // namespace myelin
#endif
