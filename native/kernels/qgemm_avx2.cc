// int8 GEMM rows on AVX2 (built with -mavx2 -mfma; called only after run-time dispatch, qgemm.cc).
//
// vpmaddubsw multiplies u8 by s8 and adds pairs into int16 with saturation: 255 * 127 * 2 would
// saturate, so A is not shifted to u8 here; instead |a| (<= 127) times sign(a) * w (|w| <= 127):
// a pair sums to at most 2 * 127 * 127 = 32258 < 32767, exact. vpmaddwd by ones then adds pairs of
// int16 into int32 (4 k per lane).
#include "qgemm_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstring>

namespace myelin {
namespace qgemm_kernels {
namespace {

constexpr int kMR = kAvx2Rows;  // rows per tile; the tile is kMR x 16 columns (two ymm per row)

// A value the compiler cannot see through: keeps a product rounded before the following addition
// (no FMA contraction), as the int8 epilogue contract says.
inline __m256 opaque(__m256 v) {
  __asm__("" : "+x"(v));
  return v;
}

template <int R>
void tile(const I8Args& p, int i0, int jb) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const int8_t* w = p.w + static_cast<long>(jb) * 16 * p.K4;
  const uint8_t* a = p.a + static_cast<long>(i0 / kMR) * kMR * p.K4 + (i0 % kMR) * 4;
  for (int k = 0; k < p.K4; k += 4, a += kMR * 4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16 + 32));
    for (int r = 0; r < R; ++r) {
      int32_t four;
      std::memcpy(&four, a + r * 4, 4);
      const __m256i av = _mm256_set1_epi32(four);
      const __m256i aa = _mm256_abs_epi8(av);
      const __m256i p0 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(w0, av));
      const __m256i p1 = _mm256_maddubs_epi16(aa, _mm256_sign_epi8(w1, av));
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(p0, ones));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(p1, ones));
    }
  }
  const int j0 = jb * 16;
  const int cols = p.N - j0 < 16 ? p.N - j0 : 16;
  for (int r = 0; r < R; ++r) {
    const __m256 as = _mm256_set1_ps(p.a_scale[i0 + r]);
    alignas(32) float z[16];
    for (int h = 0; h < 2; ++h) {
      const int jj = j0 + 8 * h;
      __m256 ws, bs;
      if (cols == 16) {
        ws = _mm256_loadu_ps(p.w_scale + jj);
        bs = p.bias != nullptr ? _mm256_loadu_ps(p.bias + jj) : _mm256_setzero_ps();
      } else {  // edge block: lanes past N read as zero
        alignas(32) float wsb[8] = {0}, bb[8] = {0};
        for (int t = 0; t < 8 && jj + t < p.N; ++t) {
          wsb[t] = p.w_scale[jj + t];
          if (p.bias != nullptr) bb[t] = p.bias[jj + t];
        }
        ws = _mm256_load_ps(wsb);
        bs = _mm256_load_ps(bb);
      }
      const __m256 s = opaque(_mm256_mul_ps(as, ws));
      __m256 v = opaque(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][h]), s));
      if (p.bias != nullptr) v = _mm256_add_ps(v, bs);
      _mm256_store_ps(z + 8 * h, v);
    }
    std::memcpy(p.out + static_cast<long>(i0 + r) * p.N + j0, z, cols * sizeof(float));
  }
}

}  // namespace

float row_absmax_avx2(int K, const float* x, bool* nonfinite) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 inf = _mm256_set1_ps(__builtin_inff());
  __m256 m = _mm256_setzero_ps();
  __m256 bad = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= K; k += 8) {
    const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k));
    m = _mm256_max_ps(m, a);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, inf, _CMP_NLT_UQ));  // |x| >= inf, or NaN
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  float r = 0.0f;
  for (float v : lanes) r = v > r ? v : r;
  bool any = _mm256_movemask_ps(bad) != 0;
  for (; k < K; ++k) {
    const float a = __builtin_fabsf(x[k]);
    r = a > r ? a : r;
    any = any || !(a < __builtin_inff());
  }
  *nonfinite = any;
  return r;
}

void row_quantize_avx2(int K, const float* x, float inv, int8_t* q) {
  const __m256 s = _mm256_set1_ps(inv);
  const __m256 hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
  int k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + k), s);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    const __m256i i32 = _mm256_cvtps_epi32(v);  // MXCSR rounding: nearest even
    const __m256i i16 = _mm256_packs_epi32(i32, i32);
    const __m256i i8 = _mm256_packs_epi16(i16, i16);
    const int32_t a = _mm256_extract_epi32(i8, 0), b = _mm256_extract_epi32(i8, 4);
    std::memcpy(q + k, &a, 4);
    std::memcpy(q + k + 4, &b, 4);
  }
  for (; k < K; ++k) {
    float v = x[k] * inv;
    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
    q[k] = static_cast<int8_t>(_mm_cvtss_si32(_mm_set_ss(v)));
  }
}

void i8_rows_avx2(const I8Args& p) {
  const int NB = (p.N + 15) / 16;
  int i = 0;
  for (; i + kMR <= p.rows; i += kMR)
    for (int jb = 0; jb < NB; ++jb) tile<kMR>(p, i, jb);
  for (; i < p.rows; ++i)
    for (int jb = 0; jb < NB; ++jb) tile<1>(p, i, jb);
}

}  // namespace qgemm_kernels
}  // namespace myelin
#endif
