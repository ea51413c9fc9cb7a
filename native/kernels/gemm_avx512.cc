// AVX-512 GEMM kernels (built with -mavx512f -mavx512vl -mavx512dq -mavx512bw -mfma): 8x32 microkernel, packing.
#include "gemm_kernels.h"

#ifdef MYELIN_GEMM_HAVE_AVX2  // x86-64 only; elsewhere this unit is empty
#include <immintrin.h>

namespace myelin {
namespace gemm_kernels {
namespace {

// Tile: kRows x 32 (two zmm per row of C). 8 rows = 16 accumulators, enough to cover the FMA
// latency (4 cycles x 2 pipes on Zen 4/5) twice; per k it needs 2 B loads and 8 broadcasts.
// Measured on Zen 5 against 6, 12 and 14 rows: 8 was best or within noise on every MLP shape,
// and it divides the usual batch sizes (64, 128, 256), so there are no edge tiles along M.
// GEMV (M or N tiny) stays on the AVX2 kernels; a zmm GEMV has not been measured yet.
constexpr int kRows = 8;
constexpr int kCols = 32;
static_assert(kRows <= kMaxMR && kCols <= kMaxNR, "tile larger than the driver's edge buffer");

// ---------------------------------------------------------------------------------------------
// Microkernel.

// Zeroes the accumulators of MR rows and prefetches those rows of C.
template <int MR>
__attribute__((always_inline)) inline void start_tile(__m512* lo, __m512* hi, const float* c, long ldc) {
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    lo[i] = _mm512_setzero_ps();
    hi[i] = _mm512_setzero_ps();
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 31), _MM_HINT_T0);
  }
}

// c = alpha * acc + beta * c for MR rows of a tile (beta == 0: c not read).
template <int MR>
__attribute__((always_inline)) inline void store_tile(const __m512* lo, const __m512* hi, float* c,
                                                      long ldc, float alpha, float beta) {
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      float* ci = c + i * ldc;
      _mm512_storeu_ps(ci, _mm512_mul_ps(va, lo[i]));
      _mm512_storeu_ps(ci + 16, _mm512_mul_ps(va, hi[i]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      float* ci = c + i * ldc;
      _mm512_storeu_ps(ci, _mm512_fmadd_ps(va, lo[i], _mm512_mul_ps(vb, _mm512_loadu_ps(ci))));
      _mm512_storeu_ps(ci + 16,
                       _mm512_fmadd_ps(va, hi[i], _mm512_mul_ps(vb, _mm512_loadu_ps(ci + 16))));
    }
  }
}

// MR rows of C from an A panel packed with AS floats per k (AS = kRows; MR < AS for edge rows).
template <int MR, int AS>
void micro_tile(long kc, const float* a, const float* b, float* c, long ldc, float alpha,
                float beta) {
  __m512 lo[MR], hi[MR];
  start_tile<MR>(lo, hi, c, ldc);

  long k = 0;
  for (; k + 4 <= kc; k += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 8 * AS), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m512 b0 = _mm512_load_ps(b + u * kCols);
      const __m512 b1 = _mm512_load_ps(b + u * kCols + 16);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512 av = _mm512_set1_ps(a[u * AS + i]);
        lo[i] = _mm512_fmadd_ps(av, b0, lo[i]);
        hi[i] = _mm512_fmadd_ps(av, b1, hi[i]);
      }
    }
    a += 4 * AS;
    b += 4 * kCols;
  }
  for (; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
      lo[i] = _mm512_fmadd_ps(av, b0, lo[i]);
      hi[i] = _mm512_fmadd_ps(av, b1, hi[i]);
    }
    a += AS;
    b += kCols;
  }

  store_tile<MR>(lo, hi, c, ldc, alpha, beta);
}

void micro_avx512(long kc, const float* a, const float* b, float* c, long ldc, float alpha,
                  float beta) {
  micro_tile<kRows, kRows>(kc, a, b, c, ldc, alpha, beta);
}

// The first `rows` rows of a tile: the same template, so the same operations per element.
void micro_rows_avx512(long rows, long kc, const float* a, const float* b, float* c, long ldc,
                       float alpha, float beta) {
  switch (rows) {
    case 1: micro_tile<1, kRows>(kc, a, b, c, ldc, alpha, beta); break;
    case 2: micro_tile<2, kRows>(kc, a, b, c, ldc, alpha, beta); break;
    case 3: micro_tile<3, kRows>(kc, a, b, c, ldc, alpha, beta); break;
    case 4: micro_tile<4, kRows>(kc, a, b, c, ldc, alpha, beta); break;
    case 5: micro_tile<5, kRows>(kc, a, b, c, ldc, alpha, beta); break;
    case 6: micro_tile<6, kRows>(kc, a, b, c, ldc, alpha, beta); break;
    default: micro_tile<7, kRows>(kc, a, b, c, ldc, alpha, beta); break;
  }
}

