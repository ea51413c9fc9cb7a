// Internal: the AVX512-BF16 pieces of the mixed-precision GEMM (gemm_mixed_bf16.cc drives them).
#pragma once
#include <cstdint>

namespace myelin {
namespace mixed_bf16 {

// Tile: kMR rows x kNR columns of C, 24 zmm accumulators (vdpbf16ps, fp32 sums).
constexpr int kMR = 8;
constexpr int kNR = 48;

// Packed operands hold k pairs: one uint32 per (row or column, pair p) with bf16(x[2p]) in its low
// half and bf16(x[2p + 1]) in its high half (zero past K), each rounded to nearest even (denormals
// to signed zero, NaN kept: vcvtneps2bf16). A: ceil(mc/kMR) panels of ceil(kc/2) pairs x kMR;
// B: ceil(nc/kNR) panels of ceil(kc/2) pairs x kNR; missing rows / columns are zero.
#if defined(__x86_64__) || defined(_M_X64)
#define MYELIN_MIXED_BF16_HAVE_X86 1
// op(A)[0,mc) x [0,kc): transA: element (i,k) at a[k*lda + i]; else a[i*lda + k].
void pack_a_avx512bf16(bool transA, long mc, long kc, const float* a, long lda, uint32_t* dst);
// op(B)[0,kc) x [0,nc): transB: element (k,j) at b[j*ldb + k]; else b[k*ldb + j].
void pack_b_avx512bf16(bool transB, long kc, long nc, const float* b, long ldb, uint32_t* dst);
// C[0,mc) x [0,nc) (nc <= kNR; row stride ldc) = alpha * A panels x one B panel + beta * C (beta 0:
// C not read), over `pairs` k pairs; each element is one fp32 vdpbf16ps chain from zero.
void multiply_avx512bf16(long mc, long nc, long pairs, const uint32_t* a, const uint32_t* b, float* c,
                         long ldc, float alpha, float beta);
#endif

}  // namespace mixed_bf16
}  // namespace myelin
