// Activation kernels: the portable scalar versions and the run-time AVX2/scalar dispatch.
#include "activation.h"

#include <math.h>

#include "gemm.h"
#include "isa.h"
#include "../runtime/cpu.h"

namespace myelin {
namespace scalar {

// Portable scalar forms, evaluated in float with libm (expf, erfcf, tanhf are correctly rounded
// to within ~1 ulp in glibc). gelu uses erfc so the negative tail keeps relative accuracy.
static inline float phi(float x) { return 0.5f * ::erfcf(-x * 0.70710678118654752f); }
static inline float sigmoid(float x) {
  float e = ::expf(-__builtin_fabsf(x));
  float s = e / (1.0f + e);
  return x > 0.0f ? 1.0f - s : s;
}
static inline float gelu_tanh_inner(float x) {  // 2 sqrt(2/pi) (x + 0.044715 x^3)
  return 1.5957691216057308f * (x + 0.044715f * x * x * x);
}

void activation_forward(int act, long n, const float* x, float* y, float alpha) {
  switch (act) {
    case kActRelu:
      for (long i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
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
      for (long i = 0; i < n; ++i) y[i] = x[i] * phi(x[i]);
      break;
    case kActGeluTanh:
      for (long i = 0; i < n; ++i) y[i] = x[i] * sigmoid(gelu_tanh_inner(x[i]));
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
      for (long i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
      break;
    case kActGelu:
      for (long i = 0; i < n; ++i) {
        float v = x[i];
        float pdf = 0.3989422804014327f * ::expf(-0.5f * v * v);
        dx[i] = dy[i] * (phi(v) + v * pdf);
      }
      break;
    case kActGeluTanh:
      for (long i = 0; i < n; ++i) {
        // d/dx x s(u) = s + x s (1 - s) u',  s = sigmoid(u), u = 2k (x + c x^3)
        float v = x[i];
        float s = sigmoid(gelu_tanh_inner(v));
        float du = 1.5957691216057308f * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = dy[i] * (s + v * s * (1.0f - s) * du);
      }
      break;
    default:
      if (dx != dy)
        for (long i = 0; i < n; ++i) dx[i] = dy[i];
      break;
  }
}

}  // namespace scalar

void activation_forward(int act, long n, const float* x, float* y, float alpha) {
  if (simd_level() == SimdLevel::Avx2)
    avx2::activation_forward(act, n, x, y, alpha);
  else
    scalar::activation_forward(act, n, x, y, alpha);
}

void activation_backward(int act, long n, const float* x, const float* y, const float* dy,
                         float* dx, float alpha) {
  if (simd_level() == SimdLevel::Avx2)
    avx2::activation_backward(act, n, x, y, dy, dx, alpha);
  else
    scalar::activation_backward(act, n, x, y, dy, dx, alpha);
}

}  // namespace myelin
