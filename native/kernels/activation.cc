// Activation kernels: the portable scalar versions and the run-time AVX2/scalar dispatch.
#include "activation.h"

#include <math.h>

#include "gemm.h"
#include "isa.h"
#include "../runtime/cpu.h"

namespace myelin {
namespace scalar {

// Portable scalar forms with libm. The gelu forms are evaluated in double: their arguments
// (x / sqrt 2, x^2 / 2, 2k(x + c x^3)) would otherwise be rounded to float before a function whose
// condition number grows with |x| (measured: gelu 1.2e-5 in float vs < 1e-7 in double at x = -13).
static inline double phi_d(double x) { return 0.5 * ::erfc(-x * 0.70710678118654752); }
static inline float sigmoid(float x) {
  float e = ::expf(-__builtin_fabsf(x));
  float s = e / (1.0f + e);
  return x > 0.0f ? 1.0f - s : s;
}
static inline double gelu_tanh_inner(double x) {  // 2 sqrt(2/pi) (x + 0.044715 x^3)
  return 1.5957691216057308 * (x + 0.044715 * x * x * x);
}
static inline double sigmoid_d(double x) { return 1.0 / (1.0 + ::exp(-x)); }
// gelu forms: below -20 the values are 0 in float, beyond +-20 the derivatives are exactly 1 / 0;
// clamping avoids inf * 0 = NaN at +-inf (NaN stays NaN: comparisons are false).
static inline double clamp_lo(double x) { return x < -20.0 ? -20.0 : x; }
static inline double clamp_pm(double x) { return x < -20.0 ? -20.0 : (x > 20.0 ? 20.0 : x); }

void activation_forward(int act, long n, const float* x, float* y, float alpha) {
  switch (act) {
    case kActRelu:
      // x > 0 (not !(x < 0)): with denormals-are-zero a denormal compares as 0 and becomes 0,
      // like the AVX2 kernel; NaN passes through.
      for (long i = 0; i < n; ++i) y[i] = x[i] > 0.0f || x[i] != x[i] ? x[i] : 0.0f;
      break;
    case kActLeakyRelu:
      for (long i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
      break;
    case kActSigmoid:
      for (long i = 0; i < n; ++i) y[i] = sigmoid(x[i]);
      break;
    case kActTanh:
      for (long i = 0; i < n; ++i) y[i] = ::tanhf(x[i]);
      break;
    case kActGelu:
      for (long i = 0; i < n; ++i) {
        double v = clamp_lo(x[i]);
        y[i] = static_cast<float>(v * phi_d(v));
      }
      break;
    case kActGeluTanh:
      for (long i = 0; i < n; ++i) {
        double v = clamp_lo(x[i]);
        y[i] = static_cast<float>(v * sigmoid_d(gelu_tanh_inner(v)));
      }
      break;
    default:
      if (y != x)
        for (long i = 0; i < n; ++i) y[i] = x[i];
      break;
  }
}

void activation_backward(int act, long n, const float* x, const float* y, const float* dy,
                         float* dx, float alpha) {
  switch (act) {
    case kActRelu:
      for (long i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      break;
    case kActLeakyRelu:
      for (long i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : alpha * dy[i];
      break;
    case kActSigmoid:
      for (long i = 0; i < n; ++i) dx[i] = dy[i] * (y[i] * (1.0f - y[i]));
      break;
    case kActTanh:
      // 1 - y^2 in double: y^2 rounded to float would cancel badly for |y| near 1.
      for (long i = 0; i < n; ++i) {
        double yi = y[i];
        dx[i] = static_cast<float>(dy[i] * (1.0 - yi * yi));
      }
      break;
    case kActGelu:
      for (long i = 0; i < n; ++i) {
        double v = clamp_pm(x[i]);
        double pdf = 0.3989422804014327 * ::exp(-0.5 * v * v);
        // The derivative is rounded to float first, as in the AVX2 kernel and the TS twin
        // (gelu'(-20) ~ -1e-86 is 0, so 0 * Infinity = NaN on every backend).
        dx[i] = dy[i] * static_cast<float>(phi_d(v) + v * pdf);
      }
      break;
    case kActGeluTanh:
      for (long i = 0; i < n; ++i) {
        // d/dx x s(u) = s + x s (1 - s) u',  s = sigmoid(u), u = 2k (x + c x^3)
        double v = clamp_pm(x[i]);
        double s = sigmoid_d(gelu_tanh_inner(v));
        double du = 1.5957691216057308 * (1.0 + 3.0 * 0.044715 * v * v);
        dx[i] = dy[i] * static_cast<float>(s + v * s * (1.0 - s) * du);
      }
      break;
    default:
      if (dx != dy)
        for (long i = 0; i < n; ++i) dx[i] = dy[i];
      break;
  }
}

}  // namespace scalar

// AVX-512 for the exact GELU (forward and backward) and the sigmoid and tanh forward
// (activation_avx512.cc, bit-identical to the AVX2 forms): the other kernels measured no gain at 16
// lanes on Zen 4 (docs/performance.md, "Thread counts and AVX-512 elementwise kernels") and run the
// AVX2 code on an AVX-512 CPU.
static inline bool avx512_activation(int act, bool backward) {
#if defined(__x86_64__) || defined(_M_X64)
  const bool has = act == kActGelu || (!backward && (act == kActSigmoid || act == kActTanh));
  return has && vector_simd_level() == SimdLevel::Avx512;
#else
  (void)act;
  (void)backward;
  return false;
#endif
}

void activation_forward(int act, long n, const float* x, float* y, float alpha) {
#if defined(__x86_64__) || defined(_M_X64)
  if (avx512_activation(act, false)) return avx512::activation_forward(act, n, x, y, alpha);
#endif
  if (simd_level() == SimdLevel::Avx2)
    avx2::activation_forward(act, n, x, y, alpha);
  else
    scalar::activation_forward(act, n, x, y, alpha);
}

void activation_backward(int act, long n, const float* x, const float* y, const float* dy,
                         float* dx, float alpha) {
#if defined(__x86_64__) || defined(_M_X64)
  if (avx512_activation(act, true)) return avx512::activation_backward(act, n, x, y, dy, dx, alpha);
#endif
  if (simd_level() == SimdLevel::Avx2)
    avx2::activation_backward(act, n, x, y, dy, dx, alpha);
  else
    scalar::activation_backward(act, n, x, y, dy, dx, alpha);
}

}  // namespace myelin
