// LSTM and GRU cell kernels: argument checks, run-time dispatch (simd_level: AVX2 or portable) and the
// split of the batch rows across the thread pool when a step is large.
#include "recurrent.h"

#include <stdexcept>
#include <string>

#include "isa.h"
#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"

#define RNN_ISA scalar
#include "recurrent_loops.inc"

namespace myelin {

namespace {

bool use_avx2() {
#if defined(__x86_64__) || defined(_M_X64)  // the AVX2 unit is empty elsewhere
  return simd_level() != SimdLevel::Scalar;
#else
  return false;
#endif
}

void check_gates(const char* kernel, long H, long G, long per_unit) {
  if (G != per_unit * H) {
    throw std::invalid_argument(std::string(kernel) + ": G (" + std::to_string(G) + ") must be " +
                                std::to_string(per_unit) + " * H (H = " + std::to_string(H) + ")");
  }
}

// body(b0, b1) over batch-row ranges; one range unless the step has kParallelThreshold values or more.
template <class Body>
void split_batch(long B, long G, const Body& body) {
  if (B * G < kParallelThreshold || B == 1 || num_threads() <= 1) {
    body(0L, B);
    return;
  }
  const int tasks = num_threads() < B ? num_threads() : static_cast<int>(B);
  const long per = (B + tasks - 1) / tasks;
  parallel_for(tasks, [&](int t) {
    const long b0 = t * per, b1 = b0 + per < B ? b0 + per : B;
    if (b0 < b1) body(b0, b1);
  });
}

}  // namespace

void lstm_cell_forward(long B, long H, long G, float* gates, const float* c_prev, float* c, float* h) {
  check_gates("lstmCellForward", H, G, 4);
  const auto f = use_avx2() ? avx2::lstm_fwd_rows : scalar::lstm_fwd_rows;
  split_batch(B, G, [&](long b0, long b1) {
    f(b1 - b0, H, gates + b0 * G, c_prev + b0 * H, c + b0 * H, h + b0 * H);
  });
}

void lstm_cell_backward(long B, long H, long G, const float* gates, const float* c_prev, const float* c,
                        const float* dh, float* dc, float* dgates) {
  check_gates("lstmCellBackward", H, G, 4);
  const auto f = use_avx2() ? avx2::lstm_bwd_rows : scalar::lstm_bwd_rows;
  split_batch(B, G, [&](long b0, long b1) {
    f(b1 - b0, H, gates + b0 * G, c_prev + b0 * H, c + b0 * H, dh + b0 * H, dc + b0 * H, dgates + b0 * G);
  });
}

void gru_cell_forward(long B, long H, long G, float* gi, const float* gh, const float* h_prev, float* h) {
  check_gates("gruCellForward", H, G, 3);
  const auto f = use_avx2() ? avx2::gru_fwd_rows : scalar::gru_fwd_rows;
  split_batch(B, G, [&](long b0, long b1) {
    f(b1 - b0, H, gi + b0 * G, gh + b0 * G, h_prev + b0 * H, h + b0 * H);
  });
}

void gru_cell_backward(long B, long H, long G, const float* gates, const float* gh, const float* h_prev,
                       const float* dh, float* dgi, float* dgh, float* dh_prev) {
  check_gates("gruCellBackward", H, G, 3);
  const auto f = use_avx2() ? avx2::gru_bwd_rows : scalar::gru_bwd_rows;
  split_batch(B, G, [&](long b0, long b1) {
    f(b1 - b0, H, gates + b0 * G, gh + b0 * G, h_prev + b0 * H, dh + b0 * H, dgi + b0 * G, dgh + b0 * G,
      dh_prev + b0 * H);
  });
}

}  // namespace myelin
