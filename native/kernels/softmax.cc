// Softmax family: portable scalar row loops, run-time dispatch and row splitting across the pool.
#include "softmax.h"

#include <math.h>

#include "isa.h"
#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"

namespace myelin {
namespace scalar {

static float row_max(long n, const float* x) {
  float m = x[0];
  for (long j = 1; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

static double exp_shift_sum(long n, const float* x, float shift, float* out) {
  double s = 0;
  for (long j = 0; j < n; ++j) {
    float e = ::expf(x[j] - shift);
    if (out) out[j] = e;
    s += e;
  }
  return s;
}

#include "softmax_loops.inc"

}  // namespace scalar

namespace {
inline bool use_avx2() { return simd_level() == SimdLevel::Avx2; }

// Runs body(r0, r1, task) over row ranges; one range below the parallel threshold.
template <class Body>
int split_rows(long M, long N, const Body& body, bool dry_run = false) {
  if (M * N < kParallelThreshold || M == 1 || num_threads() <= 1) {
    if (!dry_run) body(0L, M, 0);
    return 1;
  }
  const long rows_per = (kParallelThreshold / 4 + N - 1) / N;
  const int tasks = static_cast<int>((M + rows_per - 1) / rows_per);
  if (!dry_run)
    parallel_for(tasks, [&](int t) {
      long r0 = t * rows_per;
      body(r0, r0 + rows_per < M ? r0 + rows_per : M, t);
    });
  return tasks;
}
}  // namespace

void softmax(long M, long N, const float* x, float* out) {
  const bool v = use_avx2();
  split_rows(M, N, [=](long r0, long r1, int) {
    if (v) avx2::softmax_rows(r1 - r0, N, x + r0 * N, out + r0 * N, false);
    else scalar::softmax_rows(r1 - r0, N, x + r0 * N, out + r0 * N, false);
  });
}

void log_softmax(long M, long N, const float* x, float* out) {
  const bool v = use_avx2();
  split_rows(M, N, [=](long r0, long r1, int) {
    if (v) avx2::softmax_rows(r1 - r0, N, x + r0 * N, out + r0 * N, true);
    else scalar::softmax_rows(r1 - r0, N, x + r0 * N, out + r0 * N, true);
  });
}

void softmax_backward(long M, long N, const float* y, const float* dy, float* dx) {
  const bool v = use_avx2();
  split_rows(M, N, [=](long r0, long r1, int) {
    const long o = r0 * N;
    if (v) avx2::softmax_backward_rows(r1 - r0, N, y + o, dy + o, dx + o, false);
    else scalar::softmax_backward_rows(r1 - r0, N, y + o, dy + o, dx + o, false);
  });
}

void log_softmax_backward(long M, long N, const float* y, const float* dy, float* dx) {
  const bool v = use_avx2();
  split_rows(M, N, [=](long r0, long r1, int) {
    const long o = r0 * N;
    if (v) avx2::softmax_backward_rows(r1 - r0, N, y + o, dy + o, dx + o, true);
    else scalar::softmax_backward_rows(r1 - r0, N, y + o, dy + o, dx + o, true);
  });
}

long first_bad_label(long M, long N, const int32_t* labels) {
  for (long r = 0; r < M; ++r)
    if (labels[r] < 0 || labels[r] >= N) return r;
  return -1;
}

double softmax_cross_entropy(long M, long N, const float* logits, const int32_t* labels,
                             float* grad, float* losses) {
  const bool v = use_avx2();
  const float grad_scale = static_cast<float>(1.0 / static_cast<double>(M));
  auto rows = [=](long r0, long r1, double* out_sum) {
    const long o = r0 * N;
    float* g = grad ? grad + o : nullptr;
    float* l = losses ? losses + r0 : nullptr;
    if (v) avx2::softmax_xent_rows(r1 - r0, N, logits + o, labels + r0, grad_scale, g, l, out_sum);
    else scalar::softmax_xent_rows(r1 - r0, N, logits + o, labels + r0, grad_scale, g, l, out_sum);
  };
  const int tasks = split_rows(M, N, [](long, long, int) {}, true);
  double total = 0;
  if (tasks == 1) {
    rows(0, M, &total);
  } else {
    double partial_stack[256];
    double* heap = tasks > 256 ? new double[tasks] : nullptr;
    double* partial = heap ? heap : partial_stack;
    split_rows(M, N, [&](long r0, long r1, int t) { rows(r0, r1, &partial[t]); });
    for (int t = 0; t < tasks; ++t) total += partial[t];
    delete[] heap;
  }
  return total / static_cast<double>(M);
}

}  // namespace myelin
