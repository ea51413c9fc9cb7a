// LayerNorm over the last dimension of a rows x features matrix: fused forward (with the row
// statistics the backward needs) and fused backward. One row loop (layer_norm_loops.inc) compiled
// three times: portable, AVX2+FMA and AVX-512, picked at run time by gemm_simd_level().
#pragma once

namespace myelin {

// mean_i = sum_j x[i,j] / N;  rstd_i = 1 / sqrt(sum_j (x[i,j] - mean_i)^2 / N + eps)
// y[i,j] = (x[i,j] - mean_i) * rstd_i * w[j] + b[j]; w and b nullable (1 and 0). mean and rstd
// (nullable, length M) receive the statistics. y may alias x.
void layer_norm_forward(long M, long N, const float* x, const float* w, const float* b, float eps,
                        float* y, float* mean, float* rstd);

// xhat = (x - mean) * rstd, g = dy * w (w nullable: 1):
//   dx = rstd * (g - mean_j(g) - xhat * mean_j(g * xhat))   (nullable; may alias dy)
//   dw = sum_i dy * xhat,  db = sum_i dy                    (nullable)
// accumulate adds into dx/dw/db instead of overwriting.
void layer_norm_backward(long M, long N, const float* x, const float* w, const float* mean,
                         const float* rstd, const float* dy, float* dx, float* dw, float* db,
                         bool accumulate);

// Internal: the per-ISA row loops behind the two entry points.
#define MYELIN_DECLARE_LAYER_NORM_LOOPS                                                           \
  void layer_norm_rows(long rows, long n, const float* x, const float* w, const float* b,         \
                       float eps, float* y, float* mean, float* rstd);                           \
  void layer_norm_dx_rows(long rows, long n, const float* x, const float* w, const float* mean,  \
                          const float* rstd, const float* dy, float* dx, bool accumulate);        \
  void layer_norm_param_cols(long rows, long n, long c0, long c1, const float* x,                \
                             const float* mean, const float* rstd, const float* dy, float* dw,    \
                             float* db, bool accumulate);
namespace scalar { MYELIN_DECLARE_LAYER_NORM_LOOPS }
namespace avx2 { MYELIN_DECLARE_LAYER_NORM_LOOPS }
namespace avx512 { MYELIN_DECLARE_LAYER_NORM_LOOPS }
#undef MYELIN_DECLARE_LAYER_NORM_LOOPS

}  // namespace myelin
