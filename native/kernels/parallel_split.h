// Internal (portable units only): how many threads a kernel uses, from its work size, and splitting
// a flat range or a set of rows across the thread pool.
#pragma once
#include "isa.h"
#include "../runtime/threadpool.h"

namespace myelin {

// ---- Thread count from work size ----------------------------------------------------------------
// A kernel estimates its single-thread time from its size and its family's cost per unit below,
// and uses one thread per kMinThreadNs of it (at most num_threads()): a problem too small to repay
// the fork/join runs on the calling thread, whatever the thread count.
//
// kMinThreadNs: a parallel_for on a spinning worker costs ~0.2 us of wall time (two tasks of 1-16
// us each: 0.20-0.24 us over half the one-thread time, AMD EPYC Zen 4 family 25 model 17), a
// sleeping worker 0.1-0.3 ms to wake (the caller does not wait for it: it takes the tasks itself),
// and the worker's half of the output then sits in the other core's L2. 3 us per thread keeps the
// fork/join under ~8% of a split call. It was 10 us: the names-GPT train step at 2 threads went
// from 19.1 to 18.6 ms (median of 4 alternating runs each) at 3 us, its 36 adds of 64k floats
// (8 us each, operands mostly out of L1) from 0.45 to 0.28 ms; 1 us was no faster than 3.
// `node bench/run.js --only threads` checks it per family.
constexpr double kMinThreadNs = 3000.0;

// Multiply-adds from which one item's product splits across the threads by output columns or
// channels (a convolution of fewer images than threads, conv_fused.cc; the packed few-row GEMV,
// gemm.cc): 1<<17 is ~6 us on one thread (2 kMinThreadNs). EPYC Zen 4, the Fashion CNN at batch 1,
// wall clock per call, one thread -> split in two: its first conv + pool (1->32 28x28, 0.23 M) 10.5
// -> 7.5 us, its second (32->64 14x14 Winograd, 3.6 M) 61 -> 39 us; its Linear 3136->128 (0.4 M,
// ~19 us on one thread reading W from L3) split by column panels.
constexpr long kSplitMultiplyAdds = 1L << 17;

// Single-thread cost per element (ns), CPU time on AMD EPYC Zen 4 (family 25 model 17), operands
// of 64k floats in cache, measured with 1 thread (node bench/cases/threads.js and the per-kernel
// probe in docs/performance.md, "Thread counts and AVX-512 elementwise kernels").
namespace cost {
constexpr double kStream = 0.12;        // add/sub/mul/div, scale, neg/abs/square/1/x, relu, leaky, mse'
constexpr double kAxpy = 0.2;           // y += a x (double rounding)
constexpr double kReduce = 0.08;        // sum, row sums
constexpr double kReduce2 = 0.14;       // mse loss, column sums
constexpr double kExp = 0.3;            // vector exp
constexpr double kSigmoidTanh = 0.65;   // sigmoid/tanh forward, geluTanh forward (AVX2)
constexpr double kSigmoidTanh512 = 0.4; // sigmoid/tanh forward at AVX-512 (0.31-0.45 measured)
constexpr double kGelu = 1.5;           // gelu forward, geluTanh backward
constexpr double kGeluBackward = 2.1;   // gelu backward
constexpr double kLibm = 3.0;           // log (libm, one element at a time)
constexpr double kSqrt = 0.15;          // vector sqrt
constexpr double kSoftmax = 0.7;        // softmax / log-softmax / cross-entropy rows, per element
constexpr double kSoftmaxBackward = 1.2;
constexpr double kOptim = 0.35;         // sgd / adam / rmsprop, per parameter (vectorised loops)
}  // namespace cost

// Threads worth using for work of about `ns` single-thread nanoseconds.
inline int threads_for(double ns) {
  const int threads = num_threads();
  if (threads <= 1 || !(ns >= 2.0 * kMinThreadNs)) return 1;
  const double k = ns / kMinThreadNs;
  return k >= threads ? threads : static_cast<int>(k);
}

// Calls body(begin, end) over [0, n): once on the calling thread when threads_for(n * ns_per_elem)
// is 1, else over up to 4 chunks per thread (multiples of 64 elements) spread across the pool.
template <class Body>
void split_range(long n, double ns_per_elem, const Body& body) {
  const int threads = threads_for(static_cast<double>(n) * ns_per_elem);
  if (threads <= 1) {
    body(0L, n);
    return;
  }
  const long chunks = 4L * threads;
  const long step = ((n + chunks - 1) / chunks + 63) & ~63L;
  const int tasks = static_cast<int>((n + step - 1) / step);
  parallel_for(tasks, [&](int t) {
    long b = t * step, e = b + step < n ? b + step : n;
    body(b, e);
  }, threads);
}

// The older form (pooling): parallel from kParallelThreshold elements on.
template <class Body>
void split_range(long n, const Body& body) {
  split_range(n, 2.0 * kMinThreadNs / kParallelThreshold, body);
}

// Rows of N elements in tasks of about kParallelThreshold / 4 elements (one task below
// kParallelThreshold): a split that depends on the shape only, so per-task partial results (loss
// sums) are the same at every thread count. Returns the number of tasks.
inline int row_tasks(long M, long N, long* rows_per) {
  if (M * N < kParallelThreshold || M == 1) {
    *rows_per = M;
    return 1;
  }
  *rows_per = (kParallelThreshold / 4 + N - 1) / N;
  return static_cast<int>((M + *rows_per - 1) / *rows_per);
}

// Runs body(r0, r1, task) over row_tasks(M, N) ranges, on threads_for(M * N * ns_per_elem) threads.
template <class Body>
void split_rows(long M, long N, double ns_per_elem, const Body& body) {
  long rows_per = M;
  const int tasks = row_tasks(M, N, &rows_per);
  auto run = [&](int t) {
    const long r0 = t * rows_per;
    body(r0, r0 + rows_per < M ? r0 + rows_per : M, t);
  };
  if (tasks == 1) {
    run(0);
    return;
  }
  parallel_for(tasks, run, threads_for(static_cast<double>(M) * N * ns_per_elem));
}

}  // namespace myelin
