// Mixed-precision GEMM kernels on AVX512-BF16 (AVX-512 unit; BF16 enabled for this file by the pragma
// below; gemm_mixed_bf16.cc calls them only when the CPU has it): packing fp32 operands into bf16 k
// pairs (rounded while packing) and the 8x32 vdpbf16ps microkernel.
#include "gemm_mixed_bf16_kernels.h"

#ifdef MYELIN_MIXED_BF16_HAVE_X86
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512bf16")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace myelin {
namespace mixed_bf16 {
namespace {

inline __mmask16 lanes16(long n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1u);
}

// 8x8 transpose of 32-bit elements: r[i] holds row i on entry and column i on exit.
__attribute__((always_inline)) inline void transpose8x8(__m256i ri[8]) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_castsi256_ps(ri[i]);
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  ri[0] = _mm256_castps_si256(_mm256_permute2f128_ps(s0, s4, 0x20));
  ri[1] = _mm256_castps_si256(_mm256_permute2f128_ps(s1, s5, 0x20));
  ri[2] = _mm256_castps_si256(_mm256_permute2f128_ps(s2, s6, 0x20));
  ri[3] = _mm256_castps_si256(_mm256_permute2f128_ps(s3, s7, 0x20));
  ri[4] = _mm256_castps_si256(_mm256_permute2f128_ps(s0, s4, 0x31));
  ri[5] = _mm256_castps_si256(_mm256_permute2f128_ps(s1, s5, 0x31));
  ri[6] = _mm256_castps_si256(_mm256_permute2f128_ps(s2, s6, 0x31));
  ri[7] = _mm256_castps_si256(_mm256_permute2f128_ps(s3, s7, 0x31));
}

// Where the 8 pairs of lines [r, r + 8) (r a multiple of 8) and pair p go in panels of width R.
inline uint32_t* slot(uint32_t* dst, int R, long pairs, long r, long p) {
  return dst + (r / R) * pairs * R + p * R + (r % R);
}

// Lines whose k runs along memory (line r, element k at src[r*ld + k]): 8 lines x 16 k at a time,
// rounded to 8 pairs each, then an 8x8 transpose puts each pair's 8 lines side by side. Lines
// [lines, ceil(lines/R)*R) are zero.
void pairs_along_lines(int R, long lines, long kc, const float* src, long ld, uint32_t* dst) {
  const long pairs = (kc + 1) / 2;
  const long padded = (lines + R - 1) / R * R;
  for (long r0 = 0; r0 < padded; r0 += 8) {
    for (long k0 = 0; k0 < kc; k0 += 16) {
      const __mmask16 m = lanes16(kc - k0);
      __m256i v[8];
      for (int i = 0; i < 8; ++i) {
        v[i] = r0 + i < lines ? (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + (r0 + i) * ld + k0))
                              : _mm256_setzero_si256();
      }
      transpose8x8(v);
      const long p0 = k0 / 2;
      const int np = pairs - p0 < 8 ? static_cast<int>(pairs - p0) : 8;
      for (int q = 0; q < np; ++q) _mm256_storeu_si256(reinterpret_cast<__m256i*>(slot(dst, R, pairs, r0, p0 + q)), v[q]);
    }
  }
}

// Lines that run along memory for each k (line r, element k at src[k*ld + r]): rows k and k + 1 of
// 16 lines rounded together (vcvtne2ps2bf16) and interleaved into 16 pairs (vpermw).
void pairs_across_lines(int R, long lines, long kc, const float* src, long ld, uint32_t* dst) {
  const long pairs = (kc + 1) / 2;
  const long padded = (lines + R - 1) / R * R;
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                       23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  for (long p = 0; p < pairs; ++p) {
    const float* row0 = src + 2 * p * ld;
    const bool two = 2 * p + 1 < kc;
    for (long r0 = 0; r0 < padded; r0 += 16) {
      const __mmask16 m = lanes16(lines - r0);
      const __m512 v0 = _mm512_maskz_loadu_ps(m, row0 + r0);
      const __m512 v1 = two ? _mm512_maskz_loadu_ps(m, row0 + ld + r0) : _mm512_setzero_ps();
      const __m512i both = _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(slot(dst, R, pairs, r0, p)), _mm512_castsi512_si256(both));
      if (r0 + 8 < padded) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(slot(dst, R, pairs, r0 + 8, p)), _mm512_extracti64x4_epi64(both, 1));
      }
    }
  }
}

