// Vectorised float math for AVX2+FMA (exp, sigmoid, tanh, Phi/gelu); include ONLY from *_avx2.cc units.
//
// Everything here is `static inline` (internal linkage), so no AVX2-compiled inline function can be
// merged by the linker into portable code. Coefficients were fitted by us (Lawson/minimax on
// float64, see the comments); the max errors below were measured against double-precision libm
// over a dense sweep of the float range (native/tests/kernels_test.cc prints them).
#pragma once
#include <immintrin.h>

namespace myelin {
namespace vm {

static inline __m256 splat(float v) { return _mm256_set1_ps(v); }

// exp(x). Magic-bias rounding n = round(x / ln2), two-constant Cody-Waite reduction
// r = x - n ln2_hi - n ln2_lo, degree-5 minimax polynomial on [-ln2/2, ln2/2] (fit error 9.2e-8),
// then 2^n applied as two exponent-shifted factors 2^(n/2) * 2^(n - n/2) so that n = 128 (results
// near FLT_MAX) and gradual underflow both work. x is clamped to [-105, 89] with NaN-propagating
// operand order: +inf -> inf, -inf -> 0, NaN -> NaN, x < -103.98 -> 0.
// Measured max relative error vs double: 1.6e-7 (normal results; subnormal results are accurate
// to 1 subnormal ulp).
static inline __m256 exp_ps(__m256 x) {
  const __m256 magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  // max/min return their SECOND operand when either is NaN: keep x second so NaN survives.
  x = _mm256_min_ps(splat(89.0f), x);
  x = _mm256_max_ps(splat(-105.0f), x);
  __m256 t = _mm256_fmadd_ps(x, splat(1.44269504088896341f), magic);
  __m256 n = _mm256_sub_ps(t, magic);
  __m256i ni = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
  __m256 r = _mm256_fnmadd_ps(n, splat(0.693145751953125f), x);  // ln2_hi: 16 significant bits
  r = _mm256_fnmadd_ps(n, splat(1.42860682030941723e-06f), r);     // ln2_lo = ln2 - ln2_hi
  __m256 p = splat(0.008290302939713001f);
  p = _mm256_fmadd_ps(p, r, splat(0.04189792275428772f));
  p = _mm256_fmadd_ps(p, r, splat(0.1666763573884964f));
  p = _mm256_fmadd_ps(p, r, splat(0.4999915063381195f));
  p = _mm256_fmadd_ps(p, r, splat(0.9999997019767761f));
  p = _mm256_fmadd_ps(p, r, splat(1.0f));
  __m256i n1 = _mm256_srai_epi32(ni, 1);
  __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

static inline __m256 abs_ps(__m256 x) {
  return _mm256_andnot_ps(splat(-0.0f), x);
}

// sigmoid(x): e = exp(-|x|), s = e / (1 + e) is sigmoid(-|x|); reflect: x > 0 -> 1 - s.
// Measured max relative error vs double: 3.6e-7.
static inline __m256 sigmoid_ps(__m256 x) {
  __m256 e = exp_ps(_mm256_or_ps(x, splat(-0.0f)));  // exp(-|x|)
  __m256 s = _mm256_div_ps(e, _mm256_add_ps(splat(1.0f), e));
  __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
  return _mm256_blendv_ps(s, _mm256_sub_ps(splat(1.0f), s), pos);
}

// tanh(x): |x| < 0.625 -> odd minimax polynomial x + x^3 Q(x^2) (fit error 4.4e-9);
// else 1 - 2 / (exp(2|x|) + 1); the sign of x is copied back. NaN -> NaN, +-inf -> +-1.
// Measured max relative error vs double: 2.4e-7.
static inline __m256 tanh_ps(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, splat(-0.0f));
  __m256 a = abs_ps(x);
  __m256 a2 = _mm256_mul_ps(a, a);
  __m256 q = splat(-0.005704967770725489f);
  q = _mm256_fmadd_ps(q, a2, splat(0.020639071241021156f));
  q = _mm256_fmadd_ps(q, a2, splat(-0.05373971164226532f));
  q = _mm256_fmadd_ps(q, a2, splat(0.13331441581249237f));
  q = _mm256_fmadd_ps(q, a2, splat(-0.3333328068256378f));
  __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(q, a2), a, a);
  __m256 e = exp_ps(_mm256_add_ps(a, a));
  __m256 big = _mm256_sub_ps(splat(1.0f), _mm256_div_ps(splat(2.0f), _mm256_add_ps(e, splat(1.0f))));
  __m256 use_small = _mm256_cmp_ps(a, splat(0.625f), _CMP_LT_OQ);
  return _mm256_or_ps(_mm256_blendv_ps(big, small, use_small), sign);
}

// Phi(x), the standard normal CDF, reflected so the negative tail keeps full relative accuracy:
// for a = |x|, t = a / sqrt 2, 0.5 erfc(t) = 0.5 u exp(P(u) - t^2) with u = 1 / (1 + t/2) and P a
// degree-9 polynomial we fitted to log(erfc(t) e^(t^2) / u) on t in [0, 14] (fit error 6e-8).
// t^2 = a^2 / 2 is formed exactly as hi + lo with an FMA (not from the rounded t), and the
// exponent P - hi is summed with TwoSum: both rounding errors are folded back in as a first-order
// factor (1 + err - lo), so the tail (results down to FLT_MIN) stays at ~1e-6 relative.
static inline __m256 phi_ps(__m256 x) {
  __m256 a = _mm256_min_ps(abs_ps(x), splat(19.5f));
  __m256 t = _mm256_mul_ps(a, splat(0.70710678118654752f));
  __m256 u = _mm256_div_ps(splat(1.0f), _mm256_fmadd_ps(t, splat(0.5f), splat(1.0f)));
  __m256 p = splat(0.16098695993423462f);
  p = _mm256_fmadd_ps(p, u, splat(-0.7679831385612488f));
  p = _mm256_fmadd_ps(p, u, splat(1.3609702587127686f));
  p = _mm256_fmadd_ps(p, u, splat(-0.966610312461853f));
  p = _mm256_fmadd_ps(p, u, splat(0.1417572945356369f));
  p = _mm256_fmadd_ps(p, u, splat(-0.11561214178800583f));
  p = _mm256_fmadd_ps(p, u, splat(0.07387485355138779f));
  p = _mm256_fmadd_ps(p, u, splat(0.3785535395145416f));
  p = _mm256_fmadd_ps(p, u, splat(0.9995548725128174f));
  p = _mm256_fmadd_ps(p, u, splat(-1.2654922008514404f));
  __m256 a2 = _mm256_mul_ps(a, a);
  __m256 hi = _mm256_mul_ps(splat(-0.5f), a2);                  // -t^2 (rounded)
  __m256 lo = _mm256_mul_ps(splat(-0.5f), _mm256_fmsub_ps(a, a, a2));  // exact remainder
  __m256 s = _mm256_add_ps(p, hi);                              // TwoSum(p, hi)
  __m256 bb = _mm256_sub_ps(s, p);
  __m256 err = _mm256_add_ps(_mm256_sub_ps(p, _mm256_sub_ps(s, bb)), _mm256_sub_ps(hi, bb));
  __m256 e = exp_ps(s);
  e = _mm256_fmadd_ps(e, _mm256_add_ps(err, lo), e);           // e * (1 + err + lo)
  __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(splat(0.5f), u), e);
  __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
  __m256 r = _mm256_blendv_ps(half_erfc, _mm256_sub_ps(splat(1.0f), half_erfc), pos);
  return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN -> NaN
}

// gelu(x) = x Phi(x) (exact form). Measured max relative error vs double: see activation_avx2.cc.
static inline __m256 gelu_ps(__m256 x) { return _mm256_mul_ps(x, phi_ps(x)); }

// geluTanh(x) = 0.5 x (1 + tanh(k (x + c x^3))) = x * sigmoid(2 k (x + c x^3)): the sigmoid form
// stays accurate in the negative tail where 1 + tanh cancels.
static inline __m256 gelu_tanh_inner_ps(__m256 x) {  // 2 k (x + c x^3)
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(x2, splat(0.044715f)), x, x);
  return _mm256_mul_ps(inner, splat(1.5957691216057308f));  // 2 sqrt(2/pi)
}
static inline __m256 gelu_tanh_ps(__m256 x) {
  return _mm256_mul_ps(x, sigmoid_ps(gelu_tanh_inner_ps(x)));
}

}  // namespace vm
}  // namespace myelin
