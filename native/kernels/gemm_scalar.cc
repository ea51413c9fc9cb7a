// Portable GEMM kernels: a 6x16 microkernel, packing and GEMV in plain C++ (any CPU).
#include <cstring>

#include "gemm_kernels.h"

namespace myelin {
namespace gemm_kernels {
namespace {

#if defined(__GNUC__)
// GCC/Clang generic vectors (SSE2 on x86-64, NEON on arm64): plain loops get vectorised along
// the wrong axis here (shuffles, ~4 GF/s). Two passes over 8-column halves keep the 6 x 8
// accumulators (12 vectors) in the 16 SSE registers.
typedef float Vec4 __attribute__((vector_size(16)));

inline Vec4 load4(const float* p) {
  Vec4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, Vec4 v) { std::memcpy(p, &v, sizeof v); }

void micro_scalar(long kc, const float* a, const float* b, float* c, long ldc, float alpha,
                  float beta) {
  for (int h = 0; h < 2; ++h) {
    Vec4 acc[kMR][2];
    for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = Vec4{0.0f, 0.0f, 0.0f, 0.0f};
    const float* bk = b + h * 8;
    const float* ak = a;
    for (long k = 0; k < kc; ++k, ak += kMR, bk += kNR) {
      const Vec4 b0 = load4(bk);
      const Vec4 b1 = load4(bk + 4);
      for (int i = 0; i < kMR; ++i) {
        const float ai = ak[i];
        const Vec4 av = {ai, ai, ai, ai};
        acc[i][0] += av * b0;
        acc[i][1] += av * b1;
      }
    }
    const Vec4 va = {alpha, alpha, alpha, alpha};
    const Vec4 vb = {beta, beta, beta, beta};
    for (int i = 0; i < kMR; ++i) {
      float* ci = c + i * ldc + h * 8;
      for (int u = 0; u < 2; ++u) {
        Vec4 r = va * acc[i][u];
        if (beta != 0.0f) r += vb * load4(ci + 4 * u);
        store4(ci + 4 * u, r);
      }
    }
  }
}
#else
void micro_scalar(long kc, const float* a, const float* b, float* c, long ldc, float alpha,
                  float beta) {
  float acc[kMR][kNR] = {};
  for (long k = 0; k < kc; ++k) {
    for (int i = 0; i < kMR; ++i) {
      const float ai = a[k * kMR + i];
      for (int j = 0; j < kNR; ++j) acc[i][j] += ai * b[k * kNR + j];
    }
  }
  for (int i = 0; i < kMR; ++i) {
    float* ci = c + i * ldc;
    for (int j = 0; j < kNR; ++j)
      ci[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * ci[j];
  }
}
#endif

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

// The GEMVs sum each output as the microkernel does (one chain over k from zero, written as
// acc += a * b; then r = alpha * acc, r += beta * y): the same result on every path.
inline float finish(float acc, float y, float alpha, float beta) {
  float r = alpha * acc;
  if (beta != 0.0f) r += beta * y;
  return r;
}

void gemv_rows_scalar(long rows, long len, const float* m, long ld, int nx, const float* x, long ldx,
                      float alpha, float beta, float* y, long ldy) {
  for (int v = 0; v < nx; ++v) {
    const float* xv = x + v * ldx;
    float* yv = y + v * ldy;
    for (long i = 0; i < rows; ++i) {
      const float* mi = m + i * ld;
      float s = 0.0f;
      for (long k = 0; k < len; ++k) s += mi[k] * xv[k];
      yv[i] = finish(s, beta == 0.0f ? 0.0f : yv[i], alpha, beta);
    }
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
    for (long j = 0; j < n; ++j) yj[j] = finish(acc[j], beta == 0.0f ? 0.0f : yj[j], alpha, beta);
  }
}

}  // namespace

void fill_scalar_kernels(KernelTable* table) {
  table->mr = kMR;
  table->nr = kNR;
  table->micro = micro_scalar;
  table->micro_rows = nullptr;
  table->pack_a = pack_a_scalar;
  table->pack_b = pack_b_scalar;
  table->gemv_rows = gemv_rows_scalar;
  table->gemv_cols = gemv_cols_scalar;
}

}  // namespace gemm_kernels
}  // namespace myelin
