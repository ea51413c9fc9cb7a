// AVX2+FMA GEMM kernels (built with -mavx2 -mfma): 6x16 microkernel, packing, GEMV.
#include "gemm_kernels.h"

#ifdef MYELIN_GEMM_HAVE_AVX2  // x86-64 only; elsewhere this unit is empty
#include <immintrin.h>

namespace myelin {
namespace gemm_kernels {
namespace {

// ---------------------------------------------------------------------------------------------
// Microkernel: 12 accumulators (6 rows x 2 ymm), per k two B loads and six A broadcasts.

#define MYELIN_GEMM_STEP(K)                                  \
  do {                                                       \
    const __m256 b0 = _mm256_load_ps(b + (K) * kNR);         \
    const __m256 b1 = _mm256_load_ps(b + (K) * kNR + 8);     \
    __m256 av = _mm256_broadcast_ss(a + (K) * kMR + 0);      \
    c00 = _mm256_fmadd_ps(av, b0, c00);                      \
    c01 = _mm256_fmadd_ps(av, b1, c01);                      \
    av = _mm256_broadcast_ss(a + (K) * kMR + 1);             \
    c10 = _mm256_fmadd_ps(av, b0, c10);                      \
    c11 = _mm256_fmadd_ps(av, b1, c11);                      \
    av = _mm256_broadcast_ss(a + (K) * kMR + 2);             \
    c20 = _mm256_fmadd_ps(av, b0, c20);                      \
    c21 = _mm256_fmadd_ps(av, b1, c21);                      \
    av = _mm256_broadcast_ss(a + (K) * kMR + 3);             \
    c30 = _mm256_fmadd_ps(av, b0, c30);                      \
    c31 = _mm256_fmadd_ps(av, b1, c31);                      \
    av = _mm256_broadcast_ss(a + (K) * kMR + 4);             \
    c40 = _mm256_fmadd_ps(av, b0, c40);                      \
    c41 = _mm256_fmadd_ps(av, b1, c41);                      \
    av = _mm256_broadcast_ss(a + (K) * kMR + 5);             \
    c50 = _mm256_fmadd_ps(av, b0, c50);                      \
    c51 = _mm256_fmadd_ps(av, b1, c51);                      \
  } while (0)

#define MYELIN_GEMM_STORE_ROW(R, X0, X1)                                          \
  do {                                                                            \
    float* cr = c + (R) * ldc;                                                    \
    if (beta_zero) {                                                              \
      _mm256_storeu_ps(cr, _mm256_mul_ps(va, X0));                                \
      _mm256_storeu_ps(cr + 8, _mm256_mul_ps(va, X1));                            \
    } else {                                                                      \
      _mm256_storeu_ps(cr, _mm256_fmadd_ps(va, X0, _mm256_mul_ps(vb, _mm256_loadu_ps(cr))));  \
      _mm256_storeu_ps(cr + 8,                                                    \
                       _mm256_fmadd_ps(va, X1, _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8))));  \
    }                                                                             \
  } while (0)

void micro_avx2(long kc, const float* a, const float* b, float* c, long ldc, float alpha,
                float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int r = 0; r < kMR; ++r) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
  for (int r = 0; r < kMR; ++r)
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 15), _MM_HINT_T0);

  long k = 0;
  for (; k + 4 <= kc; k += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 48), _MM_HINT_T0);
    MYELIN_GEMM_STEP(0);
    MYELIN_GEMM_STEP(1);
    MYELIN_GEMM_STEP(2);
    MYELIN_GEMM_STEP(3);
    a += 4 * kMR;
    b += 4 * kNR;
  }
  for (; k < kc; ++k) {
    MYELIN_GEMM_STEP(0);
    a += kMR;
    b += kNR;
  }

  const bool beta_zero = beta == 0.0f;
  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
  MYELIN_GEMM_STORE_ROW(0, c00, c01);
  MYELIN_GEMM_STORE_ROW(1, c10, c11);
  MYELIN_GEMM_STORE_ROW(2, c20, c21);
  MYELIN_GEMM_STORE_ROW(3, c30, c31);
  MYELIN_GEMM_STORE_ROW(4, c40, c41);
  MYELIN_GEMM_STORE_ROW(5, c50, c51);
}

