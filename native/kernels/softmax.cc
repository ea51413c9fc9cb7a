// Softmax family: portable scalar row loops, run-time dispatch and row splitting across the pool.
#include "softmax.h"

#include <math.h>

#include "isa.h"
#include "../runtime/cpu.h"
#include "parallel_split.h"

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
inline SimdLevel level() { return vector_simd_level(); }
}  // namespace

void softmax(long M, long N, const float* x, float* out) {
  const SimdLevel lv = level();
  split_rows(M, N, cost::kSoftmax, [=](long r0, long r1, int) {
    MYELIN_ISA_CALL(lv, softmax_rows, r1 - r0, N, x + r0 * N, out + r0 * N, false);
  });
}

void log_softmax(long M, long N, const float* x, float* out) {
  const SimdLevel lv = level();
  split_rows(M, N, cost::kSoftmax, [=](long r0, long r1, int) {
    MYELIN_ISA_CALL(lv, softmax_rows, r1 - r0, N, x + r0 * N, out + r0 * N, true);
  });
}

void softmax_backward(long M, long N, const float* y, const float* dy, float* dx) {
  const SimdLevel lv = level();
  split_rows(M, N, cost::kSoftmaxBackward, [=](long r0, long r1, int) {
    const long o = r0 * N;
    MYELIN_ISA_CALL(lv, softmax_backward_rows, r1 - r0, N, y + o, dy + o, dx + o, false);
  });
}

void log_softmax_backward(long M, long N, const float* y, const float* dy, float* dx) {
  const SimdLevel lv = level();
  split_rows(M, N, cost::kSoftmaxBackward, [=](long r0, long r1, int) {
    const long o = r0 * N;
    MYELIN_ISA_CALL(lv, softmax_backward_rows, r1 - r0, N, y + o, dy + o, dx + o, true);
  });
}

long first_bad_label(long M, long N, const int32_t* labels) {
  for (long r = 0; r < M; ++r)
    if (labels[r] < 0 || labels[r] >= N) return r;
  return -1;
}

double softmax_cross_entropy(long M, long N, const float* logits, const int32_t* labels,
                             float* grad, float* losses) {
  const SimdLevel lv = level();
  const float grad_scale = static_cast<float>(1.0 / static_cast<double>(M));
  // One partial loss sum per row task (row_tasks: the split depends on the shape only, so the
  // total is the same at every thread count), added in order.
  long rows_per = M;
  const int tasks = row_tasks(M, N, &rows_per);
  double partial_stack[256];
  double* heap = tasks > 256 ? new double[tasks] : nullptr;
  double* partial = heap ? heap : partial_stack;
  split_rows(M, N, cost::kSoftmax, [=](long r0, long r1, int t) {
    const long o = r0 * N;
    float* g = grad ? grad + o : nullptr;
    float* l = losses ? losses + r0 : nullptr;
    MYELIN_ISA_CALL(lv, softmax_xent_rows, r1 - r0, N, logits + o, labels + r0, grad_scale, g, l, &partial[t]);
  });
  double total = 0;
  for (int t = 0; t < tasks; ++t) total += partial[t];
  delete[] heap;
  return total / static_cast<double>(M);
}

}  // namespace myelin