// MR rows of C straight from row-major A (row i's k-th value at a[i * lda + k]; no packing), with
// micro_tile's operations per element (one FMA chain over k per element, then store_tile): only
// the address each A value is broadcast from differs. Rows are addressed from three bases (rows
// 0-2, 3-5, 6-7) plus lda times 1 or 2, so the loop needs no per-row pointer registers.
template <int MR>
void micro_direct_tile(long kc, const float* a, long lda, const float* b, float* c, long ldc,
                       float alpha, float beta) {
  __m512 lo[MR], hi[MR];
  start_tile<MR>(lo, hi, c, ldc);
  const float* base[3] = {a, a + 3 * lda, a + 6 * lda};
  for (long k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(base[i / 3][(i % 3) * lda + k]);
      lo[i] = _mm512_fmadd_ps(av, b0, lo[i]);
      hi[i] = _mm512_fmadd_ps(av, b1, hi[i]);
    }
    b += kCols;
  }
  store_tile<MR>(lo, hi, c, ldc, alpha, beta);
}

// The first `rows` (1..kRows) rows of a tile from row-major A (KernelTable::micro_direct).
void micro_direct_avx512(long rows, long kc, const float* a, long lda, const float* b, float* c,
                         long ldc, float alpha, float beta) {
  switch (rows) {
    case 1: micro_direct_tile<1>(kc, a, lda, b, c, ldc, alpha, beta); break;
    case 2: micro_direct_tile<2>(kc, a, lda, b, c, ldc, alpha, beta); break;
    case 3: micro_direct_tile<3>(kc, a, lda, b, c, ldc, alpha, beta); break;
    case 4: micro_direct_tile<4>(kc, a, lda, b, c, ldc, alpha, beta); break;
    case 5: micro_direct_tile<5>(kc, a, lda, b, c, ldc, alpha, beta); break;
    case 6: micro_direct_tile<6>(kc, a, lda, b, c, ldc, alpha, beta); break;
    case 7: micro_direct_tile<7>(kc, a, lda, b, c, ldc, alpha, beta); break;
    default: micro_direct_tile<kRows>(kc, a, lda, b, c, ldc, alpha, beta); break;
  }
}

// ---------------------------------------------------------------------------------------------
// Packing.

// Mask of the low n lanes (0 <= n <= 16).
__mmask16 low_lanes(long n) { return static_cast<__mmask16>((1u << n) - 1u); }

// In-register transpose of an 8x8 block: r[i] holds row i on entry and column i on exit.
__attribute__((always_inline)) inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]);
  const __m256 t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]);
  const __m256 t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]);
  const __m256 t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]);
  const __m256 t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// One A panel from row-major A (rows of length kc, stride lda): dst[k*kRows + r] = a[r*lda + k],
// rows >= `rows` zero. Blocks of 8 rows x 8 k go through an 8x8 transpose.
void pack_a_panel_rows(long rows, long kc, const float* a, long lda, float* dst) {
  long k = 0;
  for (; k + 8 <= kc; k += 8) {
    for (int r0 = 0; r0 < kRows; r0 += 8) {
      const int lanes = kRows - r0 < 8 ? kRows - r0 : 8;
      __m256 r[8];
      for (int i = 0; i < 8; ++i) {
        r[i] = r0 + i < rows ? _mm256_loadu_ps(a + (r0 + i) * lda + k) : _mm256_setzero_ps();
      }
      transpose8x8(r);
      float* d = dst + k * kRows + r0;
      const __mmask8 m = static_cast<__mmask8>((1u << lanes) - 1u);
      for (int i = 0; i < 8; ++i) _mm256_mask_storeu_ps(d + i * kRows, m, r[i]);
    }
  }
  for (; k < kc; ++k) {
    float* d = dst + k * kRows;
    for (long i = 0; i < rows; ++i) d[i] = a[i * lda + k];
    for (long i = rows; i < kRows; ++i) d[i] = 0.0f;
  }
}

// A panels from transposed A (element (i,k) at a[k*lda + i]): kRows contiguous floats per k and
// panel. Two panels at a time: one 16-float load per k (a whole cache line when aligned) feeds
// both, and only two output streams are written. (Writing all panels k-outer strided the stores
// by kc * 32 bytes, 4 KiB for kc = 128: every store hit the same L1 set.)
void pack_a_cols(long mc, long kc, const float* a, long lda, float* dst) {
  static_assert(kRows == 8, "pack_a_cols pairs 8-row panels into one zmm");
  const long panels = (mc + kRows - 1) / kRows;
  for (long p = 0; p < panels; p += 2) {
    const long rows = mc - p * kRows < 2 * kRows ? mc - p * kRows : 2 * kRows;
    const __mmask16 m = low_lanes(rows);
    const float* s = a + p * kRows;
    float* d0 = dst + p * kc * kRows;
    if (rows > kRows) {
      float* d1 = d0 + kc * kRows;
      for (long k = 0; k < kc; ++k) {
        const __m512 v = _mm512_maskz_loadu_ps(m, s + k * lda);
        _mm256_store_ps(d0 + k * kRows, _mm512_extractf32x8_ps(v, 0));
        _mm256_store_ps(d1 + k * kRows, _mm512_extractf32x8_ps(v, 1));
      }
    } else {
      for (long k = 0; k < kc; ++k) {
        const __m512 v = _mm512_maskz_loadu_ps(m, s + k * lda);
        _mm256_store_ps(d0 + k * kRows, _mm512_extractf32x8_ps(v, 0));
      }
    }
  }
}