// MR rows x NV vectors of 16 columns (MR * NV accumulators), stored into nc <= 16 * NV columns.
template <int MR, int NV>
void tile(long nc, long pairs, const uint32_t* a, const uint32_t* b, float* c, long ldc, float alpha, float beta) {
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (long p = 0; p < pairs; ++p) {
    __m512bh bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = (__m512bh)_mm512_load_si512(b + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[i]));
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
    }
    a += kMR;
    b += kNR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      __m512 x = _mm512_mul_ps(va, acc[i][v]);
      if (nc >= 16 * (v + 1)) {
        if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16 * v), x);
        _mm512_storeu_ps(ci + 16 * v, x);
      } else {
        const __mmask16 m = lanes16(nc - 16 * v);
        if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, ci + 16 * v), x);
        _mm512_mask_storeu_ps(ci + 16 * v, m, x);
      }
    }
  }
}

// The rows of A in tiles of kMR (the last one shorter), NV vectors of columns.
template <int NV>
void rows_of_tiles(long mc, long nc, long pairs, const uint32_t* a, const uint32_t* b, float* c, long ldc, float alpha, float beta);

template <int MR, int NV>
void edge_tile(long rows, long nc, long pairs, const uint32_t* a, const uint32_t* b, float* c, long ldc, float alpha, float beta) {
  if constexpr (MR > 1) {
    if (rows < MR) {
      edge_tile<MR - 1, NV>(rows, nc, pairs, a, b, c, ldc, alpha, beta);
      return;
    }
  }
  tile<MR, NV>(nc, pairs, a, b, c, ldc, alpha, beta);
}

template <int NV>
void rows_of_tiles(long mc, long nc, long pairs, const uint32_t* a, const uint32_t* b, float* c, long ldc, float alpha, float beta) {
  long i = 0;
  for (; i + kMR <= mc; i += kMR, a += pairs * kMR) tile<kMR, NV>(nc, pairs, a, b, c + i * ldc, ldc, alpha, beta);
  if (i < mc) edge_tile<kMR - 1, NV>(mc - i, nc, pairs, a, b, c + i * ldc, ldc, alpha, beta);
}

}  // namespace

void pack_a_avx512bf16(bool transA, long mc, long kc, const float* a, long lda, uint32_t* dst) {
  if (transA) pairs_across_lines(kMR, mc, kc, a, lda, dst);
  else pairs_along_lines(kMR, mc, kc, a, lda, dst);
}

void pack_b_avx512bf16(bool transB, long kc, long nc, const float* b, long ldb, uint32_t* dst) {
  if (transB) pairs_along_lines(kNR, nc, kc, b, ldb, dst);
  else pairs_across_lines(kNR, nc, kc, b, ldb, dst);
}

void multiply_avx512bf16(long mc, long nc, long pairs, const uint32_t* a, const uint32_t* b, float* c,
                         long ldc, float alpha, float beta) {
  static_assert(kNR == 48, "three vectors of 16 columns");
  if (nc > 32) rows_of_tiles<3>(mc, nc, pairs, a, b, c, ldc, alpha, beta);
  else if (nc > 16) rows_of_tiles<2>(mc, nc, pairs, a, b, c, ldc, alpha, beta);
  else rows_of_tiles<1>(mc, nc, pairs, a, b, c, ldc, alpha, beta);
}

}  // namespace mixed_bf16
}  // namespace myelin

#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif  // MYELIN_MIXED_BF16_HAVE_X86
