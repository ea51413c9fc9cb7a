// GEMM driver: dispatch, GEMV for M==1/N==1, cache blocking with packed panels, threads, epilogue.
#include "gemm.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"
#include "activation.h"
#include "gemm_kernels.h"
#include "pack_buffers.h"
#include "parallel_split.h"

namespace myelin {
namespace {

using gemm_kernels::KernelTable;

// Cache blocking (floats): a KC x NR panel of B stays in L1, an MC x KC block of A in L2, a
// KC x NC block of B in L3; MC and NC are rounded down to multiples of the table's MR and NR.
// Measured on Zen 5 (1 MiB L2): MC 72-240 and KC 192-384 are all within noise of each other.
constexpr long kMC = 144;
constexpr long kKC = 256;
constexpr long kNC = 4080;
// Tasks per thread when splitting C: 1 keeps the repeated packing lowest (measured on one thread
// with the MLP shapes: 4 tasks cost ~6%, 8 tasks ~15%), and tasks share nothing they write (a
// variant packing A once for all threads, with small column tasks, was 10-40% slower on 2 threads:
// packed data and C lines move between the cores). The pool still lets the caller take a late
// worker's task.
constexpr int kTasksPerThread = 1;
// Below this many multiply-adds a single thread is faster than waking the pool.
constexpr double kParallelMinFlops = 262144.0;

struct Tables {
  KernelTable scalar;
  KernelTable avx2;
  KernelTable avx512;
  bool has_x86 = false;
  Tables() {
    gemm_kernels::fill_scalar_kernels(&scalar);
    avx2 = scalar;
    avx512 = scalar;
#ifdef MYELIN_GEMM_HAVE_AVX2
    // Filling only stores function pointers: nothing here executes AVX2/AVX-512 instructions.
    has_x86 = true;
    gemm_kernels::fill_avx2_kernels(&avx2);
    avx512 = avx2;
    gemm_kernels::fill_avx512_kernels(&avx512);
#endif
  }
};

const KernelTable& kernels() {
  static const Tables tables;  // thread-safe one-time init
  if (!tables.has_x86) return tables.scalar;
  switch (gemm_simd_level()) {
    case SimdLevel::Avx512: return tables.avx512;
    case SimdLevel::Avx2: return tables.avx2;
    default: return tables.scalar;
  }
}

PackBuffers<float>& pack_buffers() {
  static thread_local PackBuffers<float> buffers;
  return buffers;
}

// A/B switch for measurements: MYELIN_GEMM_PACK_A=1 packs A even where it could be read in place.
bool direct_a_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("MYELIN_GEMM_PACK_A");
    return v == nullptr || v[0] != '1';
  }();
  return enabled;
}

}  // namespace

bool epilogue_active(const Epilogue* ep) {
  return ep != nullptr && (ep->bias != nullptr || ep->act != kActNone || ep->preact != nullptr);
}

// Applies bias (by column), the preact store and the activation to rows x cols of C, whose first
// element is C(row0, col0) of an M x N result (preact has the same layout, row stride N).
void apply_epilogue(const Epilogue& ep, float* c, long ldc, long rows, long cols, long row0,
                    long col0, long N) {
  for (long r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    if (ep.bias != nullptr) {
      const float* bias = ep.bias + col0;
      for (long j = 0; j < cols; ++j) cr[j] += bias[j];
    }
    if (ep.preact != nullptr) std::memcpy(ep.preact + (row0 + r) * N + col0, cr, cols * sizeof(float));
    if (ep.act != kActNone) activation_forward(ep.act, cols, cr, cr, ep.alpha);
  }
}

