// Activation kernels for AVX2+FMA (built with -mavx2 -mfma; called only after run-time dispatch).
//
// Measured max relative error vs double (native/tests/kernels_test.cc, every 97th float):
//   sigmoid 2.6e-7, tanh 1.9e-7, gelu 4.8e-7, gelu' 1e-6 (relative to |Phi| + |x phi|),
//   geluTanh 3.1e-6 on [-6, inf) (the float-rounded exponent 2k(x + c x^3) dominates: ~|exponent|
//   * 6e-8). Backward forms of relu/sigmoid/tanh are one or two float products (<= 2 ulp).
#include <math.h>

#include "gemm.h"
#include "isa.h"
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (see avx2_absent.cc)
#include "vecmath_avx2.h"

namespace myelin {
namespace avx2 {

namespace {

using vm::splat;

// Applies vector op f to full 8-lane blocks and to the tail through a zero-padded stack block,
// so every element goes through the same vector code (results never depend on position).
#define MYELIN_MAP1(N, X, Y, EXPR)                                  \
  do {                                                              \
    long i_ = 0;                                                    \
    for (; i_ + 8 <= (N); i_ += 8) {                                \
      __m256 v = _mm256_loadu_ps((X) + i_);                         \
      _mm256_storeu_ps((Y) + i_, (EXPR));                           \
    }                                                               \
    if (i_ < (N)) {                                                 \
      float in_[8] = {0, 0, 0, 0, 0, 0, 0, 0}, out_[8];             \
      for (long j_ = i_; j_ < (N); ++j_) in_[j_ - i_] = (X)[j_];    \
      __m256 v = _mm256_loadu_ps(in_);                              \
      _mm256_storeu_ps(out_, (EXPR));                               \
      for (long j_ = i_; j_ < (N); ++j_) (Y)[j_] = out_[j_ - i_];   \
    }                                                               \
  } while (0)

// Same for a function of three inputs (x, y, dy) -> dx.
#define MYELIN_MAP3(N, X, Yv, DY, DX, EXPR)                                        \
  do {                                                                             \
    long i_ = 0;                                                                   \
    for (; i_ + 8 <= (N); i_ += 8) {                                               \
      __m256 vx = _mm256_loadu_ps((X) + i_);                                       \
      __m256 vy = _mm256_loadu_ps((Yv) + i_);                                      \
      __m256 vd = _mm256_loadu_ps((DY) + i_);                                      \
      (void)vx;                                                                    \
      (void)vy;                                                                    \
      _mm256_storeu_ps((DX) + i_, (EXPR));                                         \
    }                                                                              \
    if (i_ < (N)) {                                                                \
      float bx_[8] = {0}, by_[8] = {0}, bd_[8] = {0}, out_[8];                     \
      for (long j_ = i_; j_ < (N); ++j_) {                                         \
        bx_[j_ - i_] = (X)[j_];                                                    \
        by_[j_ - i_] = (Yv)[j_];                                                   \
        bd_[j_ - i_] = (DY)[j_];                                                   \
      }                                                                            \
      __m256 vx = _mm256_loadu_ps(bx_), vy = _mm256_loadu_ps(by_);                 \
      __m256 vd = _mm256_loadu_ps(bd_);                                            \
      (void)vx;                                                                    \
      (void)vy;                                                                    \
      _mm256_storeu_ps(out_, (EXPR));                                              \
      for (long j_ = i_; j_ < (N); ++j_) (DX)[j_] = out_[j_ - i_];                 \
    }                                                                              \
  } while (0)

inline __m256 relu(__m256 v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }  // NaN -> NaN
inline __m256 leaky(__m256 v, __m256 a) {
  __m256 pos = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
  return _mm256_blendv_ps(_mm256_mul_ps(v, a), v, pos);
}
// The gelu forms clamp x (NaN kept: it is the second operand): below -20 the values are 0 in
// float and beyond +-20 the derivatives are exactly 1 / 0, while +-inf would give inf * 0 = NaN.
inline __m256 clamp_lo(__m256 x) { return _mm256_max_ps(splat(-20.0f), x); }
inline __m256 clamp_pm(__m256 x) { return _mm256_min_ps(splat(20.0f), _mm256_max_ps(splat(-20.0f), x)); }

inline __m256 gelu_grad(__m256 x) {  // Phi(x) + x phi(x)
  x = clamp_pm(x);
  // exp(-x^2/2) with x^2 split exactly into hi + lo (FMA), so the tail keeps relative accuracy.
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 lo = _mm256_mul_ps(splat(-0.5f), _mm256_fmsub_ps(x, x, x2));
  __m256 e = vm::exp_ps(_mm256_mul_ps(splat(-0.5f), x2));
  e = _mm256_fmadd_ps(e, lo, e);
  __m256 pdf = _mm256_mul_ps(splat(0.3989422804014327f), e);
  return _mm256_fmadd_ps(x, pdf, vm::phi_ps(x));
}
inline __m256 gelu_tanh_grad(__m256 x) {
  x = clamp_pm(x);
  __m256 s = vm::sigmoid_ps(vm::gelu_tanh_inner_ps(x));
  __m256 du = _mm256_mul_ps(splat(1.5957691216057308f),
                            _mm256_fmadd_ps(_mm256_mul_ps(x, x), splat(3.0f * 0.044715f), splat(1.0f)));
  __m256 t = _mm256_mul_ps(_mm256_mul_ps(s, _mm256_sub_ps(splat(1.0f), s)), du);
  return _mm256_fmadd_ps(x, t, s);
}

}  // namespace

void activation_forward(int act, long n, const float* x, float* y, float alpha) {
  const __m256 va = splat(alpha);
  switch (act) {
    case kActRelu: MYELIN_MAP1(n, x, y, relu(v)); break;
    case kActLeakyRelu: MYELIN_MAP1(n, x, y, leaky(v, va)); break;
    case kActSigmoid: MYELIN_MAP1(n, x, y, vm::sigmoid_ps(v)); break;
    case kActTanh: MYELIN_MAP1(n, x, y, vm::tanh_ps(v)); break;
    case kActGelu: MYELIN_MAP1(n, x, y, vm::gelu_ps(clamp_lo(v))); break;
    case kActGeluTanh: MYELIN_MAP1(n, x, y, vm::gelu_tanh_ps(clamp_lo(v))); break;
    default:
      if (y != x)
        for (long i = 0; i < n; ++i) y[i] = x[i];
      break;
  }
}

void activation_backward(int act, long n, const float* x, const float* y, const float* dy,
                         float* dx, float alpha) {
  const __m256 va = splat(alpha), zero = _mm256_setzero_ps(), one = splat(1.0f);
  switch (act) {
    case kActRelu:
      MYELIN_MAP3(n, x, y, dy, dx, _mm256_and_ps(_mm256_cmp_ps(vy, zero, _CMP_GT_OQ), vd));
      break;
    case kActLeakyRelu:
      MYELIN_MAP3(n, x, y, dy, dx,
                  _mm256_blendv_ps(_mm256_mul_ps(va, vd), vd, _mm256_cmp_ps(vy, zero, _CMP_GT_OQ)));
      break;
    case kActSigmoid:
      MYELIN_MAP3(n, x, y, dy, dx, _mm256_mul_ps(vd, _mm256_mul_ps(vy, _mm256_sub_ps(one, vy))));
      break;
    case kActTanh:
      MYELIN_MAP3(n, x, y, dy, dx, _mm256_mul_ps(vd, _mm256_fnmadd_ps(vy, vy, one)));
      break;
    case kActGelu:
      MYELIN_MAP3(n, x, y, dy, dx, _mm256_mul_ps(vd, gelu_grad(vx)));
      break;
    case kActGeluTanh:
      MYELIN_MAP3(n, x, y, dy, dx, _mm256_mul_ps(vd, gelu_tanh_grad(vx)));
      break;
    default:
      if (dx != dy)
        for (long i = 0; i < n; ++i) dx[i] = dy[i];
      break;
  }
}

}  // namespace avx2
}  // namespace myelin
#endif  // x86-64
