// int8 (AVX512-VNNI) and bf16 (AVX512-BF16) GEMM rows. Built in the AVX-512 unit list
// (-mavx512f -mavx512vl -mavx512dq -mavx512bw -mfma); VNNI and BF16 are enabled for this file's
// functions only (the pragma below). qgemm.cc calls them only when the CPU reports the feature.
//
// int8: vpdpbusd multiplies u8 by s8, so A arrives shifted to u8 (a + 128) and each column's
// 128 * sum_k W[j,k] is subtracted at the end. Wrapping int32 arithmetic makes the result exact
// whenever the true sum fits (K <= kQgemmMaxK). Tiles of up to 12 rows x 32 columns (24 zmm
// accumulators).
#include "qgemm_kernels.h"
#include "codes.gen.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstring>

#include "qgemm_epilogue_avx512.h"

namespace myelin {
namespace qgemm_kernels {

// The quantiser rows need only AVX-512 F/BW: defined before VNNI/BF16 are enabled below.
float row_absmax_avx512(int K, const float* x, bool* nonfinite) {
  const __m512 inf = _mm512_set1_ps(__builtin_inff());
  __m512 m = _mm512_setzero_ps();
  __mmask16 bad = 0;
  for (int k = 0; k < K; k += 16) {
    const __mmask16 live = K - k >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (K - k)) - 1u);
    const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(live, x + k));
    m = _mm512_max_ps(m, a);
    bad |= _mm512_cmp_ps_mask(a, inf, _CMP_NLT_UQ);  // |x| >= inf, or NaN
  }
  *nonfinite = bad != 0;
  return _mm512_reduce_max_ps(m);
}

void row_quantize_avx512(int K, const float* x, float inv, int8_t* q) {
  const __m512 s = _mm512_set1_ps(inv);
  const __m512 hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
  for (int k = 0; k < K; k += 16) {
    const __mmask16 live = K - k >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (K - k)) - 1u);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, x + k), s);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    const __m512i i32 = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm512_mask_cvtsepi32_storeu_epi8(q + k, live, i32);
  }
}

void to_bf16_avx512(long n, const float* x, uint16_t* out) {
  const __m512i exp = _mm512_set1_epi32(0x7f800000), abs = _mm512_set1_epi32(0x7fffffff);
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff);
  const __m512i quiet = _mm512_set1_epi32(0x0040), sign = _mm512_set1_epi32(0x8000);
  for (long i = 0; i < n; i += 16) {
    const __mmask16 live = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512i u = _mm512_maskz_loadu_epi32(live, x + i);
    const __m512i hi = _mm512_srli_epi32(u, 16);
    // nearest even: u + 0x7fff + ((u >> 16) & 1), top half (infinity stays infinity)
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(hi, one)), 16);
    const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs), exp);
    const __mmask16 tiny = _mm512_cmpeq_epi32_mask(_mm512_and_si512(u, exp), _mm512_setzero_si512());
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(hi, quiet));
    r = _mm512_mask_mov_epi32(r, tiny, _mm512_and_si512(hi, sign));
    _mm512_mask_cvtepi32_storeu_epi16(out + i, live, r);
  }
}

// The epilogues of the AMX tiles (qgemm_amx_avx512.cc; the VNNI tiles below inline the same functions).
void i8_epilogue_avx512(const I8Args& p, const int32_t* c, int ldc, int i0, int rows, int jb, int nb) {
  i8_epilogue_block(p, c, ldc, i0, rows, jb, nb);
}

void bf16_epilogue_avx512(const Bf16Args& p, const float* c, int ldc, int i0, int rows, int jb, int nb) {
  bf16_epilogue_block(p, c, ldc, i0, rows, jb, nb);
}

}  // namespace qgemm_kernels
}  // namespace myelin