namespace {

struct Problem : GemmOperands {
  // B already packed (PackedWeights): K block pc starts at prepacked + pc * npad, its panel for
  // column j (a multiple of the tile's nr) at + j * kc. Null: pack B as the product goes.
  const float* prepacked = nullptr;
  long npad = 0;
};

// K block size: equal blocks of at most kKC (multiples of 8 for the packing loops) instead of a
// short tail block, which would reload and store C for only a few k.
long kc_step_for(long K) {
  const long kblocks = (K + kKC - 1) / kKC;
  return std::min(K, ((K + kblocks - 1) / kblocks + 7) / 8 * 8);
}

// c = alpha * (A rows [0, mc)) * (packed B columns [0, nc)) + beta * c over one K block:
// B micro-panels outer (each stays in L1), A micro-panels inner (the block stays in L2). A is
// packed (abuf, lda 0) or, when lda > 0, read in place from row-major storage by the kernel set's
// micro_direct (no packing; the same operations per element). Edge tiles go through a stack tile.
void multiply_packed(const KernelTable& kt, long kc, long mc, long nc, const float* abuf,
                     const float* bbuf, float* c, long ldc, float alpha, float beta,
                     long lda = 0) {
  const long MR = kt.mr, NR = kt.nr;  // the kernel set's tile
  alignas(64) float tile[gemm_kernels::kMaxMR * gemm_kernels::kMaxNR] = {};
  for (long jr = 0; jr < nc; jr += NR) {
    const long nr = std::min(NR, nc - jr);
    const float* bp = bbuf + jr * kc;
    for (long ir = 0; ir < mc; ir += MR) {
      const long mr = std::min(MR, mc - ir);
      float* ct = c + ir * ldc + jr;
      if (lda > 0) {
        const float* ap = abuf + ir * lda;
        if (nr == NR) {
          kt.micro_direct(mr, kc, ap, lda, bp, ct, ldc, alpha, beta);
          continue;
        }
        if (beta != 0.0f) {
          for (long i = 0; i < mr; ++i) {
            for (long j = 0; j < nr; ++j) tile[i * NR + j] = ct[i * ldc + j];
          }
        }
        kt.micro_direct(mr, kc, ap, lda, bp, tile, NR, alpha, beta);
        for (long i = 0; i < mr; ++i) {
          for (long j = 0; j < nr; ++j) ct[i * ldc + j] = tile[i * NR + j];
        }
        continue;
      }
      const float* ap = abuf + ir * kc;
      if (mr == MR && nr == NR) {
        kt.micro(kc, ap, bp, ct, ldc, alpha, beta);
        continue;
      }
      if (nr == NR && kt.micro_rows != nullptr) {
        kt.micro_rows(mr, kc, ap, bp, ct, ldc, alpha, beta);  // same operations, fewer rows
        continue;
      }
      // Edge tile: the same microkernel call as a full tile, on a copy of C's valid part, so every
      // element is computed with the same operations wherever it sits (row results must not
      // depend on the batch size or the thread split).
      if (beta != 0.0f) {
        for (long i = 0; i < mr; ++i) {
          for (long j = 0; j < nr; ++j) tile[i * NR + j] = ct[i * ldc + j];
        }
      }
      kt.micro(kc, ap, bp, tile, NR, alpha, beta);
      for (long i = 0; i < mr; ++i) {
        for (long j = 0; j < nr; ++j) ct[i * ldc + j] = tile[i * NR + j];
      }
    }
  }
}

// Whether A is read in place (the kernel set's micro_direct) instead of packed: row-major A only
// (a transposed A would be read down columns). Packing A took ~8% of the MLP's forward products.
bool use_direct_a(const KernelTable& kt, const Problem& p) {
  return !p.transA && kt.micro_direct != nullptr && direct_a_enabled();
}

// Slabs of at most this many rows pack all their rows of A at once (<= 288 x KC floats, in L2)
// and pack B one micro-panel at a time, right before using it: the packed panel is then written
// and read back in L1, where packing the whole B block first sends it through L2/L3
// (perf, 128 x 784 x 256 NN on AVX-512: B packing went from 8.8% to 6.8% of the time).
constexpr long kFewRows = 2 * kMC;
// Columns of C finished between two epilogue passes on that path (long rows for the vectorised
// activation, still in L2).
constexpr long kEpilogueCols = 256;

// gemm_slab for a slab of at most kFewRows rows.
void gemm_slab_few_rows(const KernelTable& kt, const Problem& p, long m0, long m1, long n0,
                        long n1) {
  const long NR = kt.nr;
  const long mb = m1 - m0;
  const long ldc = p.N;
  const bool epi = epilogue_active(p.ep);
  PackBuffers<float>& bufs = pack_buffers();
  const long kc_step = kc_step_for(p.K);
  const long group = std::max(NR, kEpilogueCols / NR * NR);
  const bool direct = use_direct_a(kt, p);
  float* abuf = direct ? nullptr : bufs.a(static_cast<std::size_t>((mb + kt.mr - 1) / kt.mr * kt.mr * kc_step));
  float* bbuf = bufs.b(static_cast<std::size_t>(NR * kc_step));
  for (long pc = 0; pc < p.K; pc += kc_step) {
    const long kc = std::min(kc_step, p.K - pc);
    const bool last_k = pc + kc == p.K;
    const float beta = pc == 0 ? p.beta : 1.0f;
    const float* ap = direct ? p.a_at(m0, pc) : abuf;
    if (!direct) kt.pack_a(p.transA, mb, kc, p.a_at(m0, pc), p.lda(), abuf);
    for (long jg = n0; jg < n1; jg += group) {
      const long ng = std::min(group, n1 - jg);
      for (long jr = jg; jr < jg + ng; jr += NR) {
        const long nr = std::min(NR, jg + ng - jr);
        const float* bp = bbuf;
        if (p.prepacked != nullptr) {
          bp = p.prepacked + pc * p.npad + jr * kc;
        } else {
          kt.pack_b(p.transB, kc, nr, p.b_at(pc, jr), p.ldb(), bbuf);
        }
        multiply_packed(kt, kc, mb, nr, ap, bp, p.C + m0 * ldc + jr, ldc, p.alpha, beta,
                        direct ? p.lda() : 0);
      }
      if (last_k && epi) apply_epilogue(*p.ep, p.C + m0 * ldc + jg, ldc, mb, ng, m0, jg, p.N);
    }
  }
}

// One thread's share: C[m0, m1) x [n0, n1) of the full product, blocked and packed.
void gemm_slab(const KernelTable& kt, const Problem& p, long m0, long m1, long n0, long n1) {
  if (m1 - m0 <= kFewRows) {
    gemm_slab_few_rows(kt, p, m0, m1, n0, n1);
    return;
  }
  const long MR = kt.mr, NR = kt.nr;  // the kernel set's tile
  const long mc_step = kMC / MR * MR;
  const long nc_step = kNC / NR * NR;
  const long ldc = p.N;
  const bool epi = epilogue_active(p.ep);
  PackBuffers<float>& bufs = pack_buffers();
  const long mc_max = std::min(mc_step, (m1 - m0 + MR - 1) / MR * MR);
  const long kc_step = kc_step_for(p.K);
  const long nc_max = std::min(nc_step, (n1 - n0 + NR - 1) / NR * NR);
  const bool direct = use_direct_a(kt, p);
  float* abuf = direct ? nullptr : bufs.a(static_cast<std::size_t>(mc_max * kc_step));
  float* bbuf = bufs.b(static_cast<std::size_t>(nc_max * kc_step));

  for (long jc = n0; jc < n1; jc += nc_step) {
    const long nc = std::min(nc_step, n1 - jc);
    for (long pc = 0; pc < p.K; pc += kc_step) {
      const long kc = std::min(kc_step, p.K - pc);
      const bool last_k = pc + kc == p.K;
      const float beta = pc == 0 ? p.beta : 1.0f;
      const float* bp = bbuf;
      if (p.prepacked != nullptr) {
        bp = p.prepacked + pc * p.npad + jc * kc;
      } else {
        kt.pack_b(p.transB, kc, nc, p.b_at(pc, jc), p.ldb(), bbuf);
      }
      for (long ic = m0; ic < m1; ic += mc_step) {
        const long mc = std::min(mc_step, m1 - ic);
        if (direct) {
          multiply_packed(kt, kc, mc, nc, p.a_at(ic, pc), bp, p.C + ic * ldc + jc, ldc, p.alpha,
                          beta, p.lda());
        } else {
          kt.pack_a(p.transA, mc, kc, p.a_at(ic, pc), p.lda(), abuf);
          multiply_packed(kt, kc, mc, nc, abuf, bp, p.C + ic * ldc + jc, ldc, p.alpha, beta);
        }
        // Epilogue over the finished mc x nc block while it is still in L2: long rows keep the
        // vectorised activation efficient (per-tile calls of 16 floats cost ~10% with relu).
        if (last_k && epi) apply_epilogue(*p.ep, p.C + ic * ldc + jc, ldc, mc, nc, ic, jc, p.N);
      }
    }
  }
}

// A few rows or columns: one matrix-vector product per row of C (or column), reading the
// other operand in place. Up to kSmallSide rows this beats packing a large operand for a
// handful of tiles (measured: 2 x 256 x 784 NT at 19 GF/s packed vs ~39 as two GEMVs).
constexpr long kSmallSide = 4;
// ... as long as that operand is re-read from cache, not memory (floats).
constexpr double kSmallOperandMax = 1 << 20;

// Every element of C is summed in one order on every path (packed tiles, edge tiles, GEMV, any
// thread split): K is cut into the blocks kc_step_for(K) gives; within a block, one sequential
// fused (or, on the portable kernels, unfused) multiply-add chain from zero; after each block
// c = alpha * block + beta' * c with beta' = beta for the first block and 1 after. So a row of C
// does not depend on how many rows are computed with it.

// Rows [0, nx) of C (stride N) = alpha * x (nx rows of K, stride K) * op(B) + beta * C.
void rows_times_b(const KernelTable& kt, const Problem& p, int nx, const float* x, float* y) {
  const long kc_step = kc_step_for(p.K);
  for (long pc = 0; pc < p.K; pc += kc_step) {
    const long kc = std::min(kc_step, p.K - pc);
    const float beta = pc == 0 ? p.beta : 1.0f;
    if (p.transB) {
      kt.gemv_rows(p.N, kc, p.B + pc, p.K, nx, x + pc, p.K, p.alpha, beta, y, p.N);
      continue;
    }
    for (int v = 0; v < nx; ++v) {
      kt.gemv_cols(kc, p.N, p.B + pc * p.N, p.N, x + v * p.K + pc, p.alpha, beta, y + v * p.N);
    }
  }
}

// y[0, M) = alpha * op(A) * x[0, K) + beta * y, with x and y contiguous.
void a_times_col(const KernelTable& kt, const Problem& p, const float* x, float* y) {
  const long kc_step = kc_step_for(p.K);
  for (long pc = 0; pc < p.K; pc += kc_step) {
    const long kc = std::min(kc_step, p.K - pc);
    const float beta = pc == 0 ? p.beta : 1.0f;
    if (p.transA) {
      kt.gemv_cols(kc, p.M, p.A + pc * p.M, p.M, x + pc, p.alpha, beta, y);
    } else {
      kt.gemv_rows(p.M, kc, p.A + pc, p.K, 1, x + pc, kc, p.alpha, beta, y, p.M);
    }
  }
}

// Row-by-row (M <= kSmallSide) or column-by-column (N <= kSmallSide) products; single-threaded.
void gemv_rows_of_c(const KernelTable& kt, const Problem& p) {
  if (p.M <= p.N) {
    // Rows of C = rows of op(A) times op(B), all at once (the GEMV shares each pass over B);
    // rows of op(A) are strided when A is transposed, so they are gathered first.
    const float* x = p.A;
    if (p.transA) {
      float* gathered = pack_buffers().a(static_cast<std::size_t>(p.M * p.K));
      for (long m = 0; m < p.M; ++m)
        for (long k = 0; k < p.K; ++k) gathered[m * p.K + k] = p.A[k * p.M + m];
      x = gathered;
    }
    rows_times_b(kt, p, static_cast<int>(p.M), x, p.C);
    if (epilogue_active(p.ep)) apply_epilogue(*p.ep, p.C, p.N, p.M, p.N, 0, 0, p.N);
    return;
  }
  // Column j of C = op(A) times column j of op(B) (strided unless B is transposed); C's column
  // is strided, so it goes through a contiguous buffer.
  PackBuffers<float>& bufs = pack_buffers();
  float* x = p.transB ? nullptr : bufs.b(static_cast<std::size_t>(p.K));
  float* y = p.N == 1 ? p.C : bufs.a(static_cast<std::size_t>(p.M));
  for (long j = 0; j < p.N; ++j) {
    const float* col = p.B + j * p.K;
    if (!p.transB) {
      for (long k = 0; k < p.K; ++k) x[k] = p.B[k * p.N + j];
      col = x;
    }
    if (p.N != 1 && p.beta != 0.0f) {
      for (long i = 0; i < p.M; ++i) y[i] = p.C[i * p.N + j];
    }
    a_times_col(kt, p, col, y);
    if (p.N != 1) {
      for (long i = 0; i < p.M; ++i) p.C[i * p.N + j] = y[i];
    }
  }
  if (epilogue_active(p.ep)) apply_epilogue(*p.ep, p.C, p.N, p.M, p.N, 0, 0, p.N);
}

// Splits [0, n) into `parts` ranges aligned to `unit`; returns the range for part `index`.
void split_range(long n, long unit, int parts, int index, long* begin, long* end) {
  const long units = (n + unit - 1) / unit;
  const long base = units / parts;
  const long extra = units % parts;
  const long u0 = index * base + std::min<long>(index, extra);
  const long u1 = u0 + base + (index < extra ? 1 : 0);
  *begin = std::min(n, u0 * unit);
  *end = std::min(n, u1 * unit);
}

// The packed (blocked) product, split across the pool for large problems.
void run_blocked(const KernelTable& kt, const Problem& p) {
  const long M = p.M, N = p.N, K = p.K;
  const double flops = static_cast<double>(M) * N * K;
  int threads = flops <= kParallelMinFlops ? 1 : num_threads();
  // Never more threads than tiles.
  const long MR = kt.mr, NR = kt.nr;  // the kernel set's tile
  const long mtiles = (M + MR - 1) / MR;
  const long ntiles = (N + NR - 1) / NR;
  threads = static_cast<int>(std::min<long>(threads, mtiles * ntiles));
  if (threads <= 1) {
    gemm_slab(kt, p, 0, M, 0, N);
    return;
  }
  // Grid tm x tn of tasks minimising the critical path: the largest task's multiply-adds plus
  // the packing every task repeats (its A rows and B columns).
  const int tasks = threads * kTasksPerThread;
  int best_tm = 0;
  double best_cost = 0.0;
  for (int tm = 1; tm <= tasks; ++tm) {
    if (tasks % tm != 0) continue;
    const int tn = tasks / tm;
    if (tm > mtiles || tn > ntiles) continue;
    const double rows = static_cast<double>((mtiles + tm - 1) / tm) * MR;
    const double cols = static_cast<double>((ntiles + tn - 1) / tn) * NR;
    const double cost = rows * cols * K * 2.0 + (rows + cols) * K * 8.0;
    if (best_tm == 0 || cost < best_cost) {
      best_cost = cost;
      best_tm = tm;
    }
  }
  if (best_tm == 0) {
    gemm_slab(kt, p, 0, M, 0, N);
    return;
  }
  const int tm = best_tm;
  const int tn = tasks / tm;
  parallel_for(tm * tn, [&](int task) {
    long m0, m1, n0, n1;
    split_range(M, MR, tm, task / tn, &m0, &m1);
    split_range(N, NR, tn, task % tn, &n0, &n1);
    if (m0 < m1 && n0 < n1) gemm_slab(kt, p, m0, m1, n0, n1);
  });
}

}  // namespace

