// Direct int8 convolution for inference (QuantizedConv2d): quantise each image once, then
// implicit-GEMM products on AVX512-VNNI (vpdpbusd) read straight from the quantised image, with the
// dequantise + bias + activation epilogue writing NCHW float planes.
//
// The maths (identical on every path, bit for bit with the TypeScript twin lib/backend/js/quant.ts
// qconvI8): each image n of X[N,C,H,W] is quantised as one row of C*H*W values by quantize_rows_i8's
// rule (scale > 0: static; 0: dynamic, s_n = f32(max|x| / 127) over the whole image), then
//   acc[n,oc,oh,ow] = sum_{c,i,j} Q[n,c,oh*SH-PH+i*DH,ow*SW-PW+j*DW] * W[oc,c,i,j]  (0 outside; exact int32;
//                     an int8 weight of -128 counts as -127)
//   out = act(f32(f32(acc) * f32(s_n * wScale[oc])) + bias[oc])   (float32 steps, no FMA)
// which is qgemm_i8's epilogue on the image's patch rows, each with the image's scale.
#pragma once
#include <cstdint>

namespace myelin {

// The convolution above (geom as for conv2d_forward, conv.h, groups 1; convPlane = OH*OW; bias may be
// null), then a max pooling of its planes fused in: pool = {KH, KW, SH, SW} (PG = 4), windows without
// padding, floor mode (PH = (OH - KH) / SH + 1, ...; {1, 1, 1, 1} is none), a NaN in a window gives NaN.
// out[N,OC,PH,PW], outPlane = PH*PW. Throws std::invalid_argument when geom or pool disagrees with the
// sizes, for a scale qgemm's quantiser refuses, or for kArea > kQgemmMaxK.
void qconv_i8(int N, int C, int OC, long inPlane, long convPlane, long outPlane, long kArea, int G,
              const int32_t* geom, int PG, const int32_t* pool, const float* X, float scale, const int8_t* W,
              const float* wScale, const float* bias, int act, float alpha, float* out);

// The same convolution and pooling in bf16: the image and the weights (W: bfloat16 bits) rounded to bfloat16,
// products and sums in float32 (the order of the sums differs between paths), out = act(sum + bias[oc]),
// then the pooling. Throws std::invalid_argument when geom or pool disagrees with the sizes.
void qconv_bf16(int N, int C, int OC, long inPlane, long convPlane, long outPlane, long kArea, int G,
                const int32_t* geom, int PG, const int32_t* pool, const float* X, const uint16_t* W, const float* bias,
                int act, float alpha, float* out);

// The path qconv_i8 takes for a stride-1 convolution on this CPU at the current SIMD level:
// "avx512vnni-direct" (the direct kernel), else "im2col" (patch rows through qgemm_i8 at its path).
// Strided convolutions always take "im2col".
const char* qconv_i8_path();
// qconv_bf16's: "avx512bf16-direct" when gemm_bf16 runs on AVX512-BF16, else "im2col".
const char* qconv_bf16_path();

namespace qconv_kernels {

// The quantised image of the direct kernel: C4 = ceil(C/4) planes of S pixels, each pixel 4 bytes
// (channels 4g .. 4g+3, as u8: q + 128; missing channels and padding read 128, i.e. zero). bf16: C4 =
// ceil(C/2) planes, each pixel two bfloat16 (channels 2g, 2g+1; padding 0), weights likewise in pairs. Pixel
// (h, w) of the zero-padded image (Hp x Wp) sits at h*Wp + w; pixels beyond Hp*Wp are padding too.
// Outputs are computed on the "wide" grid p = oh*Wp + ow (ow < Wp; columns ow >= OW are discarded),
// so tap (i, j) of output p reads pixel p + tapOff[i*KW + j] (tapOff = i*DH*Wp + j*DW): one stride.
constexpr int kOcTile = 8;   // output channels per tile (weights padded to whole tiles)
constexpr int kPosVecs = 3;  // 16-position vectors per tile (the last tile may hold fewer)

// Where a 16-position vector's valid lanes go in the output plane: lanes in `mask`, lane l to
// plane[dst + l] (dst may be negative for lanes before the segment; masked-off lanes are not written).
struct Segment {
  uint16_t mask;
  long dst;
};

struct DirectArgs {
  const uint8_t* in;        // the quantised image (above)
  long S;                   // pixels per channel-group plane
  int C4, taps;
  const int32_t* tapOff;    // taps entries
  const int32_t* w;         // packed weights: [OC tile][tap][C4][kOcTile] x 4 bytes (s8)
  const int32_t* corr;      // int8, per output channel (padded to tiles): 128 * sum of its weights
  const float* scale;       // int8, per output channel: f32(s_n * wScale[oc]) (padded)
  const float* bias;        // per output channel, or nullptr
  int OC, ocTiles;
  int vecs;                 // 16-position vectors covering the wide grid
  const Segment* seg;       // segments of vector v: seg[segStart[v] .. segStart[v+1])
  const int32_t* segStart;
  float* out;               // this image's [OC, outPlane]
  long outPlane;
  int act;                  // kActNone, kActRelu or kActLeakyRelu (others run after)
  float alpha;
};

// A max pooling of `planes` planes OH x OW into PH x PW (qconv_i8's rule).
struct PoolArgs {
  int planes, OH, OW, KH, KW, SH, SW, PH, PW;
};
void max_pool_planes(const PoolArgs& p, const float* src, float* dst);  // qconv.cc, portable

#if defined(__x86_64__) || defined(_M_X64)
// qconv_avx512.cc: call only when the CPU has AVX512-VNNI.
void direct_i8_avx512vnni(const DirectArgs& args);
// The bf16 tiles (vdpbf16ps; out = act(sum + bias)): call only when the CPU has AVX512-BF16.
void direct_bf16_avx512(const DirectArgs& args);
// max_pool_planes for 2x2 windows of stride 2 (AVX-512 F); other windows go to max_pool_planes.
void max_pool_2x2_avx512(const PoolArgs& p, const float* src, float* dst);
#endif

}  // namespace qconv_kernels
}  // namespace myelin