#pragma GCC push_options
#pragma GCC target("avx512vnni,avx512bf16")
// GCC 12 warns inside its own headers (the undefined pass-through of the masked/rounding forms).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace myelin {
namespace qgemm_kernels {
namespace {

constexpr int kMR = kVnniRows;
static_assert(kBf16Rows == kVnniRows, "walk() tiles both kernels alike");

// Rows i0 .. i0+R of columns jb*16 .. jb*16 + 16*C (C column blocks).
template <int R, int C>
void i8_tile(const I8Args& p, int i0, int jb) {
  // Every loop over acc is unrolled (constant indices), so the accumulators live in registers; the
  // epilogue reads a copy in memory.
  __m512i acc[R][C];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_si512();
  const long block = 16L * p.K4;
  const int8_t* w = p.w + jb * block;
  // Row i0 of its panel (a full tile is a whole panel); group g of row r at a + g * kMR * 4 + r * 4.
  const uint8_t* a = p.a + static_cast<long>(i0 / kMR) * kMR * p.K4 + (i0 % kMR) * 4;
  for (int k = 0; k < p.K4; k += 4, a += kMR * 4) {
    __m512i wv[C];
#pragma GCC unroll 2
    for (int c = 0; c < C; ++c) wv[c] = _mm512_loadu_si512(w + c * block + k * 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      int32_t four;
      std::memcpy(&four, a + r * 4, 4);
      const __m512i av = _mm512_set1_epi32(four);
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], av, wv[c]);
    }
  }
  alignas(64) int32_t sums[R][C][16];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int c = 0; c < C; ++c) _mm512_store_si512(sums[r][c], acc[r][c]);
  i8_epilogue_block(p, &sums[0][0][0], C * 16, i0, R, jb, C);
}

template <int R, int C>
void bf16_tile(const Bf16Args& p, int i0, int jb) {
  __m512 acc[R][C];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  const long block = 16L * p.K2;
  const uint16_t* w = p.w + jb * block;
  const uint16_t* a = p.a + static_cast<long>(i0 / kMR) * kMR * p.K2 + (i0 % kMR) * 2;
  for (int k = 0; k < p.K2; k += 2, a += kMR * 2) {
    __m512i wv[C];
#pragma GCC unroll 2
    for (int c = 0; c < C; ++c) wv[c] = _mm512_loadu_si512(w + c * block + k * 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      int32_t two;
      std::memcpy(&two, a + r * 2, 4);
      const __m512i av = _mm512_set1_epi32(two);
#pragma GCC unroll 2
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], (__m512bh)av, (__m512bh)wv[c]);
    }
  }
  alignas(64) float sums[R][C][16];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int c = 0; c < C; ++c) _mm512_store_ps(sums[r][c], acc[r][c]);
  bf16_epilogue_block(p, &sums[0][0][0], C * 16, i0, R, jb, C);
}

// Walks the rows in tiles of kMR (then single rows) and the columns in pairs of 16-wide blocks.
template <class Args, template <int, int> class Tile>
void walk(const Args& p) {
  const int NB = (p.N + 15) / 16;
  int i = 0;
  for (; i + kMR <= p.rows; i += kMR) {
    int jb = 0;
    for (; jb + 2 <= NB; jb += 2) Tile<kMR, 2>::run(p, i, jb);
    if (jb < NB) Tile<kMR, 1>::run(p, i, jb);
  }
  for (; i < p.rows; ++i) {
    int jb = 0;
    for (; jb + 2 <= NB; jb += 2) Tile<1, 2>::run(p, i, jb);
    if (jb < NB) Tile<1, 1>::run(p, i, jb);
  }
}

template <int R, int C>
struct I8Tile {
  static void run(const I8Args& p, int i, int jb) { i8_tile<R, C>(p, i, jb); }
};
template <int R, int C>
struct Bf16Tile {
  static void run(const Bf16Args& p, int i, int jb) { bf16_tile<R, C>(p, i, jb); }
};

}  // namespace

void i8_rows_avx512vnni(const I8Args& p) { walk<I8Args, I8Tile>(p); }
void bf16_rows_avx512(const Bf16Args& p) { walk<Bf16Args, Bf16Tile>(p); }

}  // namespace qgemm_kernels
}  // namespace myelin

#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
