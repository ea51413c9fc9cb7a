// Fused attention: the portable loops, run-time dispatch (gemm_simd_level: AVX-512, AVX2 or scalar)
// and the split across the thread pool (forward: heads x query-row chunks; backward: heads).
#include "attention.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "isa.h"
#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"

#define ATT_ISA scalar
#define ATT_NV 16
#include "attention_loops.inc"

namespace myelin {

namespace {

struct Loops {
  decltype(&scalar::attention_forward_rows) forward_rows;
  decltype(&scalar::attention_backward_head) backward_head;
};

Loops loops() {
#if defined(__x86_64__) || defined(_M_X64)  // the AVX units are empty elsewhere
  switch (gemm_simd_level()) {
    case SimdLevel::Avx512:
      return {avx512::attention_forward_rows, avx512::attention_backward_head};
    case SimdLevel::Avx2:
      return {avx2::attention_forward_rows, avx2::attention_backward_head};
    default:
      break;
  }
#endif
  return {scalar::attention_forward_rows, scalar::attention_backward_head};
}

thread_local std::vector<float> t_scratch;

float* scratch(long S, long D) {
  const size_t n = static_cast<size_t>(attention_scratch_floats(S, D));
  if (t_scratch.size() < n) t_scratch.resize(n);
  return t_scratch.data();
}

// Heads contiguous: q and out [B*H, T, D], k and v [B*H, S, D].
// `who` names the kernel in an error (a kernel's own argument check starts with its name).
AttentionShape shape_of(const char* who, long BH, long B, long T, long S, long D, const float* key_padding,
                        bool causal, float scale, float dropout, long seed) {
  if (B <= 0 || BH % B != 0) {
    throw std::invalid_argument(std::string(who) + ": BH " + std::to_string(BH) + " heads is not a multiple of the batch B " +
                                std::to_string(B));
  }
  const long H = BH / B;
  return {B, H, T, S, D, key_padding, causal, scale, dropout, static_cast<unsigned>(seed),
          H * T * D, T * D, D, H * S * D, S * D, D, H * T * D, T * D, D};
}

// Self-attention's packed projections: qkv [B, T, Q = 3E], out [B, T, E], head h at columns h * D.
AttentionShape packed_shape_of(const char* who, long B, long T, long H, long E, long Q, const float* key_padding,
                               bool causal, float scale, float dropout, long seed) {
  if (H <= 0 || E % H != 0) {
    throw std::invalid_argument(std::string(who) + ": width E " + std::to_string(E) + " is not a multiple of the heads H " +
                                std::to_string(H));
  }
  if (Q != 3 * E) {
    throw std::invalid_argument(std::string(who) + ": the packed row width Q " + std::to_string(Q) + " is not 3 * E = " +
                                std::to_string(3 * E));
  }
  const long D = E / H;
  return {B, H, T, T, D, key_padding, causal, scale, dropout, static_cast<unsigned>(seed),
          T * Q, D, Q, T * Q, D, Q, T * E, D, E};
}

// body(i) for i in [0, n) on the pool, in at most kGroupsPerThread * threads tasks of consecutive i: a
// task per head (128 of them for a batch of 32 with 4 heads, ~1-3 us each at length 16) made each
// one a fetch_add on the pool's shared counter, whose cache line then moved between the cores, and
// split a batch row's heads across both cores' caches. Every i is computed alone, so the bits do
// not depend on the grouping.
constexpr long kGroupsPerThread = 4;
template <class Body>
void for_groups(long n, int threads, const Body& body) {
  const long groups = n < kGroupsPerThread * threads ? n : kGroupsPerThread * threads;
  const long per = (n + groups - 1) / groups;
  parallel_for(static_cast<int>((n + per - 1) / per), [&](int g) {
    const long i1 = (g + 1) * per < n ? (g + 1) * per : n;
    for (long i = g * per; i < i1; ++i) body(i);
  });
}

void run_forward(const AttentionShape& a, const float* q, const float* k, const float* v, float* out, float* lse) {
  const long BH = a.B * a.H, T = a.T, S = a.S, D = a.D;
  const Loops l = loops();
  const int threads = num_threads();
  // Row chunks (multiples of 4) so that there are about two tasks per thread when heads are few;
  // each chunk repacks its keys (S * D), small next to its chunk * S * D multiply-adds.
  long chunk = T;
  if (threads > 1 && BH < 2L * threads && T * S * D * BH >= kParallelThreshold) {
    const long per_head = (2L * threads + BH - 1) / BH;
    chunk = ((T + per_head - 1) / per_head + 3) & ~3L;
    if (chunk < 16) chunk = 16;
  }
  const long chunks = (T + chunk - 1) / chunk;
  const long tasks = BH * chunks;
  auto body = [&](long t) {
    const long bh = t / chunks, c = t % chunks;
    const long t0 = c * chunk, t1 = t0 + chunk < T ? t0 + chunk : T;
    l.forward_rows(a, bh, t0, t1, q, k, v, out, lse, scratch(S, D));
  };
  if (tasks == 1 || threads <= 1 || BH * T * S * D < kParallelThreshold) {
    for (long t = 0; t < tasks; ++t) body(t);
  } else {
    for_groups(tasks, threads, body);
  }
}

void run_backward(const AttentionShape& a, const float* q, const float* k, const float* v, const float* out,
                  const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  const long BH = a.B * a.H, T = a.T, S = a.S, D = a.D;
  const Loops l = loops();
  auto body = [&](long bh) { l.backward_head(a, bh, q, k, v, out, lse, dout, dq, dk, dv, scratch(S, D)); };
  const int threads = num_threads();
  if (BH == 1 || threads <= 1 || BH * T * S * D < kParallelThreshold) {
    for (long bh = 0; bh < BH; ++bh) body(bh);
  } else {
    for_groups(BH, threads, body);
  }
}

}  // namespace

void attention_forward(long BH, long B, long T, long S, long D, const float* q, const float* k,
                       const float* v, const float* key_padding, bool causal, float scale,
                       float dropout, long seed, float* out, float* lse) {
  run_forward(shape_of("attentionForward", BH, B, T, S, D, key_padding, causal, scale, dropout, seed), q, k, v, out, lse);
}

void attention_backward(long BH, long B, long T, long S, long D, const float* q, const float* k,
                        const float* v, const float* key_padding, bool causal, float scale,
                        float dropout, long seed, const float* out, const float* lse,
                        const float* dout, float* dq, float* dk, float* dv) {
  run_backward(shape_of("attentionBackward", BH, B, T, S, D, key_padding, causal, scale, dropout, seed), q, k, v, out, lse, dout, dq,
               dk, dv);
}

void attention_qkv_forward(long B, long T, long H, long E, long Q, const float* qkv,
                           const float* key_padding, bool causal, float scale, float dropout,
                           long seed, float* out, float* lse) {
  const AttentionShape a = packed_shape_of("attentionQkvForward", B, T, H, E, Q, key_padding, causal, scale, dropout, seed);
  run_forward(a, qkv, qkv + E, qkv + 2 * E, out, lse);
}

void attention_qkv_backward(long B, long T, long H, long E, long Q, const float* qkv,
                            const float* key_padding, bool causal, float scale, float dropout,
                            long seed, const float* out, const float* lse, const float* dout,
                            float* dqkv) {
  const AttentionShape a = packed_shape_of("attentionQkvBackward", B, T, H, E, Q, key_padding, causal, scale, dropout, seed);
  run_backward(a, qkv, qkv + E, qkv + 2 * E, out, lse, dout, dqkv, dqkv + E, dqkv + 2 * E);
}

}  // namespace myelin
