// Elementwise kernels: portable scalar versions, run-time dispatch and thread-pool splitting.
#include "elementwise.h"

#include <math.h>

#include "activation.h"
#include "isa.h"
#include "parallel_split.h"
#include "../runtime/cpu.h"

namespace myelin {
namespace scalar {

static void exp_array(long n, const float* x, float* out) {
  for (long i = 0; i < n; ++i) out[i] = ::expf(x[i]);
}

static void sqrt_array(long n, const float* x, float* out) {
  for (long i = 0; i < n; ++i) out[i] = __builtin_sqrtf(x[i]);
}

#include "elementwise_loops.inc"

// The summation order every backend uses (elementwise.h): 16 interleaved float64 partial sums,
// combined as the AVX2 kernel's lanes are, then the last n % 16 elements one by one.
double sum(long n, const float* x) {
  double p[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) p[j] += x[i + j];
  double q[4];
  for (int j = 0; j < 4; ++j) q[j] = (p[j] + p[4 + j]) + (p[8 + j] + p[12 + j]);
  double s = (q[0] + q[2]) + (q[1] + q[3]);
  for (; i < n; ++i) s += x[i];
  return s;
}

double sum_sq_diff(long n, const float* a, const float* b) {
  double s0 = 0, s1 = 0;
  long i = 0;
  for (; i + 2 <= n; i += 2) {
    double d0 = static_cast<double>(a[i]) - b[i], d1 = static_cast<double>(a[i + 1]) - b[i + 1];
    s0 += d0 * d0;
    s1 += d1 * d1;
  }
  for (; i < n; ++i) {
    double d = static_cast<double>(a[i]) - b[i];
    s0 += d * d;
  }
  return s0 + s1;
}

}  // namespace scalar

namespace {
// The level of the streaming kernels: AVX2 or scalar. Their AVX-512 builds (elementwise_avx512.cc)
// measured 0.7-1.06x the AVX2 ones on AMD Zen 4 (docs/performance.md, "Thread counts and AVX-512
// elementwise kernels"): only exp pays (1.2-1.4x), so unary exp alone runs at AVX-512.
inline SimdLevel level() {
  const SimdLevel lv = vector_simd_level();
  return lv == SimdLevel::Avx512 ? SimdLevel::Avx2 : lv;
}

// Single-thread ns per element of unary op `op` and of activation `act` (parallel_split.h costs).
double unary_cost(int op) {
  switch (op) {
    case kExp: return cost::kExp;
    case kLog: return cost::kLibm;
    case kSqrt: return cost::kSqrt;
    default: return cost::kStream;
  }
}
double activation_cost(int act, bool backward) {
  switch (act) {
    case kActSigmoid:
    case kActTanh:
      if (backward) return cost::kStream;
      // Their forward runs at AVX-512 when the level allows (activation.cc).
      return vector_simd_level() == SimdLevel::Avx512 ? cost::kSigmoidTanh512 : cost::kSigmoidTanh;
    case kActGelu: return backward ? cost::kGeluBackward : cost::kGelu;
    case kActGeluTanh: return backward ? cost::kGelu : cost::kSigmoidTanh;
    default: return cost::kStream;
  }
}

void binary_op(int op, long n, const float* a, const float* b, float* out) {
  const SimdLevel lv = level();
  split_range(n, cost::kStream, [=](long s, long e) { MYELIN_ISA_CALL(lv, binary, op, e - s, a + s, b + s, out + s); });
}

// Sum of a range reduced in double, chunked across the pool (fixed chunking, so the result does
// not depend on the thread count): below kParallelThreshold one chunk, else chunks of 16384 whose
// sums are added in order, starting from 0 (lib/backend/js/reduce.ts follows the same order). The
// chunks run on threads_for(n * ns_per_elem) threads.
template <class ChunkSum>
double reduce_range(long n, double ns_per_elem, const ChunkSum& chunk_sum) {
  if (n < kParallelThreshold) return chunk_sum(0L, n);
  const long step = 16384;
  const int tasks = static_cast<int>((n + step - 1) / step);
  double partial_stack[256];
  double* partial = partial_stack;
  double* heap = nullptr;
  if (tasks > 256) partial = heap = new double[tasks];
  parallel_for(tasks, [&](int t) {
    long b = t * step, e = b + step < n ? b + step : n;
    partial[t] = chunk_sum(b, e);
  }, threads_for(static_cast<double>(n) * ns_per_elem));
  double s = 0;
  for (int t = 0; t < tasks; ++t) s += partial[t];
  delete[] heap;
  return s;
}

// The reductions have no AVX-512 variant: their summation order is fixed (elementwise.h) and the
// AVX2 loops already run at the load rate; an AVX-512 CPU runs the AVX2 ones.
inline double sum_of(SimdLevel lv, long n, const float* x) {
  return lv == SimdLevel::Scalar ? scalar::sum(n, x) : avx2::sum(n, x);
}
}  // namespace

void add(long n, const float* a, const float* b, float* out) { binary_op(kAdd, n, a, b, out); }
void sub(long n, const float* a, const float* b, float* out) { binary_op(kSub, n, a, b, out); }
void mul(long n, const float* a, const float* b, float* out) { binary_op(kMul, n, a, b, out); }
void div(long n, const float* a, const float* b, float* out) { binary_op(kDiv, n, a, b, out); }

void scale(long n, const float* a, float s, float* out) {
  const SimdLevel lv = level();
  split_range(n, cost::kStream, [=](long b, long e) { MYELIN_ISA_CALL(lv, scale, e - b, a + b, s, out + b); });
}

void axpy(long n, float alpha, const float* x, float* y) {
  const SimdLevel lv = level();
  split_range(n, cost::kAxpy, [=](long b, long e) { MYELIN_ISA_CALL(lv, axpy, e - b, alpha, x + b, y + b); });
}

void unary(int op, long n, const float* x, float* out) {
  const SimdLevel lv = op == kExp ? vector_simd_level() : level();
  split_range(n, unary_cost(op), [=](long b, long e) { MYELIN_ISA_CALL(lv, unary, op, e - b, x + b, out + b); });
}

double sum(long n, const float* x) {
  const SimdLevel lv = level();
  return reduce_range(n, cost::kReduce, [=](long b, long e) { return sum_of(lv, e - b, x + b); });
}

void activation_forward_parallel(int act, long n, const float* x, float* y, float alpha) {
  split_range(n, activation_cost(act, false),
              [=](long b, long e) { activation_forward(act, e - b, x + b, y + b, alpha); });
}

void activation_backward_parallel(int act, long n, const float* x, const float* y,
                                  const float* dy, float* dx, float alpha) {
  split_range(n, activation_cost(act, true), [=](long b, long e) {
    activation_backward(act, e - b, x + b, y + b, dy + b, dx + b, alpha);
  });
}

void add_bias(long M, long N, const float* x, const float* bias, float* out) {
  const SimdLevel lv = level();
  split_rows(M, N, cost::kStream, [=](long r0, long r1, int) {
    MYELIN_ISA_CALL(lv, add_bias, r1 - r0, N, x + r0 * N, bias, out + r0 * N);
  });
}

void col_sum(long M, long N, const float* x, float* out, bool accumulate) {
  const SimdLevel lv = level();
  // Column blocks of 256 doubles on the stack; rows streamed through them.
  constexpr long kBlock = 256;
  const long blocks = (N + kBlock - 1) / kBlock;
  auto do_block = [=](long blk) {
    double acc[kBlock];
    const long j0 = blk * kBlock, w = N - j0 < kBlock ? N - j0 : kBlock;
    for (long j = 0; j < w; ++j) acc[j] = 0.0;
    // Walk rows with the column offset applied: x + j0, row stride N.
    for (long r = 0; r < M; ++r) {
      if (lv == SimdLevel::Scalar) scalar::col_sum_acc(1, w, x + r * N + j0, acc);
      else avx2::col_sum_acc(1, w, x + r * N + j0, acc);  // (double sums: no AVX-512 variant)
    }
    for (long j = 0; j < w; ++j)
      out[j0 + j] = accumulate ? static_cast<float>(out[j0 + j] + acc[j]) : static_cast<float>(acc[j]);
  };
  parallel_for(static_cast<int>(blocks), [&](int b) { do_block(b); },
               threads_for(static_cast<double>(M) * N * cost::kReduce2));
}

void row_sum(long M, long N, const float* x, float* out) {
  const SimdLevel lv = level();
  split_rows(M, N, cost::kReduce, [=](long r0, long r1, int) {
    for (long r = r0; r < r1; ++r) out[r] = static_cast<float>(sum_of(lv, N, x + r * N));
  });
}

double mse_loss(long n, const float* pred, const float* target) {
  if (n == 0) return __builtin_nan("");  // mean of nothing, as 0/0
  const SimdLevel lv = level();
  double s = reduce_range(n, cost::kReduce2, [=](long b, long e) {
    return lv == SimdLevel::Scalar ? scalar::sum_sq_diff(e - b, pred + b, target + b)
                                   : avx2::sum_sq_diff(e - b, pred + b, target + b);
  });
  return s / static_cast<double>(n);
}

void mse_backward(long n, const float* pred, const float* target, float* grad) {
  if (n == 0) return;
  const float sc = static_cast<float>(2.0 / static_cast<double>(n));
  const SimdLevel lv = level();
  split_range(n, cost::kStream, [=](long b, long e) {
    MYELIN_ISA_CALL(lv, mse_backward, e - b, pred + b, target + b, sc, grad + b);
  });
}

}  // namespace myelin