#undef MYELIN_GEMM_STEP
#undef MYELIN_GEMM_STORE_ROW

// ---------------------------------------------------------------------------------------------
// Packing.

// In-register transpose of an 8x8 block: r[i] holds row i on entry and column i on exit.
#define MYELIN_TRANSPOSE_8X8(r)                                                       \
  do {                                                                                \
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]);                                 \
    const __m256 t1 = _mm256_unpackhi_ps(r[0], r[1]);                                 \
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]);                                 \
    const __m256 t3 = _mm256_unpackhi_ps(r[2], r[3]);                                 \
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]);                                 \
    const __m256 t5 = _mm256_unpackhi_ps(r[4], r[5]);                                 \
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]);                                 \
    const __m256 t7 = _mm256_unpackhi_ps(r[6], r[7]);                                 \
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));             \
    const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));             \
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));             \
    const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));             \
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));             \
    const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));             \
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));             \
    const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));             \
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);                                      \
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);                                      \
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);                                      \
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);                                      \
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);                                      \
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);                                      \
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);                                      \
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);                                      \
  } while (0)

// A panel from row-major A (rows i0.. of length kc, stride lda): dst[k*6 + r] = a[r*lda + k].
// Eight k at a time: load 6 rows (2 zero rows), transpose, store 8 columns of 6 with overlapping
// 8-wide stores (the 2 spare lanes are overwritten by the next store; the last one lands in the
// buffer's slack or the next panel, which is written afterwards).
void pack_a_panel_rows(long rows, long kc, const float* a, long lda, float* dst) {
  long k = 0;
  if (rows == kMR) {
    for (; k + 8 <= kc; k += 8) {
      __m256 r[8];
      for (int i = 0; i < kMR; ++i) r[i] = _mm256_loadu_ps(a + i * lda + k);
      r[6] = _mm256_setzero_ps();
      r[7] = _mm256_setzero_ps();
      MYELIN_TRANSPOSE_8X8(r);
      float* d = dst + k * kMR;
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(d + i * kMR, r[i]);
    }
  }
  for (; k < kc; ++k) {
    float* d = dst + k * kMR;
    for (long i = 0; i < rows; ++i) d[i] = a[i * lda + k];
    for (long i = rows; i < kMR; ++i) d[i] = 0.0f;
  }
}

// A panels from transposed A (element (i,k) at a[k*lda + i]): 6 contiguous floats per k and
// panel. k-outer so each source row is read once, sequentially (panel-outer strides through
// kc rows of A and thrashes L1 sets when lda is a power of two). 8-wide loads and stores where
// the 2 extra floats read are inside this block's rows; the 2 spare lanes stored land on k+1 of
// the same panel, written next, so the last k is copied exactly.
void pack_a_cols(long mc, long kc, const float* a, long lda, float* dst) {
  const long panels = (mc + kMR - 1) / kMR;
  const long wide = mc >= 8 ? (mc - 8) / kMR + 1 : 0;
  for (long k = 0; k < kc; ++k) {
    const float* s = a + k * lda;
    float* d = dst + k * kMR;
    long p = 0;
    if (k + 1 < kc) {
      for (; p < wide; ++p) _mm256_storeu_ps(d + p * kc * kMR, _mm256_loadu_ps(s + p * kMR));
    }
    for (; p < panels; ++p) {
      const long rows = mc - p * kMR < kMR ? mc - p * kMR : kMR;
      float* dp = d + p * kc * kMR;
      for (long i = 0; i < rows; ++i) dp[i] = s[p * kMR + i];
      for (long i = rows; i < kMR; ++i) dp[i] = 0.0f;
    }
  }
}

void pack_a_avx2(bool transA, long mc, long kc, const float* a, long lda, float* dst) {
  if (transA) {
    pack_a_cols(mc, kc, a, lda, dst);
    return;
  }
  for (long i0 = 0; i0 < mc; i0 += kMR) {
    const long rows = mc - i0 < kMR ? mc - i0 : kMR;
    pack_a_panel_rows(rows, kc, a + i0 * lda, lda, dst);
    dst += kc * kMR;
  }
}