void pack_a_avx512(bool transA, long mc, long kc, const float* a, long lda, float* dst) {
  if (transA) {
    pack_a_cols(mc, kc, a, lda, dst);
    return;
  }
  for (long i0 = 0; i0 < mc; i0 += kRows) {
    const long rows = mc - i0 < kRows ? mc - i0 : kRows;
    pack_a_panel_rows(rows, kc, a + i0 * lda, lda, dst);
    dst += kc * kRows;
  }
}

// B panel from row-major B (element (k,j) at b[k*ldb + j]): 32 contiguous floats per k, missing
// columns zero (masked loads).
void pack_b_panel_rows(long cols, long kc, const float* b, long ldb, float* dst) {
  if (cols == kCols) {
    for (long k = 0; k < kc; ++k) {
      const float* s = b + k * ldb;
      _mm512_store_ps(dst + k * kCols, _mm512_loadu_ps(s));
      _mm512_store_ps(dst + k * kCols + 16, _mm512_loadu_ps(s + 16));
    }
    return;
  }
  const __mmask16 m0 = low_lanes(cols < 16 ? cols : 16);
  const __mmask16 m1 = low_lanes(cols > 16 ? cols - 16 : 0);
  for (long k = 0; k < kc; ++k) {
    const float* s = b + k * ldb;
    _mm512_store_ps(dst + k * kCols, _mm512_maskz_loadu_ps(m0, s));
    _mm512_store_ps(dst + k * kCols + 16, _mm512_maskz_loadu_ps(m1, s + 16));
  }
}

// B panel from transposed B (element (k,j) at b[j*ldb + k]): per 8 k, four 8x8 transposes (one
// per 8 columns); columns >= `cols` zero.
void pack_b_panel_cols(long cols, long kc, const float* b, long ldb, float* dst) {
  long k = 0;
  for (; k + 8 <= kc; k += 8) {
    for (int g = 0; g < kCols / 8; ++g) {
      __m256 r[8];
      if (g * 8 >= cols) {
        for (int i = 0; i < 8; ++i) _mm256_store_ps(dst + (k + i) * kCols + g * 8, _mm256_setzero_ps());
        continue;
      }
      for (int j = 0; j < 8; ++j) {
        const long col = g * 8 + j;
        r[j] = col < cols ? _mm256_loadu_ps(b + col * ldb + k) : _mm256_setzero_ps();
      }
      transpose8x8(r);
      float* d = dst + k * kCols + g * 8;
      for (int i = 0; i < 8; ++i) _mm256_store_ps(d + i * kCols, r[i]);
    }
  }
  for (; k < kc; ++k) {
    float* d = dst + k * kCols;
    for (long j = 0; j < cols; ++j) d[j] = b[j * ldb + k];
    for (long j = cols; j < kCols; ++j) d[j] = 0.0f;
  }
}

void pack_b_avx512(bool transB, long kc, long nc, const float* b, long ldb, float* dst) {
  for (long j0 = 0; j0 < nc; j0 += kCols) {
    const long cols = nc - j0 < kCols ? nc - j0 : kCols;
    if (transB) {
      pack_b_panel_cols(cols, kc, b + j0 * ldb, ldb, dst);
    } else {
      pack_b_panel_rows(cols, kc, b + j0, ldb, dst);
    }
    dst += kc * kCols;
  }
}

// ---------------------------------------------------------------------------------------------
// Few rows against prepacked weights.
#define PR_VEC __m512
#define PR_W 16
#define VOP(name) _mm512_##name
#include "gemm_packed_rows.inc"
#undef VOP
#undef PR_W
#undef PR_VEC

}  // namespace

void fill_avx512_kernels(KernelTable* table) {
  table->mr = kRows;
  table->nr = kCols;
  table->micro = micro_avx512;
  table->micro_rows = micro_rows_avx512;
  table->micro_direct = micro_direct_avx512;
  table->pack_a = pack_a_avx512;
  table->pack_b = pack_b_avx512;
  table->packed_rows = packed_rows;
  table->packed_rows_cols = kPanel;
}

}  // namespace gemm_kernels
}  // namespace myelin

#endif  // MYELIN_GEMM_HAVE_AVX2
