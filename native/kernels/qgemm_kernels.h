// Internal: the per-ISA pieces of the low-precision GEMMs (qgemm.cc drives them). Function
// pointers only: no inline code is shared between units built with different ISA flags.
#pragma once
#include <cstdint>

namespace myelin {
namespace qgemm_kernels {

// Packed int8 weights: column blocks of 16; in each block, for each group of 4 k, 16 int32 lanes
// holding W[j, 4g .. 4g+3] (bytes, k ascending), so one 64-byte load feeds 16 columns x 4 k.
// Missing columns and k are zero. colsum[j] = sum_k W[j,k] (for the u8 x s8 correction).
constexpr int kI8Block = 16;
// Packed bf16 weights: column blocks of 16; for each pair of k, 16 lanes of two bf16 (k, k+1).
constexpr int kBf16Block = 16;

// Packed A: panels of `rows` rows (the kernel's tile height: kVnniRows, kAvx2Rows, kBf16Rows); in a
// panel, for each group of 4 k (bf16: 2 k), the rows' 4 bytes one after another, so a tile reads
// row r of group g at panel + g * rows * 4 + r * 4 bytes. Missing rows and k are padding.
constexpr int kVnniRows = 12;
constexpr int kAvx2Rows = 4;
constexpr int kBf16Rows = 12;

// The rows [m0, m1) of out = dequant(A W^T) + bias (no activation): A packed as above with K4 = K
// rounded up to 4 bytes (kernels that want u8 get them shifted by 128, see qgemm.cc), W packed as
// above.
struct I8Args {
  int N, K4;                 // K4: K rounded up to a multiple of 4
  const uint8_t* a;          // packed panels (above), row 0 is row m0
  const float* a_scale;      // row m0 first
  const int8_t* w;           // packed weights
  const int32_t* corr;       // per column: 128 * colsum (u8-shift kernels), else unused
  const float* w_scale;
  const float* bias;         // or nullptr
  float* out;                // row m0 first, row stride N
  int rows;
  int act;                   // kActNone, or kActRelu / kActLeakyRelu applied in the epilogue (AVX-512 only)
  float alpha;
};
using I8Rows = void (*)(const I8Args& args);

struct Bf16Args {
  int N, K2;                 // K2: K rounded up to a multiple of 2
  const uint16_t* a;         // packed panels (above), row 0 is row m0
  const uint16_t* w;         // packed weights
  const float* bias;
  float* out;
  int rows;
  int act;                   // as I8Args::act
  float alpha;
};
using Bf16Rows = void (*)(const Bf16Args& args);

// The epilogue of a block of sums (AMX stores its tiles to memory first): rows [i0, i0 + rows) of the
// args' rows, column blocks jb .. jb + nb - 1 (16 columns each, the last clipped at N); the sum of row
// i0 + r, column 16 * (jb + b) + l at c[r * ldc + 16 * b + l]. int8: qgemm.h's rule with args.corr (or
// none when nullptr) subtracted first; bf16: sum + bias. Both apply args.act when it is kActRelu or
// kActLeakyRelu (activation_forward's rule) and leave other activations to the caller.
using I8Epilogue = void (*)(const I8Args& args, const int32_t* c, int ldc, int i0, int rows, int jb, int nb);
using Bf16Epilogue = void (*)(const Bf16Args& args, const float* c, int ldc, int i0, int rows, int jb, int nb);
void i8_epilogue_scalar(const I8Args& args, const int32_t* c, int ldc, int i0, int rows, int jb, int nb);  // qgemm.cc
void bf16_epilogue_scalar(const Bf16Args& args, const float* c, int ldc, int i0, int rows, int jb, int nb);

// AMX rows functions (qgemm_amx.h has the layouts they read): replaces the hardware ones and forces the
// AMX path, whatever the CPU and level, while set (the C++ tests run the tile emulator through the whole
// qgemm_i8 / gemm_bf16 driver this way); nullptr restores the detection. Not for production use.
void set_amx_rows_for_testing(I8Rows i8, Bf16Rows bf16);

// One row of the int8 quantiser (quantize_rows_i8's rule, bit for bit): max |x| (and whether any x
// is NaN or infinite), then q = round-to-even(clamp(f32(x * inv), -127, 127)).
using RowAbsMax = float (*)(int K, const float* x, bool* nonfinite);
using RowQuantize = void (*)(int K, const float* x, float inv, int8_t* q);

// Shared with qconv.cc (defined in qgemm.cc): the conv geometry (conv.h's geom, groups 1) checked against the
// sizes the binding checked the buffers with (std::invalid_argument naming `kernel` when they disagree), and
// one row of quantize_rows_i8 (its rule, bit for bit, at this CPU's SIMD level).
struct PatchGeom {
  int C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW;
};
PatchGeom patch_geom(const char* kernel, int C, long inPlane, long outPlane, long kArea, int G, const int32_t* geom);
void check_quant_scale(const char* kernel, float scale);

#if defined(__x86_64__) || defined(_M_X64)
#define MYELIN_QGEMM_HAVE_X86 1
float row_absmax_avx2(int K, const float* x, bool* nonfinite);
void row_quantize_avx2(int K, const float* x, float inv, int8_t* q);
float row_absmax_avx512(int K, const float* x, bool* nonfinite);
void row_quantize_avx512(int K, const float* x, float inv, int8_t* q);
// to_bf16's rule on AVX-512 F/BW integer lanes (not vcvtneps2bf16: the same bits on any AVX-512 CPU).
void to_bf16_avx512(long n, const float* x, uint16_t* out);
// qgemm_avx2.cc (-mavx2 -mfma): signed x signed via vpsignb + vpmaddubsw (no shift).
void i8_rows_avx2(const I8Args& args);
// qgemm_avx512.cc (AVX-512 unit, VNNI/BF16 enabled per function): vpdpbusd on A shifted to u8;
// vdpbf16ps. Only call when the CPU has AVX512-VNNI / AVX512-BF16.
void i8_rows_avx512vnni(const I8Args& args);
void bf16_rows_avx512(const Bf16Args& args);
// The AVX-512 epilogues (qgemm_avx512.cc, AVX-512 F/BW only): the VNNI tiles' and the AMX tiles'.
void i8_epilogue_avx512(const I8Args& args, const int32_t* c, int ldc, int i0, int rows, int jb, int nb);
void bf16_epilogue_avx512(const Bf16Args& args, const float* c, int ldc, int i0, int rows, int jb, int nb);
#endif

}  // namespace qgemm_kernels
}  // namespace myelin
