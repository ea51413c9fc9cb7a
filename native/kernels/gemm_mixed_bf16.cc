// Mixed-precision GEMM driver: dispatch, the portable path, K blocks, packing buffers, threads, epilogue.
#include "gemm_mixed_bf16.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"
#include "gemm_mixed_bf16_kernels.h"
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

// Per-thread packing buffers, 64-byte aligned, reused across calls.
struct Buffers {
  uint32_t* a = nullptr;
  uint32_t* b = nullptr;
  std::size_t a_cap = 0, b_cap = 0;
  ~Buffers() {
    std::free(a);
    std::free(b);
  }
  static uint32_t* grow(uint32_t** p, std::size_t* cap, std::size_t n) {
    if (n > *cap) {
      std::free(*p);
      *p = static_cast<uint32_t*>(std::aligned_alloc(64, (n * 4 + 63) / 64 * 64 + 64));
      if (*p == nullptr) std::abort();  // out of memory: nothing sensible to return
      *cap = n;
    }
    return *p;
  }
};

long kc_step_for(long K) {
  const long blocks = (K + kKC - 1) / kKC;
  return std::min(K, ((K + blocks - 1) / blocks + 15) / 16 * 16);
}

// C[m0,m1) x [n0,n1): per block of rows and K, A packed once, B one 32-column panel at a time.
void slab(const Args& p, long m0, long m1, long n0, long n1) {
  static thread_local Buffers bufs;
  const long kc_step = kc_step_for(p.K);
  const long pairs_max = (kc_step + 1) / 2;
  const long mc_max = std::min(kMC, m1 - m0);
  uint32_t* abuf = Buffers::grow(&bufs.a, &bufs.a_cap, static_cast<std::size_t>((mc_max + kMR - 1) / kMR * kMR * pairs_max));
  uint32_t* bbuf = Buffers::grow(&bufs.b, &bufs.b_cap, static_cast<std::size_t>(kNR * pairs_max));
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

// Packed A shared by the tasks of one row group (tasks that split its columns): the group's rows for every K block
// (block pc at offset padded_rows * pc / 2, the layout pack_a gives the whole group), packed once in `parts` row
// ranges of whole kMR-row tiles. Each part of each block has a state: 0 unclaimed, 1 being packed, 2 packed. A task
// claims the unclaimed parts of a block (its own part first) and packs them, then waits for the parts other tasks
// are packing: only a running task holds a part at 1, so a task never waits on one that has not started (the pool
// may run the tasks one after another: the first then packs every part).
struct SharedA {
  uint32_t* data;
  long m0, m1, padded_rows, parts, kc_step;
  std::atomic<int>* state;  // [block * parts + part]

  long part_row(long q) const {
    const long tiles = padded_rows / kMR;
    return std::min(m1 - m0, tiles * q / parts * kMR);
  }
  // Block pc of the group's packed rows, every part packed.
  const uint32_t* block(const Args& p, long pc, long first_part) {
    const long kc = std::min(kc_step, p.K - pc);
    uint32_t* dst = data + padded_rows * (pc / 2);
    std::atomic<int>* st = state + (pc / kc_step) * parts;
    for (long i = 0; i < parts; ++i) {
      const long q = (first_part + i) % parts;
      int expected = 0;
      if (!st[q].compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) continue;
      const long r0 = part_row(q), r1 = part_row(q + 1);
      if (r0 < r1) mixed_bf16::pack_a_avx512bf16(p.transA, r1 - r0, kc, p.a_at(m0 + r0, pc), p.lda(), dst + r0 * ((kc + 1) / 2));
      st[q].store(2, std::memory_order_release);
    }
    for (long q = 0; q < parts; ++q) {
      while (st[q].load(std::memory_order_acquire) != 2) __builtin_ia32_pause();
    }
    return dst;
  }
};

// slab() on rows [a.m0, a.m1) (at most kMC) and columns [n0, n1), A from the shared packing (part `part` first).
void slab_shared(const Args& p, SharedA& a, long part, long n0, long n1) {
  static thread_local Buffers bufs;
  const long pairs_max = (a.kc_step + 1) / 2;
  uint32_t* bbuf = Buffers::grow(&bufs.b, &bufs.b_cap, static_cast<std::size_t>(kNR * pairs_max));
  const long mc = a.m1 - a.m0;
  for (long pc = 0; pc < p.K; pc += a.kc_step) {
    const long kc = std::min(a.kc_step, p.K - pc);
    const long pairs = (kc + 1) / 2;
    const float beta = pc == 0 ? p.beta : 1.0f;
    const uint32_t* abuf = a.block(p, pc, part);
    for (long jr = n0, nr = 0; jr < n1; jr += nr) {
      nr = std::min<long>(n1 - jr, (n1 - jr + 15) / 16 == 4 ? 32 : kNR);
      mixed_bf16::pack_b_avx512bf16(p.transB, kc, nr, p.b_at(pc, jr), p.ldb(), bbuf);
      mixed_bf16::multiply_avx512bf16(mc, nr, pairs, abuf, bbuf, p.C + a.m0 * p.N + jr, p.N, p.alpha, beta);
    }
  }
  if (epilogue_active(p.ep)) apply_epilogue(*p.ep, p.C + a.m0 * p.N + n0, p.N, mc, n1 - n0, a.m0, n0, p.N);
}

// The grid of tasks: `threads` slabs as tm row ranges (whole kMR-row tiles) x tn column ranges (whole 16-column
// vectors: the kernel takes panels of 16, 32 or 48 columns, so both halves of 256 columns get 128), the split
// whose largest task (its multiply-adds plus the packing it does) is smallest. The tn tasks of a row range
// share its packed A (SharedA: each packs about 1/tn of it) when the range fits one kMC block; B panels are
// packed by each task for its own columns.
constexpr long kColUnit = 16;
// Packing (rounding) one element costs about as much as this many vdpbf16ps multiply-adds (one thread, the
// large products of the reference MLP: packing ~11% of the time for ~1% of the elements of the multiply-adds).
constexpr double kPackCost = 10.0;

int ab_old() {
  const char* e = std::getenv("MYELIN_BF16_AB_OLD");
  return e == nullptr ? 0 : e[0] - '0';
}

void run_threaded(const Args& p) {
  const long mt = (p.M + kMR - 1) / kMR, nt = (p.N + kColUnit - 1) / kColUnit;
  int threads = static_cast<double>(p.M) * p.N * p.K <= kParallelMin ? 1 : num_threads();
  if (const char* e = std::getenv("MYELIN_BF16_AB_TASKS")) threads = std::atoi(e);
  threads = static_cast<int>(std::min<long>(threads, mt * nt));
  const int mode = ab_old();
  const bool old = mode == 1, noshare = mode == 2;
  int tm = 1;
  double best = -1.0;
  for (int t = 1; t <= threads; ++t) {
    if (threads % t != 0 || t > mt || threads / t > nt) continue;
    const int tn = threads / t;
    const double rows = static_cast<double>((mt + t - 1) / t * kMR);
    const double cols = static_cast<double>((nt + tn - 1) / tn * kColUnit);
    const bool shares = !old && !noshare && tn > 1 && rows <= kMC;
    const double cost = old ? rows * cols + 4.0 * (rows + cols) : rows * cols + kPackCost * ((shares ? rows / tn : rows) + cols);
    if (best < 0.0 || cost < best) {
      best = cost;
      tm = t;
    }
  }
  if (best < 0.0 || threads <= 1) {
    slab(p, 0, p.M, 0, p.N);
    return;
  }
  const int tn = threads / tm;
  const auto rows_of = [&](long ti, long* m0, long* m1) {
    *m0 = std::min(p.M, (mt * ti / tm) * kMR);
    *m1 = std::min(p.M, (mt * (ti + 1) / tm) * kMR);
  };
  const auto cols_of = [&](long tj, long* n0, long* n1) {
    *n0 = std::min(p.N, (nt * tj / tn) * kColUnit);
    *n1 = std::min(p.N, (nt * (tj + 1) / tn) * kColUnit);
  };
  const long group_rows = (mt + tm - 1) / tm * kMR;
  if (old || noshare || tn == 1 || group_rows > kMC) {
    parallel_for(threads, [&](int task) {
      long m0, m1, n0, n1;
      rows_of(task / tn, &m0, &m1);
      cols_of(task % tn, &n0, &n1);
      if (m0 < m1 && n0 < n1) slab(p, m0, m1, n0, n1);
    });
    return;
  }
  // Shared A: one buffer per row group (its rows padded to kMR) holding every K block, in the caller's buffers.
  static thread_local Buffers shared;
  const long kc_step = kc_step_for(p.K);
  const long blocks = (p.K + kc_step - 1) / kc_step;
  const long pairs_all = (p.K + 1) / 2 + 1;  // + 1: a block's offset is padded_rows * pc / 2 (pc even)
  uint32_t* data = Buffers::grow(&shared.a, &shared.a_cap, static_cast<std::size_t>(tm * group_rows * pairs_all));
  std::unique_ptr<std::atomic<int>[]> state(new std::atomic<int>[static_cast<std::size_t>(tm * blocks * tn)]);
  for (long i = 0; i < tm * blocks * tn; ++i) state[i].store(0, std::memory_order_relaxed);
  std::vector<SharedA> groups(static_cast<std::size_t>(tm));
  for (long ti = 0; ti < tm; ++ti) {
    long m0, m1;
    rows_of(ti, &m0, &m1);
    const long padded = (m1 - m0 + kMR - 1) / kMR * kMR;
    groups[ti] = SharedA{data + ti * group_rows * pairs_all, m0, m1, padded, tn, kc_step, state.get() + ti * blocks * tn};
  }
  parallel_for(threads, [&](int task) {
    const long ti = task / tn, tj = task % tn;
    long n0, n1;
    cols_of(tj, &n0, &n1);
    if (groups[ti].m0 < groups[ti].m1 && n0 < n1) slab_shared(p, groups[ti], tj, n0, n1);
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
