// Low-precision inference kernels: int8 x int8 -> int32 GEMM with a fused dequantise + bias +
// activation epilogue, per-row activation quantisation, and bf16 x bf16 -> fp32 GEMM.
//
// int8 maths (identical on every path, bit for bit with the TypeScript twin lib/backend/js/quant.ts):
//   values are symmetric (zero point 0); an int8 of -128 is read as -127 (the quantiser never
//   writes it; the AVX2 path needs |a| <= 127 to stay clear of vpmaddubsw saturation);
//   acc[i,j] = sum_k A[i,k] * W[j,k] in int32 (exact: K <= kQgemmMaxK);
//   s = f32(aScale[i] * wScale[j]); z = f32(f32(acc) * s); z = f32(z + bias[j]); out = act(z)
//   (each step rounded to float32, never fused into an FMA).
// bf16: the bits of a bfloat16 in a uint16; float -> bf16 rounds to nearest even, flushes float32
// denormals to signed zero and keeps NaN a (quiet) NaN, as vcvtneps2bf16 does.
#pragma once
#include <cstdint>
#include <string>

namespace myelin {

// Largest K whose int32 sums cannot overflow: K * 127 * 127 < 2^31.
constexpr int kQgemmMaxK = 131072;
// Rows whose max |x| is below this quantise to zeros; static scales must be 0 or at least kQuantMinScale.
constexpr float kQuantMinMax = 1e-30f;
constexpr float kQuantMinScale = 1e-30f;

// Quantises each row of X[M,K] to int8: scale > 0: static, every row uses it (scales[i] = scale);
// scale == 0: dynamic, scales[i] = f32(max|x| / 127), or 0 when max|x| < kQuantMinMax (the row
// becomes zeros: 127 / max|x| would overflow float32). Q = round-to-even(clamp(f32(x * inv), -127,
// 127)) with inv = f32(1 / scale) resp. f32(127 / max|x|). A row holding NaN or +-Infinity gets
// scales[i] = NaN and Q = 0 (its outputs become NaN). Throws std::invalid_argument for a scale that
// is negative or in (0, kQuantMinScale).
void quantize_rows_i8(int M, int K, const float* X, float scale, int8_t* Q, float* scales);

// out[M,N] = act(dequantised A[M,K] * W[N,K]^T + bias) as above; bias may be null. Throws
// std::invalid_argument for K > kQgemmMaxK.
void qgemm_i8(int M, int N, int K, const int8_t* A, const float* aScale, const int8_t* W,
              const float* wScale, const float* bias, int act, float alpha, float* out);

// out[i] = bf16(x[i]) (the rounding above).
void to_bf16(long n, const float* x, uint16_t* out);

// QuantizedConv2d's rows: each output pixel's input patch of X[N,C,H,W] (conv.h's geom, groups 1; patch
// element (c*KH + i)*KW + j, zeros outside the image) is row n*outPlane + oh*OW + ow of [N*outPlane, kArea],
// quantised as quantize_rows_i8 quantises a row (im2col_quantize_i8) or rounded to bf16 (im2col_bf16).
// Throws std::invalid_argument when geom disagrees with the sizes.
void im2col_quantize_i8(int N, int C, int inPlane, int outPlane, int kArea, int G, const int32_t* geom,
                        const float* X, float scale, int8_t* Q, float* scales);
void im2col_bf16(int N, int C, int inPlane, int outPlane, int kArea, int G, const int32_t* geom, const float* X,
                 uint16_t* out);
// out[n, oc, p] = Y[n, p, oc]: the GEMM's rows [N*P, OC] back to NCHW planes.
void planes_from_rows(int N, int P, int OC, const float* Y, float* out);

// out[M,N] = act(A[M,K] * W[N,K]^T + bias), inputs bf16, products and sums in float32; bias may be null.
void gemm_bf16(int M, int N, int K, const uint16_t* A, const uint16_t* W, const float* bias, int act,
               float alpha, float* out);

// The path each kernel takes on this CPU at the current SIMD level (MYELIN_SIMD caps it):
// int8: "amx", "avx512vnni", "avx2" or "scalar"; bf16: "amx", "avx512bf16" or "fp32" (bf16 widened to
// float32 and run on the float32 GEMM at its level). "amx": AMX tiles (qgemm_amx.h), chosen at level
// avx512 when the CPU has AMX-INT8 / AMX-BF16, the OS grants the tile state (arch_prctl on Linux, asked
// once per process) and MYELIN_SIMD is unset or "amx" (MYELIN_SIMD=avx512 keeps the AVX-512 paths).
const char* qgemm_i8_path();
const char* gemm_bf16_path();
// Whether the AVX512-VNNI / AVX512-BF16 instructions are usable at the current level (whichever path
// the GEMM takes): qconv's direct kernels use them.
bool qgemm_i8_vnni();
bool gemm_bf16_avx512bf16();
// The AMX path's state in words, for info(): "in use for int8 and bf16", "unavailable: <why>" (no AMX
// on this CPU, the OS refused the tile state, ...), or "off: <why>" (MYELIN_SIMD).
std::string amx_status();

}  // namespace myelin