// B panel from row-major B (element (k,j) at b[k*ldb + j]): 16 contiguous floats per k.
void pack_b_panel_rows(long cols, long kc, const float* b, long ldb, float* dst) {
  if (cols == kNR) {
    for (long k = 0; k < kc; ++k) {
      const float* s = b + k * ldb;
      _mm256_store_ps(dst + k * kNR, _mm256_loadu_ps(s));
      _mm256_store_ps(dst + k * kNR + 8, _mm256_loadu_ps(s + 8));
    }
    return;
  }
  for (long k = 0; k < kc; ++k) {
    float* d = dst + k * kNR;
    for (long j = 0; j < cols; ++j) d[j] = b[k * ldb + j];
    for (long j = cols; j < kNR; ++j) d[j] = 0.0f;
  }
}

// B panel from transposed B (element (k,j) at b[j*ldb + k]): two 8x8 transposes per 8 k.
void pack_b_panel_cols(long cols, long kc, const float* b, long ldb, float* dst) {
  long k = 0;
  if (cols == kNR) {
    for (; k + 8 <= kc; k += 8) {
      for (int half = 0; half < 2; ++half) {
        __m256 r[8];
        const float* s = b + half * 8 * ldb + k;
        for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(s + j * ldb);
        MYELIN_TRANSPOSE_8X8(r);
        float* d = dst + k * kNR + half * 8;
        for (int i = 0; i < 8; ++i) _mm256_store_ps(d + i * kNR, r[i]);
      }
    }
  }
  for (; k < kc; ++k) {
    float* d = dst + k * kNR;
    for (long j = 0; j < cols; ++j) d[j] = b[j * ldb + k];
    for (long j = cols; j < kNR; ++j) d[j] = 0.0f;
  }
}

void pack_b_avx2(bool transB, long kc, long nc, const float* b, long ldb, float* dst) {
  for (long j0 = 0; j0 < nc; j0 += kNR) {
    const long cols = nc - j0 < kNR ? nc - j0 : kNR;
    if (transB) {
      pack_b_panel_cols(cols, kc, b + j0 * ldb, ldb, dst);
    } else {
      pack_b_panel_rows(cols, kc, b + j0, ldb, dst);
    }
    dst += kc * kNR;
  }
}

// ---------------------------------------------------------------------------------------------
// GEMV. Each output is one sequential FMA chain over k from zero, then alpha * chain + beta * y as
// the microkernel's store does it: the same operations the packed path applies to that element,
// so a row of C is the same whichever path (and batch size) computed it.

// y = alpha * acc + beta * y (y not read when beta == 0), as MYELIN_GEMM_STORE_ROW does it.
__attribute__((always_inline)) inline __m256 finish(__m256 acc, __m256 y, float alpha, float beta) {
  const __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) return _mm256_mul_ps(va, acc);
  return _mm256_fmadd_ps(va, acc, _mm256_mul_ps(_mm256_set1_ps(beta), y));
}

// Lane mask of the low n lanes (0 <= n <= 8) for maskload/maskstore.
__m256i low_lanes8(long n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}

// Rows of m (stride ld, `rows` <= 8 of them, missing rows zero) at k..k+7, transposed so that
// r[u] holds m[0..7][k+u].
__attribute__((always_inline)) inline void load_cols8(const float* m, long ld, long rows, long k,
                                                      __m256 r[8]) {
  for (int i = 0; i < 8; ++i) r[i] = i < rows ? _mm256_loadu_ps(m + i * ld + k) : _mm256_setzero_ps();
  MYELIN_TRANSPOSE_8X8(r);
}

// NX vectors x (stride ldx) against G groups of 8 rows of m at a time (G * NX independent chains
// cover the FMA latency); each 8x8 block of m is transposed in registers once, so a lane follows
// one row through k in order, and shared by the NX vectors.
constexpr long kPrefetchAhead = 64;