void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
          const float* B, float beta, float* C, const Epilogue* ep) {
  if (M <= 0 || N <= 0) return;
  const KernelTable& kt = kernels();
  Problem p{{transA, transB, M, N, K, alpha, beta, A, B, C, ep}};
  if (K <= 0) {
    // Empty sum: C = beta * C (not read when beta == 0), then the epilogue.
    for (long i = 0; i < static_cast<long>(M) * N; ++i) C[i] = beta == 0.0f ? 0.0f : beta * C[i];
    if (epilogue_active(ep)) apply_epilogue(*ep, C, N, M, N, 0, 0, N);
    return;
  }
  if (M == 1 || N == 1 ||
      (M <= kSmallSide && static_cast<double>(K) * N <= kSmallOperandMax) ||
      (N <= kSmallSide && static_cast<double>(K) * M <= kSmallOperandMax)) {
    gemv_rows_of_c(kt, p);
    return;
  }

  run_blocked(kt, p);
}

PackedWeights::PackedWeights(int N, int K, const float* W) : n_(N), k_(K), w_(W) {
  const KernelTable& kt = kernels();
  table_ = &kt;
  if (N <= 0 || K <= 0) return;
  kc_step_ = kc_step_for(K);
  npad_ = (static_cast<long>(N) + kt.nr - 1) / kt.nr * kt.nr;
  floats_ = npad_ * K;
  const std::size_t bytes = (static_cast<std::size_t>(floats_) * sizeof(float) + 63) & ~static_cast<std::size_t>(63);
  data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (data_ == nullptr) throw std::bad_alloc();
  // The layout gemm_slab reads: K block pc at pc * npad, panels of kc x nr within it.
  for (long pc = 0; pc < K; pc += kc_step_) {
    const long kc = std::min(kc_step_, K - pc);
    kt.pack_b(true, kc, N, W + pc, K, data_ + pc * npad_);
  }
}

