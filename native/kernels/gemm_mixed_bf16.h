// Mixed-precision GEMM for bf16 autocast training: float32 in and out, products of bf16-rounded operands.
#pragma once

#include "gemm.h"

namespace myelin {

// gemm's contract (gemm.h: C = alpha * op(A) * op(B) + beta * C, row-major, beta == 0: C not read,
// optional epilogue), except that every element of A and B is first rounded to bfloat16 (nearest
// even; float32 denormals to signed zero; NaN stays NaN) and the products of those bf16 values are
// summed in float32. On AVX512-BF16 (GEMM level avx512) the rounding happens while packing and the
// products run on vdpbf16ps (two k per instruction); elsewhere the operands are rounded into
// buffers and run on the float32 gemm: the same maths up to the order of the float32 sums.
void gemm_mixed_bf16(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                     const float* B, float beta, float* C, const Epilogue* ep = nullptr);

// "avx512bf16" or "fp32" (rounded operands on the float32 GEMM) at the current SIMD level.
const char* gemm_mixed_bf16_path();

}  // namespace myelin