template <int NX, int G>
void gemv_rows_tile(long rows, long len, const float* m, long ld, const float* x, long ldx,
                    float alpha, float beta, float* y, long ldy) {
  for (long i0 = 0; i0 < rows; i0 += 8 * G) {
    long nrows[G];
    int groups = 0;
    for (int g = 0; g < G; ++g) {
      const long left = rows - i0 - 8 * g;
      nrows[g] = left <= 0 ? 0 : (left < 8 ? left : 8);
      if (nrows[g] > 0) groups = g + 1;
    }
    __m256 acc[G][NX];
    for (int g = 0; g < G; ++g)
      for (int v = 0; v < NX; ++v) acc[g][v] = _mm256_setzero_ps();
    long k = 0;
    if (groups == G && nrows[G - 1] == 8) {
      // All G groups full: fixed trip counts, no row masks.
      for (; k + 8 <= len; k += 8) {
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) {
          const float* mg = m + (i0 + 8 * g) * ld + k;
          // 8G row streams are more than the hardware prefetchers follow: fetch each row's line
          // kPrefetchAhead floats ahead, once per 16 k (a 64-byte line).
          if ((k & 15) == 0) {
#pragma GCC unroll 8
            for (int i = 0; i < 8; ++i) _mm_prefetch(reinterpret_cast<const char*>(mg + i * ld + kPrefetchAhead), _MM_HINT_T0);
          }
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) {
            // Rows i and i+4 at k+4h..k+4h+3 in the two 128-bit halves (broadcast loads and a
            // blend: no shuffle), then a 4x4 transpose inside each half gives, in c[j], column
            // k+4h+j of the 8 rows.
            __m256 q[4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i) {
              q[i] = _mm256_blend_ps(_mm256_broadcast_ps(reinterpret_cast<const __m128*>(mg + i * ld + 4 * h)),
                                     _mm256_broadcast_ps(reinterpret_cast<const __m128*>(mg + (i + 4) * ld + 4 * h)),
                                     0xF0);
            }
            const __m256 t0 = _mm256_unpacklo_ps(q[0], q[1]);
            const __m256 t1 = _mm256_unpackhi_ps(q[0], q[1]);
            const __m256 t2 = _mm256_unpacklo_ps(q[2], q[3]);
            const __m256 t3 = _mm256_unpackhi_ps(q[2], q[3]);
            __m256 c[4];
            c[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
            c[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
            c[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
            c[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
#pragma GCC unroll 4
            for (int u = 0; u < 4; ++u) {
#pragma GCC unroll 4
              for (int v = 0; v < NX; ++v)
                acc[g][v] = _mm256_fmadd_ps(_mm256_set1_ps(x[v * ldx + k + 4 * h + u]), c[u], acc[g][v]);
            }
          }
        }
      }
    }
    for (; k + 8 <= len; k += 8) {
      for (int g = 0; g < groups; ++g) {
        __m256 r[8];
        load_cols8(m + (i0 + 8 * g) * ld, ld, nrows[g], k, r);
        for (int u = 0; u < 8; ++u) {
          for (int v = 0; v < NX; ++v)
            acc[g][v] = _mm256_fmadd_ps(_mm256_set1_ps(x[v * ldx + k + u]), r[u], acc[g][v]);
        }
      }
    }
    for (; k < len; ++k) {
      for (int g = 0; g < groups; ++g) {
        alignas(32) float col[8] = {};
        const float* mg = m + (i0 + 8 * g) * ld + k;
        for (long i = 0; i < nrows[g]; ++i) col[i] = mg[i * ld];
        const __m256 c = _mm256_load_ps(col);
        for (int v = 0; v < NX; ++v) acc[g][v] = _mm256_fmadd_ps(_mm256_set1_ps(x[v * ldx + k]), c, acc[g][v]);
      }
    }
    for (int g = 0; g < groups; ++g) {
      for (int v = 0; v < NX; ++v) {
        float* yg = y + v * ldy + i0 + 8 * g;
        if (nrows[g] == 8) {
          const __m256 yv = beta == 0.0f ? _mm256_setzero_ps() : _mm256_loadu_ps(yg);
          _mm256_storeu_ps(yg, finish(acc[g][v], yv, alpha, beta));
        } else {
          const __m256i mask = low_lanes8(nrows[g]);
          const __m256 yv = beta == 0.0f ? _mm256_setzero_ps() : _mm256_maskload_ps(yg, mask);
          _mm256_maskstore_ps(yg, mask, finish(acc[g][v], yv, alpha, beta));
        }
      }
    }
  }
}

void gemv_rows_avx2(long rows, long len, const float* m, long ld, int nx, const float* x, long ldx,
                    float alpha, float beta, float* y, long ldy) {
  for (; nx >= 4; nx -= 4, x += 4 * ldx, y += 4 * ldy) gemv_rows_tile<4, 1>(rows, len, m, ld, x, ldx, alpha, beta, y, ldy);
  switch (nx) {
    case 3: gemv_rows_tile<3, 1>(rows, len, m, ld, x, ldx, alpha, beta, y, ldy); break;
    case 2: gemv_rows_tile<2, 2>(rows, len, m, ld, x, ldx, alpha, beta, y, ldy); break;
    case 1: gemv_rows_tile<1, 4>(rows, len, m, ld, x, ldx, alpha, beta, y, ldy); break;
    default: break;
  }
}

// y = x^T M over 64-column chunks held in 8 accumulators (one chain per column, k in order).
void gemv_cols_avx2(long len, long cols, const float* m, long ld, const float* x, float alpha,
                    float beta, float* y) {
  long j0 = 0;
  for (; j0 + 64 <= cols; j0 += 64) {
    __m256 acc[8];
    for (int u = 0; u < 8; ++u) acc[u] = _mm256_setzero_ps();
    const float* mk = m + j0;
    for (long k = 0; k < len; ++k, mk += ld) {
      const __m256 xk = _mm256_set1_ps(x[k]);
      for (int u = 0; u < 8; ++u) acc[u] = _mm256_fmadd_ps(xk, _mm256_loadu_ps(mk + 8 * u), acc[u]);
    }
    for (int u = 0; u < 8; ++u) {
      float* yj = y + j0 + 8 * u;
      const __m256 yv = beta == 0.0f ? _mm256_setzero_ps() : _mm256_loadu_ps(yj);
      _mm256_storeu_ps(yj, finish(acc[u], yv, alpha, beta));
    }
  }
  for (; j0 < cols; j0 += 8) {
    const long n = cols - j0 < 8 ? cols - j0 : 8;
    const __m256i mask = low_lanes8(n);
    __m256 acc = _mm256_setzero_ps();
    const float* mk = m + j0;
    if (n == 8) {
      for (long k = 0; k < len; ++k, mk += ld) acc = _mm256_fmadd_ps(_mm256_set1_ps(x[k]), _mm256_loadu_ps(mk), acc);
    } else {
      for (long k = 0; k < len; ++k, mk += ld) {
        acc = _mm256_fmadd_ps(_mm256_set1_ps(x[k]), _mm256_maskload_ps(mk, mask), acc);
      }
    }
    const __m256 yv = beta == 0.0f ? _mm256_setzero_ps() : _mm256_maskload_ps(y + j0, mask);
    _mm256_maskstore_ps(y + j0, mask, finish(acc, yv, alpha, beta));
  }
}

#undef MYELIN_TRANSPOSE_8X8

// ---------------------------------------------------------------------------------------------
// Few rows against prepacked weights.
#define PR_VEC __m256
#define PR_W 8
#define VOP(name) _mm256_##name
#include "gemm_packed_rows.inc"
#undef VOP
#undef PR_W
#undef PR_VEC

}  // namespace

void fill_avx2_kernels(KernelTable* table) {
  table->mr = kMR;
  table->nr = kNR;
  table->micro = micro_avx2;
  table->micro_rows = nullptr;
  table->pack_a = pack_a_avx2;
  table->pack_b = pack_b_avx2;
  table->gemv_rows = gemv_rows_avx2;
  table->gemv_cols = gemv_cols_avx2;
  table->packed_rows = packed_rows;
  table->packed_rows_cols = kPanel;
}

}  // namespace gemm_kernels
}  // namespace myelin

#endif  // MYELIN_GEMM_HAVE_AVX2
