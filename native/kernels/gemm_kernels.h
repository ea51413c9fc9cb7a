// Internal GEMM kernel table: the per-ISA pieces (microkernel, packing, GEMV) the gemm.cc driver calls.
#pragma once

namespace myelin {
namespace gemm_kernels {

// Microkernel tile of the scalar and AVX2 kernels: kMR rows of C by kNR columns.
constexpr int kMR = 6;
constexpr int kNR = 16;
// Largest tile of any kernel set (the driver's edge buffer holds one tile).
constexpr int kMaxMR = 16;
constexpr int kMaxNR = 32;

// Function pointers only: no inline code is shared between translation units built with different
// ISA flags (gemm_avx2.cc: -mavx2 -mfma; gemm_avx512.cc: -mavx512f -mavx512vl -mavx512dq
// -mavx512bw -mfma; the rest portably).
struct KernelTable {
  // This set's tile: mr rows by nr columns (mr <= kMaxMR, nr <= kMaxNR). Below, kMR and kNR
  // stand for the table's mr and nr.
  int mr;
  int nr;
  // c[i*ldc + j] = alpha * sum_k a[k*kMR + i] * b[k*kNR + j] + beta * c[i*ldc + j] for the full
  // kMR x kNR tile. beta == 0: c is not read. c may be unaligned.
  void (*micro)(long kc, const float* a, const float* b, float* c, long ldc, float alpha, float beta);
  // As micro for the first `rows` (1 <= rows < mr) rows of the tile only, with the same operations
  // per element; null when the set has none (the driver then runs a full tile on a stack copy).
  void (*micro_rows)(long rows, long kc, const float* a, const float* b, float* c, long ldc,
                     float alpha, float beta);
  // As micro_rows for the first `rows` (1 <= rows <= mr) rows, reading A unpacked from row-major
  // storage (element (i, k) at a[i*lda + k]) with the same operations per element; null when the
  // set has none (the driver then packs A).
  void (*micro_direct)(long rows, long kc, const float* a, long lda, const float* b, float* c,
                       long ldc, float alpha, float beta) = nullptr;
  // Packs op(A)[0,mc) x [0,kc) into ceil(mc/kMR) panels of kc x kMR floats (k-major), padding
  // missing rows with zeros. transA: element (i,k) is a[k*lda + i]; else a[i*lda + k].
  void (*pack_a)(bool transA, long mc, long kc, const float* a, long lda, float* dst);
  // Packs op(B)[0,kc) x [0,nc) into ceil(nc/kNR) panels of kc x kNR floats, padding missing columns
  // with zeros. transB: element (k,j) is b[j*ldb + k]; else b[k*ldb + j].
  void (*pack_b)(bool transB, long kc, long nc, const float* b, long ldb, float* dst);
  // For each of nx vectors v (x + v*ldx, y + v*ldy): y[i] = alpha * sum_k m[i*ld + k] * x[k] +
  // beta * y[i] for i < rows (beta == 0: y not read). Every GEMV sums each output in the packed
  // microkernel's order (one chain over k from zero, then alpha * chain + beta * y).
  void (*gemv_rows)(long rows, long len, const float* m, long ld, int nx, const float* x, long ldx,
                    float alpha, float beta, float* y, long ldy);
  // y[j] = alpha * sum_k x[k] * m[k*ld + j] + beta * y[j] for j < cols (beta == 0: y not read).
  void (*gemv_cols)(long len, long cols, const float* m, long ld, const float* x, float alpha,
                    float beta, float* y);
  // Rows [0, rows) (1..4) of y (stride ldy, N columns) = alpha * x (stride ldx) * W^T + beta * y,
  // W [N, K] packed by this set's pack_b(true, ...) one K block (kc_step) at a time at
  // packed + pc * npad: a GEMV vectorised across outputs, each element summed with the
  // microkernel's operations (gemm_packed_rows.inc); only columns [j_begin, N) (j_begin a multiple
  // of packed_rows_cols). Null when the set has none (portable).
  void (*packed_rows)(long rows, long j_begin, long N, long K, long kc_step, const float* packed, long npad,
                      const float* x, long ldx, float alpha, float beta, float* y, long ldy) = nullptr;
  long packed_rows_cols = 0;  // columns per packed panel of packed_rows (its split granularity)
};

// Portable C++ kernels (gemm_scalar.cc).
void fill_scalar_kernels(KernelTable* table);

#if defined(__x86_64__) || defined(_M_X64)
#define MYELIN_GEMM_HAVE_AVX2 1
// AVX2+FMA kernels (gemm_avx2.cc); only call when the CPU supports them.
void fill_avx2_kernels(KernelTable* table);
// AVX-512 (F/VL/DQ/BW) kernels (gemm_avx512.cc): replaces the microkernel and packing (and the
// tile size) of a table already filled by fill_avx2_kernels; only call when the CPU supports them.
void fill_avx512_kernels(KernelTable* table);
#endif

}  // namespace gemm_kernels
}  // namespace myelin