PackedWeights::~PackedWeights() { std::free(data_); }

void gemm_nt_packed(int M, const PackedWeights& w, const float* A, float* C, const Epilogue* ep) {
  const KernelTable& kt = kernels();
  if (M <= 0 || w.n_ <= 0) return;
  if (&kt != w.table_ || w.data_ == nullptr) {
    // Another kernel set since packing (set_simd_level) or K == 0: the ordinary product.
    gemm(false, true, M, w.n_, w.k_, 1.0f, A, w.w_, 0.0f, C, ep);
    return;
  }
  Problem p{{false, true, M, w.n_, w.k_, 1.0f, 0.0f, A, w.w_, C, ep}};
  p.prepacked = w.data_;
  p.npad = w.npad_;
  if (M <= kSmallSide) {
    // A few rows: one thread, the same summation order as every other path. The kernel set's
    // packed GEMV keeps 8+ chains in flight across the panels (the microkernel's row variants
    // have only 2 per row); without one, the microkernel on the packed panels.
    if (kt.packed_rows != nullptr) {
      // Large weights (the Linear 3136->128 of a CNN at batch 1: 1.6 MB, ~19 us on one thread) split their
      // panels across the threads: each thread then streams only its share of W (and keeps it in its own L2
      // from call to call when it fits). A column's sum is the same chain whichever thread runs it.
      const long panels = (w.n_ + kt.packed_rows_cols - 1) / kt.packed_rows_cols;
      const int tasks = static_cast<double>(M) * w.n_ * w.k_ >= kSplitMultiplyAdds
                            ? static_cast<int>(std::min<long>(num_threads(), panels)) : 1;
      const auto cols = [&](int t, long* j0, long* j1) {
        *j0 = std::min<long>(w.n_, panels * t / tasks * kt.packed_rows_cols);
        *j1 = std::min<long>(w.n_, panels * (t + 1) / tasks * kt.packed_rows_cols);
      };
      const auto run = [&](int t) {
        long j0, j1;
        cols(t, &j0, &j1);
        if (j0 >= j1) return;
        kt.packed_rows(M, j0, j1, w.k_, w.kc_step_, w.data_, w.npad_, A, w.k_, 1.0f, 0.0f, C, w.n_);
        if (epilogue_active(ep)) apply_epilogue(*ep, C + j0, w.n_, M, j1 - j0, 0, j0, w.n_);
      };
      if (tasks <= 1) {
        run(0);
      } else {
        parallel_for(tasks, run);
      }
      return;
    }
    gemm_slab(kt, p, 0, M, 0, w.n_);
    return;
  }
  run_blocked(kt, p);
}

void gemm_reference(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                    const float* B, float beta, float* C) {
  for (long i = 0; i < M; ++i) {
    for (long j = 0; j < N; ++j) {
      double sum = 0.0;
      for (long k = 0; k < K; ++k) {
        const double a = transA ? A[k * M + i] : A[i * K + k];
        const double b = transB ? B[j * K + k] : B[k * N + j];
        sum += a * b;
      }
      double c = static_cast<double>(alpha) * sum;
      if (beta != 0.0f) c += static_cast<double>(beta) * C[i * N + j];
      C[i * N + j] = static_cast<float>(c);
    }
  }
}

}  // namespace myelin
