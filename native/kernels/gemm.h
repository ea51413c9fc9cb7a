// GEMM contract: C = alpha * op(A) * op(B) + beta * C, row-major, with an optional fused epilogue.
#pragma once
#include <cstdint>

#include "codes.gen.h"  // activation codes (enum Act), generated from lib/backend/kernel-table.ts

namespace myelin {

// Applied to each finished element of C (after alpha/beta): z = c + bias[col];
// if preact != nullptr, preact[row * N + col] = z; then c = act(z).
struct Epilogue {
  const float* bias = nullptr;  // length N, or nullptr
  int act = kActNone;
  float alpha = 0.01f;          // leaky relu slope
  float* preact = nullptr;      // M x N, or nullptr
};

// One product's arguments (gemm's, sizes as long) and where op(A)(i, k) and op(B)(k, j) live.
struct GemmOperands {
  bool transA, transB;
  long M, N, K;
  float alpha, beta;
  const float* A;
  const float* B;
  float* C;
  const Epilogue* ep;
  long lda() const { return transA ? M : K; }
  long ldb() const { return transB ? K : N; }
  const float* a_at(long i, long k) const { return transA ? A + k * M + i : A + i * K + k; }
  const float* b_at(long k, long j) const { return transB ? B + j * K + k : B + k * N + j; }
};

// Whether ep has any work (bias, activation or preact); apply_epilogue runs it on rows x cols of C
// (row stride ldc) whose first element is C(row0, col0) of an M x N result (preact: stride N).
bool epilogue_active(const Epilogue* ep);
void apply_epilogue(const Epilogue& ep, float* c, long ldc, long rows, long cols, long row0,
                    long col0, long N);

// A is M x K (transA false) or K x M (transA true); B is K x N or N x K (transB true); C is M x N.
// beta == 0: C is never read. Sizes must be >= 1 (validated by the caller: the binding).
// Uses the thread pool for large problems; safe to call concurrently from several threads.
// Each element of C is summed in one order whatever M, the path (GEMV, packed, edge tile) and the
// thread split (see gemm.cc): a row of C does not depend on how many rows are computed with it.
void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
          const float* B, float beta, float* C, const Epilogue* ep = nullptr);

// Weights W [N, K] (a dense layer's out x in layout, the B of C = A W^T) packed once for the
// kernel set in use, for inference plans that run the same weights many times: gemm_nt_packed
// then skips packing B (and one-row products use the packed panels instead of transposing W in
// the GEMV). Results are bit-identical to gemm(false, true, ...) with W. Immutable once built.
class PackedWeights {
 public:
  // Packs W (N x K, read now and again only if the kernel set changes). W must outlive this.
  PackedWeights(int N, int K, const float* W);
  ~PackedWeights();
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  int N() const { return n_; }
  int K() const { return k_; }
  // Floats held (for memory accounting).
  long floats() const { return floats_; }

 private:
  friend void gemm_nt_packed(int M, const PackedWeights& w, const float* A, float* C,
                             const Epilogue* ep);
  int n_, k_;
  const float* w_;       // the unpacked weights (fallback when the kernel set changed)
  const void* table_;    // the kernel set the panels were packed for
  long kc_step_ = 0, npad_ = 0, floats_ = 0;
  float* data_ = nullptr;  // per K block: ceil(N/nr) panels of kc x nr floats
};

// C[M, N] = A[M, K] * W^T (alpha 1, beta 0) with the epilogue, as gemm(false, true, ...).
void gemm_nt_packed(int M, const PackedWeights& w, const float* A, float* C,
                    const Epilogue* ep = nullptr);

// Single-threaded portable reference (scalar loops), used by C++ tests.
void gemm_reference(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                    const float* B, float beta, float* C);

}  // namespace myelin
