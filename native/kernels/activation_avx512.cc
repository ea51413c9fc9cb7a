// The exact GELU (forward and backward), sigmoid and tanh (forward) on 16 lanes for AVX-512 CPUs. The
// same algorithms, constants and operation order as the AVX2 forms (vecmath_avx2.h, activation_avx2.cc
// gelu_grad), so the results are bit-identical to them; every other kernel runs the AVX2 code.
//
// Why these: each is a dependency chain of 15-40 operations per vector (exp, a division, GELU's
// degree-9 polynomial). Zen 4 runs a 512-bit operation as two 256-bit halves but keeps it as one entry
// of the reorder window, so twice as many elements are in flight and the chain's latency hides better.
// One thread, CPU time, AMD EPYC Zen 4, 4K-4M floats (docs/performance.md, "Thread counts and AVX-512
// elementwise kernels"): sigmoid forward 0.445-0.450 -> 0.304-0.314 ns per element (1.44-1.46x), tanh
// forward 0.561-0.565 -> 0.404-0.410 (1.38-1.39x); their backward forms (one or two products per
// element, streaming) measured 0.91-1.06x, so they stay at AVX2, as relu and leakyRelu.
#include "activation.h"
#include "isa.h"
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (activation.cc never calls it)
#include <immintrin.h>

#include "codes.gen.h"
#include "vecmath_avx512.h"

namespace myelin {
namespace avx512 {

namespace {

using vm512::splat;

inline __m512 abs_ps(__m512 x) { return _mm512_andnot_ps(splat(-0.0f), x); }
inline __m512 blend(__mmask16 k, __m512 a, __m512 b) { return _mm512_mask_blend_ps(k, a, b); }  // k ? b : a

// vm::phi_ps of vecmath_avx2.h on 16 lanes (see there for the method and its error).
inline __m512 phi_ps(__m512 x) {
  __m512 a = _mm512_min_ps(abs_ps(x), splat(19.5f));
  __m512 t = _mm512_mul_ps(a, splat(0.70710678118654752f));
  __m512 u = _mm512_div_ps(splat(1.0f), _mm512_fmadd_ps(t, splat(0.5f), splat(1.0f)));
  __m512 p = splat(0.16098695993423462f);
  p = _mm512_fmadd_ps(p, u, splat(-0.7679831385612488f));
  p = _mm512_fmadd_ps(p, u, splat(1.3609702587127686f));
  p = _mm512_fmadd_ps(p, u, splat(-0.966610312461853f));
  p = _mm512_fmadd_ps(p, u, splat(0.1417572945356369f));
  p = _mm512_fmadd_ps(p, u, splat(-0.11561214178800583f));
  p = _mm512_fmadd_ps(p, u, splat(0.07387485355138779f));
  p = _mm512_fmadd_ps(p, u, splat(0.3785535395145416f));
  p = _mm512_fmadd_ps(p, u, splat(0.9995548725128174f));
  p = _mm512_fmadd_ps(p, u, splat(-1.2654922008514404f));
  __m512 a2 = _mm512_mul_ps(a, a);
  __m512 hi = _mm512_mul_ps(splat(-0.5f), a2);
  __m512 lo = _mm512_mul_ps(splat(-0.5f), _mm512_fmsub_ps(a, a, a2));
  __m512 s = _mm512_add_ps(p, hi);
  __m512 bb = _mm512_sub_ps(s, p);
  __m512 err = _mm512_add_ps(_mm512_sub_ps(p, _mm512_sub_ps(s, bb)), _mm512_sub_ps(hi, bb));
  __m512 e = vm512::exp_ps(s);
  e = _mm512_fmadd_ps(e, _mm512_add_ps(err, lo), e);
  __m512 half_erfc = _mm512_mul_ps(_mm512_mul_ps(splat(0.5f), u), e);
  __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
  __m512 r = blend(pos, half_erfc, _mm512_sub_ps(splat(1.0f), half_erfc));
  return blend(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), r, x);  // NaN -> NaN
}

// activation_avx2.cc's clamps and gelu_grad on 16 lanes.
inline __m512 clamp_lo(__m512 x) { return _mm512_max_ps(splat(-20.0f), x); }
inline __m512 clamp_pm(__m512 x) { return _mm512_min_ps(splat(20.0f), _mm512_max_ps(splat(-20.0f), x)); }
inline __m512 gelu_grad(__m512 x) {  // Phi(x) + x phi(x)
  x = clamp_pm(x);
  __m512 x2 = _mm512_mul_ps(x, x);
  __m512 lo = _mm512_mul_ps(splat(-0.5f), _mm512_fmsub_ps(x, x, x2));
  __m512 e = vm512::exp_ps(_mm512_mul_ps(splat(-0.5f), x2));
  e = _mm512_fmadd_ps(e, lo, e);
  __m512 pdf = _mm512_mul_ps(splat(0.3989422804014327f), e);
  return _mm512_fmadd_ps(x, pdf, phi_ps(x));
}

// y = f(x) on 16 lanes for every element, the tail through zero-filled lanes (the same vector code
// for every element, as the AVX2 kernels).
template <typename F>
void map16(long n, const float* x, float* y, F f) {
  long i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 k = vm512::tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, k, f(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

}  // namespace

void activation_forward(int act, long n, const float* x, float* y, float alpha) {
  switch (act) {
    case kActGelu: map16(n, x, y, [](__m512 v) { return _mm512_mul_ps(clamp_lo(v), phi_ps(clamp_lo(v))); }); break;
    case kActSigmoid: map16(n, x, y, [](__m512 v) { return vm512::sigmoid_ps(v); }); break;
    case kActTanh: map16(n, x, y, [](__m512 v) { return vm512::tanh_ps(v); }); break;
    default: avx2::activation_forward(act, n, x, y, alpha);
  }
}

void activation_backward(int act, long n, const float* x, const float* y, const float* dy, float* dx, float alpha) {
  if (act != kActGelu) {
    avx2::activation_backward(act, n, x, y, dy, dx, alpha);
    return;
  }
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(dx + i, _mm512_mul_ps(_mm512_loadu_ps(dy + i), gelu_grad(_mm512_loadu_ps(x + i))));
  }
  if (i < n) {
    const __mmask16 k = vm512::tail_mask(n - i);
    _mm512_mask_storeu_ps(dx + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + i), gelu_grad(_mm512_maskz_loadu_ps(k, x + i))));
  }
}

}  // namespace avx512
}  // namespace myelin
#endif
