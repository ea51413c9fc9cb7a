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

// A is M x K (transA false) or K x M (transA true); B is K x N or N x K (transB true); C is M x N.
// beta == 0: C is never read. Sizes must be >= 1 (validated by the caller: the binding).
// Uses the thread pool for large problems; safe to call concurrently from several threads.
// Each element of C is summed in one order whatever M, the path (GEMV, packed, edge tile) and the
// thread split (see gemm.cc): a row of C does not depend on how many rows are computed with it.
void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
          const float* B, float beta, float* C, const Epilogue* ep = nullptr);

// Single-threaded portable reference (scalar loops), used by C++ tests.
void gemm_reference(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                    const float* B, float beta, float* C);

}  // namespace myelin
