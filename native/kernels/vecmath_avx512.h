// Vectorised exp for AVX-512 (16 lanes); include ONLY from *_avx512.cc units.
//
// The same algorithm, constants and operation order as vm::exp_ps in vecmath_avx2.h (see there for
// the method and its measured error), so the AVX-512 and AVX2 kernels give bit-identical results.
// `static inline` for the reason given in vecmath_avx2.h.
#pragma once
#include <immintrin.h>

namespace myelin {
namespace vm512 {

static inline __m512 splat(float v) { return _mm512_set1_ps(v); }

static inline __m512 exp_ps(__m512 x) {
  const __m512 magic = splat(12582912.0f);
  x = _mm512_min_ps(splat(89.0f), x);  // NaN kept: max/min return the second operand
  x = _mm512_max_ps(splat(-105.0f), x);
  __m512 t = _mm512_fmadd_ps(x, splat(1.44269504088896341f), magic);
  __m512 n = _mm512_sub_ps(t, magic);
  __m512i ni = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(magic));
  __m512 r = _mm512_fnmadd_ps(n, splat(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, splat(1.42860682030941723e-06f), r);
  __m512 p = splat(0.008290302939713001f);
  p = _mm512_fmadd_ps(p, r, splat(0.04189792275428772f));
  p = _mm512_fmadd_ps(p, r, splat(0.1666763573884964f));
  p = _mm512_fmadd_ps(p, r, splat(0.4999915063381195f));
  p = _mm512_fmadd_ps(p, r, splat(0.9999997019767761f));
  p = _mm512_fmadd_ps(p, r, splat(1.0f));
  __m512i n1 = _mm512_srai_epi32(ni, 1);
  __m512i n2 = _mm512_sub_epi32(ni, n1);
  const __m512i bias = _mm512_set1_epi32(127);
  __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
  __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
  return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

// vm::sigmoid_ps and vm::tanh_ps of vecmath_avx2.h on 16 lanes: the same constants and operation order
// (bit-identical results; see there for the method and error).
static inline __m512 sigmoid_ps(__m512 x) {
  __m512 e = exp_ps(_mm512_or_ps(x, splat(-0.0f)));  // exp(-|x|)
  __m512 s = _mm512_div_ps(e, _mm512_add_ps(splat(1.0f), e));
  __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
  return _mm512_mask_blend_ps(pos, s, _mm512_sub_ps(splat(1.0f), s));  // pos ? 1 - s : s
}

static inline __m512 tanh_ps(__m512 x) {
  const __m512 sign = _mm512_and_ps(x, splat(-0.0f));
  __m512 a = _mm512_andnot_ps(splat(-0.0f), x);
  __m512 a2 = _mm512_mul_ps(a, a);
  __m512 q = splat(-0.005704967770725489f);
  q = _mm512_fmadd_ps(q, a2, splat(0.020639071241021156f));
  q = _mm512_fmadd_ps(q, a2, splat(-0.05373971164226532f));
  q = _mm512_fmadd_ps(q, a2, splat(0.13331441581249237f));
  q = _mm512_fmadd_ps(q, a2, splat(-0.3333328068256378f));
  __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(q, a2), a, a);
  __m512 e = exp_ps(_mm512_add_ps(a, a));
  __m512 big = _mm512_sub_ps(splat(1.0f), _mm512_div_ps(splat(2.0f), _mm512_add_ps(e, splat(1.0f))));
  __mmask16 use_small = _mm512_cmp_ps_mask(a, splat(0.625f), _CMP_LT_OQ);
  return _mm512_or_ps(_mm512_mask_blend_ps(use_small, big, small), sign);
}

// Mask of the first m (< 16) lanes, for loads and stores of a row's tail.
static inline __mmask16 tail_mask(long m) { return static_cast<__mmask16>((1u << m) - 1u); }

}  // namespace vm512
}  // namespace myelin
