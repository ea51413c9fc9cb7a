// Mixed-precision GEMM driver: dispatch, the portable path, K blocks, packing buffers, threads, epilogue.
#include "gemm_mixed_bf16.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"
#include "gemm_mixed_bf16_kernels.h"
#include "pack_buffers.h"
#include "qgemm.h"

namespace myelin {
namespace {

bool has_avx512bf16() {
#ifdef MYELIN_MIXED_BF16_HAVE_X86
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return yes && gemm_simd_level() == SimdLevel::Avx512;
#else
  return false;
#endif
}

// Rounds n floats to bf16 values (to_bf16's rule), widened back to float32.
void round_to_bf16(long n, const float* x, float* out) {
  constexpr long kChunk = 4096;
  uint16_t h[kChunk];
  for (long i = 0; i < n; i += kChunk) {
    const long len = std::min(kChunk, n - i);
    to_bf16(len, x + i, h);
    for (long j = 0; j < len; ++j) {
      const uint32_t u = static_cast<uint32_t>(h[j]) << 16;
      __builtin_memcpy(out + i + j, &u, 4);
    }
  }
}

#ifdef MYELIN_MIXED_BF16_HAVE_X86
using mixed_bf16::kMR;
using mixed_bf16::kNR;

// K blocks of at most kKC (multiples of 16, the packing's step, except the last): a B panel of kKC/2
// pairs x 32 columns (32 KiB) stays in L1 while every row panel of A streams past it.
constexpr long kKC = 256;
// Rows of A packed at once (kMC x kKC bf16 = 256 KiB, in L2).
constexpr long kMC = 512;
// Below this many multiply-adds a single thread is faster than waking the pool.
constexpr double kParallelMin = 262144.0;

using Args = GemmOperands;

long kc_step_for(long K) {
  const long blocks = (K + kKC - 1) / kKC;
  return std::min(K, ((K + blocks - 1) / blocks + 15) / 16 * 16);
}

// C[m0,m1) x [n0,n1): per block of rows and K, A packed once, B one 32-column panel at a time.
void slab(const Args& p, long m0, long m1, long n0, long n1) {
  static thread_local PackBuffers<uint32_t> bufs;
  const long kc_step = kc_step_for(p.K);
  const long pairs_max = (kc_step + 1) / 2;
  const long mc_max = std::min(kMC, m1 - m0);
  uint32_t* abuf = bufs.a(static_cast<std::size_t>((mc_max + kMR - 1) / kMR * kMR * pairs_max));
  uint32_t* bbuf = bufs.b(static_cast<std::size_t>(kNR * pairs_max));
  for (long ic = m0; ic < m1; ic += kMC) {
    const long mc = std::min(kMC, m1 - ic);
    for (long pc = 0; pc < p.K; pc += kc_step) {
      const long kc = std::min(kc_step, p.K - pc);
      const long pairs = (kc + 1) / 2;
      const float beta = pc == 0 ? p.beta : 1.0f;
      mixed_bf16::pack_a_avx512bf16(p.transA, mc, kc, p.a_at(ic, pc), p.lda(), abuf);
      for (long jr = n0, nr = 0; jr < n1; jr += nr) {
        // Panels of 48 columns, but 64 left go as 32 + 32 (a 16-column tile has a third of the accumulators).
        nr = std::min<long>(n1 - jr, (n1 - jr + 15) / 16 == 4 ? 32 : kNR);
        mixed_bf16::pack_b_avx512bf16(p.transB, kc, nr, p.b_at(pc, jr), p.ldb(), bbuf);
        mixed_bf16::multiply_avx512bf16(mc, nr, pairs, abuf, bbuf, p.C + ic * p.N + jr, p.N, p.alpha, beta);
      }
    }
    if (epilogue_active(p.ep)) apply_epilogue(*p.ep, p.C + ic * p.N + n0, p.N, mc, n1 - n0, ic, n0, p.N);
  }
}

// The grid of tasks: `threads` slabs as tm row ranges (whole kMR-row tiles) x tn column ranges (whole 16-column
// vectors: the kernel takes panels of 16, 32 or 48 columns, so both halves of 256 columns get 128), the split
// whose largest task (its multiply-adds plus the packing it repeats) is smallest. Each task packs all of its rows
// of A and all of its columns of B: packing A once for the tasks of a row range (each task packing a part of it,
// parts claimed through atomics, no barrier) did 3-8% less work on two threads but ran 2-10% slower on the MLP's
// forward and dX products (128x256x784 NT, 128x128x256 NT, 128x256x128 NN): the packed lines move between the
// cores on every call.
constexpr long kColUnit = 16;
// Packing (rounding) one element costs about as much as this many vdpbf16ps multiply-adds: the reference MLP's
// large products at one thread spend ~11% of their time packing ~1% as many elements as they multiply-add. At 4
// (the float32 GEMM's figure) 256x784x128 TN (dW of the first layer) split its rows: each thread packed all 784
// columns of X; split by columns it packs half of them and all 256 rows of dZ^T, and runs 1-2% faster.
constexpr double kPackCost = 10.0;

void run_threaded(const Args& p) {
  const long mt = (p.M + kMR - 1) / kMR, nt = (p.N + kColUnit - 1) / kColUnit;
  int threads = static_cast<double>(p.M) * p.N * p.K <= kParallelMin ? 1 : num_threads();
  threads = static_cast<int>(std::min<long>(threads, mt * nt));
  int tm = 1;
  double best = -1.0, best_cols = 0.0;
  for (int t = 1; t <= threads; ++t) {
    if (threads % t != 0 || t > mt || threads / t > nt) continue;
    const double rows = static_cast<double>((mt + t - 1) / t * kMR);
    const double cols = static_cast<double>((nt + threads / t - 1) / (threads / t) * kColUnit);
    const double cost = rows * cols + kPackCost * (rows + cols);
    // Ties go to the wider column range: 128x128x256 NT split by rows (8x48 tiles) instead of by columns (64
    // columns as 32 + 32) runs 2% faster on two threads.
    if (best < 0.0 || cost < best || (cost == best && cols > best_cols)) {
      best = cost;
      best_cols = cols;
      tm = t;
    }
  }
  if (best < 0.0 || threads <= 1) {
    slab(p, 0, p.M, 0, p.N);
    return;
  }
  const int tn = threads / tm;
  parallel_for(threads, [&](int task) {
    const long ti = task / tn, tj = task % tn;
    const long m0 = std::min(p.M, (mt * ti / tm) * kMR), m1 = std::min(p.M, (mt * (ti + 1) / tm) * kMR);
    const long n0 = std::min(p.N, (nt * tj / tn) * kColUnit), n1 = std::min(p.N, (nt * (tj + 1) / tn) * kColUnit);
    if (m0 < m1 && n0 < n1) slab(p, m0, m1, n0, n1);
  });
}
#endif

}  // namespace

void gemm_mixed_bf16(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                     const float* B, float beta, float* C, const Epilogue* ep) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    gemm(transA, transB, M, N, K, alpha, A, B, beta, C, ep);  // no products: nothing to round
    return;
  }
#ifdef MYELIN_MIXED_BF16_HAVE_X86
  if (has_avx512bf16()) {
    run_threaded(Args{transA, transB, M, N, K, alpha, beta, A, B, C, ep});
    return;
  }
#endif
  static thread_local std::vector<float> ar, br;
  ar.resize(static_cast<std::size_t>(M) * K);
  br.resize(static_cast<std::size_t>(K) * N);
  round_to_bf16(static_cast<long>(M) * K, A, ar.data());
  round_to_bf16(static_cast<long>(K) * N, B, br.data());
  gemm(transA, transB, M, N, K, alpha, ar.data(), br.data(), beta, C, ep);
}

const char* gemm_mixed_bf16_path() { return has_avx512bf16() ? "avx512bf16" : "fp32"; }

}  // namespace myelin
