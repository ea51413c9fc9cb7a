// Portable GEMM kernels: a 6x16 microkernel, packing and GEMV in plain C++ (any CPU).
#include "gemm_kernels.h"

namespace myelin {
namespace gemm_kernels {
namespace {

void micro_scalar(long kc, const float* a, const float* b, float* c, long ldc, float alpha,
                  float beta) {
  float acc[kMR][kNR] = {};
  for (long k = 0; k < kc; ++k) {
    const float* ak = a + k * kMR;
    const float* bk = b + k * kNR;
    for (int i = 0; i < kMR; ++i) {
      const float ai = ak[i];
      for (int j = 0; j < kNR; ++j) acc[i][j] += ai * bk[j];
    }
  }
  for (int i = 0; i < kMR; ++i) {
    float* ci = c + i * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < kNR; ++j) ci[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < kNR; ++j) ci[j] = alpha * acc[i][j] + beta * ci[j];
    }
  }
}

void pack_a_scalar(bool transA, long mc, long kc, const float* a, long lda, float* dst) {
  for (long i0 = 0; i0 < mc; i0 += kMR) {
    const long rows = mc - i0 < kMR ? mc - i0 : kMR;
    for (long k = 0; k < kc; ++k) {
      float* d = dst + k * kMR;
      for (long r = 0; r < rows; ++r) d[r] = transA ? a[k * lda + i0 + r] : a[(i0 + r) * lda + k];
      for (long r = rows; r < kMR; ++r) d[r] = 0.0f;
    }
    dst += kc * kMR;
  }
}

void pack_b_scalar(bool transB, long kc, long nc, const float* b, long ldb, float* dst) {
  for (long j0 = 0; j0 < nc; j0 += kNR) {
    const long cols = nc - j0 < kNR ? nc - j0 : kNR;
    for (long k = 0; k < kc; ++k) {
      float* d = dst + k * kNR;
      for (long j = 0; j < cols; ++j) d[j] = transB ? b[(j0 + j) * ldb + k] : b[k * ldb + j0 + j];
      for (long j = cols; j < kNR; ++j) d[j] = 0.0f;
    }
    dst += kc * kNR;
  }
}

void gemv_rows_scalar(long rows, long len, const float* m, long ld, const float* x, float alpha,
                      float beta, float* y) {
  for (long i = 0; i < rows; ++i) {
    const float* mi = m + i * ld;
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    long k = 0;
    for (; k + 4 <= len; k += 4) {
      for (int u = 0; u < 4; ++u) s[u] += mi[k + u] * x[k + u];
    }
    for (; k < len; ++k) s[0] += mi[k] * x[k];
    const float dot = (s[0] + s[1]) + (s[2] + s[3]);
    y[i] = beta == 0.0f ? alpha * dot : alpha * dot + beta * y[i];
  }
}

void gemv_cols_scalar(long len, long cols, const float* m, long ld, const float* x, float alpha,
                      float beta, float* y) {
  constexpr long kChunk = 256;
  float acc[kChunk];
  for (long j0 = 0; j0 < cols; j0 += kChunk) {
    const long n = cols - j0 < kChunk ? cols - j0 : kChunk;
    for (long j = 0; j < n; ++j) acc[j] = 0.0f;
    for (long k = 0; k < len; ++k) {
      const float xk = x[k];
      const float* mk = m + k * ld + j0;
      for (long j = 0; j < n; ++j) acc[j] += xk * mk[j];
    }
    float* yj = y + j0;
    if (beta == 0.0f) {
      for (long j = 0; j < n; ++j) yj[j] = alpha * acc[j];
    } else {
      for (long j = 0; j < n; ++j) yj[j] = alpha * acc[j] + beta * yj[j];
    }
  }
}

}  // namespace

void fill_scalar_kernels(KernelTable* table) {
  table->micro = micro_scalar;
  table->pack_a = pack_a_scalar;
  table->pack_b = pack_b_scalar;
  table->gemv_rows = gemv_rows_scalar;
  table->gemv_cols = gemv_cols_scalar;
}

}  // namespace gemm_kernels
}  // namespace myelin
