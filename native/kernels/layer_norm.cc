// LayerNorm: the portable row loops, run-time dispatch (gemm_simd_level: AVX-512, AVX2 or scalar)
// and the split across the thread pool (rows for the outputs, columns for dw/db).
#include "layer_norm.h"

#include <math.h>

#include <vector>

#include "isa.h"
#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"
#include "parallel_split.h"

#define LN_ISA scalar
#include "layer_norm_loops.inc"

namespace myelin {

namespace {

struct Loops {
  decltype(&scalar::layer_norm_rows) rows;
  decltype(&scalar::layer_norm_dx_rows) dx_rows;
  decltype(&scalar::layer_norm_param_cols) param_cols;
};

Loops loops() {
#if defined(__x86_64__) || defined(_M_X64)  // the AVX units are empty elsewhere
  switch (gemm_simd_level()) {
    case SimdLevel::Avx512:
      return {avx512::layer_norm_rows, avx512::layer_norm_dx_rows, avx512::layer_norm_param_cols};
    case SimdLevel::Avx2:
      return {avx2::layer_norm_rows, avx2::layer_norm_dx_rows, avx2::layer_norm_param_cols};
    default:
      break;
  }
#endif
  return {scalar::layer_norm_rows, scalar::layer_norm_dx_rows, scalar::layer_norm_param_cols};
}

// body(r0, r1) over row ranges of about kParallelThreshold / 4 elements; one range when small.
template <class Body>
void split_rows(long M, long N, const Body& body) {
  if (M * N < kParallelThreshold || M == 1 || num_threads() <= 1) {
    body(0L, M);
    return;
  }
  const long rows_per = (kParallelThreshold / 4 + N - 1) / N;
  const int tasks = static_cast<int>((M + rows_per - 1) / rows_per);
  parallel_for(tasks, [&](int t) {
    const long r0 = t * rows_per;
    body(r0, r0 + rows_per < M ? r0 + rows_per : M);
  });
}

}  // namespace

void layer_norm_forward(long M, long N, const float* x, const float* w, const float* b, float eps,
                        float* y, float* mean, float* rstd) {
  const Loops l = loops();
  split_rows(M, N, [&](long r0, long r1) {
    l.rows(r1 - r0, N, x + r0 * N, w, b, eps, y + r0 * N, mean ? mean + r0 : nullptr,
           rstd ? rstd + r0 : nullptr);
  });
}

void layer_norm_backward(long M, long N, const float* x, const float* w, const float* mean,
                         const float* rstd, const float* dy, float* dx, float* dw, float* db,
                         bool accumulate) {
  const Loops l = loops();
  long rows_per = M;
  const int tasks = row_tasks(M, N, &rows_per);
  if (dx && (dw || db) && tasks > 1) {
    // One pass over row blocks that depend on the shape only (row_tasks): each block sums its own
    // dw/db partials, then writes its dx rows (after the partials: dx may alias dy); the partials
    // are added in block order. x and dy are read once, both cores pull rows, and the sums are the
    // same at every thread count.
    std::vector<float> part(static_cast<size_t>(tasks) * 2 * N);
    float* pw = part.data();
    float* pb = pw + static_cast<size_t>(tasks) * N;
    parallel_for(tasks, [&](int t) {
      const long r0 = t * rows_per, r1 = r0 + rows_per < M ? r0 + rows_per : M;
      l.param_cols(r1 - r0, N, 0, N, x + r0 * N, mean + r0, rstd + r0, dy + r0 * N, dw ? pw + t * N : nullptr,
                   db ? pb + t * N : nullptr, false);
      l.dx_rows(r1 - r0, N, x + r0 * N, w, mean + r0, rstd + r0, dy + r0 * N, dx + r0 * N, accumulate);
    });
    for (long j = 0; j < N; ++j) {
      if (dw) {
        float s = pw[j];
        for (int t = 1; t < tasks; ++t) s += pw[t * N + j];
        dw[j] = accumulate ? dw[j] + s : s;
      }
      if (db) {
        float s = pb[j];
        for (int t = 1; t < tasks; ++t) s += pb[t * N + j];
        db[j] = accumulate ? db[j] + s : s;
      }
    }
    return;
  }
  // dw/db first: dx may alias dy.
  if (dw || db) {
    const int threads = num_threads();
    if (M * N < kParallelThreshold || N < 128 || threads <= 1) {
      l.param_cols(M, N, 0, N, x, mean, rstd, dy, dw, db, accumulate);
    } else {
      long tasks = N / 64 < 2L * threads ? N / 64 : 2L * threads;
      const long step = ((N + tasks - 1) / tasks + 15) & ~15L;
      tasks = (N + step - 1) / step;
      parallel_for(static_cast<int>(tasks), [&](int t) {
        const long c0 = t * step, c1 = c0 + step < N ? c0 + step : N;
        l.param_cols(M, N, c0, c1, x, mean, rstd, dy, dw, db, accumulate);
      });
    }
  }
  if (dx) {
    split_rows(M, N, [&](long r0, long r1) {
      l.dx_rows(r1 - r0, N, x + r0 * N, w, mean + r0, rstd + r0, dy + r0 * N, dx + r0 * N, accumulate);
    });
  }
}

}  // namespace myelin
