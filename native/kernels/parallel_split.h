// Internal (portable units only): split a flat range across the thread pool when it is large.
#pragma once
#include "isa.h"
#include "../runtime/threadpool.h"

namespace myelin {

// Calls body(begin, end) over [0, n): once on the calling thread below kParallelThreshold, else
// over chunks of at least 16k elements (multiples of 64) spread across the pool.
template <class Body>
void split_range(long n, const Body& body) {
  int threads = num_threads();
  if (n < kParallelThreshold || threads <= 1) {
    body(0L, n);
    return;
  }
  long chunks = n / 16384;
  if (chunks > 4L * threads) chunks = 4L * threads;
  if (chunks < 1) chunks = 1;
  long step = ((n + chunks - 1) / chunks + 63) & ~63L;
  int tasks = static_cast<int>((n + step - 1) / step);
  parallel_for(tasks, [&](int t) {
    long b = t * step, e = b + step < n ? b + step : n;
    body(b, e);
  });
}

}  // namespace myelin
