// Direct int8 convolution on AVX512-VNNI, and its bf16 twin on AVX512-BF16 (qconv.h's layout and maths).
// Built in the AVX-512 unit list; VNNI and BF16 are enabled for this file's functions only (the pragma),
// and qconv.cc calls each only when the CPU has the feature.
//
// A tile is kOcTile output channels x kPosVecs vectors of 16 consecutive wide-grid positions: 24
// zmm accumulators. Per (tap, channel group) step it loads kPosVecs x 64 bytes of the image (16
// positions x 4 channels, u8) and broadcasts each channel's 4 weight bytes: 24 vpdpbusd per 11 loads.
// Lanes are output positions, so the epilogue stores 16 consecutive pixels of one output plane.
#include "qconv.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "codes.gen.h"

#pragma GCC push_options
#pragma GCC target("avx512vnni,avx512bf16")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "qgemm_epilogue_avx512.h"

namespace myelin {
namespace qconv_kernels {
namespace {

constexpr int kOT = kOcTile;
constexpr int kPB = kPosVecs;
static_assert(kOT == 8 && kPB == 3, "the tile's unroll pragmas assume 8 x 3");

// Output channels t*kOT .. of the PB vectors from vector v0 (PB = kPB, or fewer for the last tile). int8:
// vpdpbusd into int32 sums; bf16 (kBf16): vdpbf16ps into float32 sums.
template <bool kBf16, int PB>
void tile(const DirectArgs& p, int t, int v0) {
  __m512i acc[kOT][PB];
#pragma GCC unroll 8
  for (int o = 0; o < kOT; ++o)
#pragma GCC unroll 3
    for (int b = 0; b < PB; ++b) acc[o][b] = _mm512_setzero_si512();
  const int32_t* w = p.w + static_cast<long>(t) * p.taps * p.C4 * kOT;
  const long p0 = static_cast<long>(v0) * 16;
  const long plane = p.S * 4;
  for (int tap = 0; tap < p.taps; ++tap) {
    const uint8_t* a = p.in + (p0 + p.tapOff[tap]) * 4;
    for (int g = 0; g < p.C4; ++g, a += plane, w += kOT) {
      __m512i av[PB];
#pragma GCC unroll 3
      for (int b = 0; b < PB; ++b) av[b] = _mm512_loadu_si512(a + 64 * b);
#pragma GCC unroll 8
      for (int o = 0; o < kOT; ++o) {
        const __m512i wv = _mm512_set1_epi32(w[o]);
#pragma GCC unroll 3
        for (int b = 0; b < PB; ++b) {
          if (kBf16) acc[o][b] = _mm512_castps_si512(_mm512_dpbf16_ps(_mm512_castsi512_ps(acc[o][b]), (__m512bh)av[b], (__m512bh)wv));
          else acc[o][b] = _mm512_dpbusd_epi32(acc[o][b], av[b], wv);
        }
      }
    }
  }
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512 alpha = _mm512_set1_ps(p.alpha);
#pragma GCC unroll 8
  for (int o = 0; o < kOT; ++o) {
    const int oc = t * kOT + o;
    if (oc >= p.OC) break;
    const __m512i corr = _mm512_set1_epi32(kBf16 ? 0 : p.corr[oc]);
    const __m512 s = _mm512_set1_ps(kBf16 ? 1.0f : p.scale[oc]);
    float* plane_out = p.out + static_cast<long>(oc) * p.outPlane;
#pragma GCC unroll 3
    for (int b = 0; b < PB; ++b) {
      // The *_round_ forms are not contracted into an FMA: each step rounds as qconv.h says.
      __m512 v = kBf16 ? _mm512_castsi512_ps(acc[o][b])
                       : _mm512_mul_round_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[o][b], corr)), s, kRound);
      if (p.bias != nullptr) v = _mm512_add_round_ps(v, _mm512_set1_ps(p.bias[oc]), kRound);
      v = qgemm_kernels::epilogue_act(p.act, v, alpha);
      const int vec = v0 + b;
      for (int k = p.segStart[vec]; k < p.segStart[vec + 1]; ++k) {
        // Masked-off lanes are neither read nor written (the address of lane 0 may lie before the plane).
        float* dst = reinterpret_cast<float*>(reinterpret_cast<intptr_t>(plane_out) + p.seg[k].dst * 4);
        _mm512_mask_storeu_ps(dst, p.seg[k].mask, v);
      }
    }
  }
}

// max(x, y), NaN when either is NaN.
inline __m512 nan_max(__m512 x, __m512 y) { return _mm512_mask_mov_ps(_mm512_max_ps(x, y), _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x); }

}  // namespace

void max_pool_2x2_avx512(const PoolArgs& p, const float* src, float* dst) {
  // Lanes of the two vectors of 32 columns: even columns first, then odd ones.
  alignas(64) int32_t even[16], odd[16];
  for (int l = 0; l < 16; ++l) {
    even[l] = 2 * l;
    odd[l] = 2 * l + 1;
  }
  const __m512i ie = _mm512_load_si512(even), io = _mm512_load_si512(odd);
  for (int pl = 0; pl < p.planes; ++pl) {
    const float* s = src + static_cast<long>(pl) * p.OH * p.OW;
    float* d = dst + static_cast<long>(pl) * p.PH * p.PW;
    for (int ph = 0; ph < p.PH; ++ph) {
      const float* r0 = s + static_cast<long>(2 * ph) * p.OW;
      const float* r1 = r0 + p.OW;
      for (int pw = 0; pw < p.PW; pw += 16) {
        const int n = p.PW - pw < 16 ? p.PW - pw : 16;  // outputs; their inputs are columns 2pw .. 2pw + 2n
        const __mmask16 lo = static_cast<__mmask16>(n >= 8 ? 0xffff : (1u << (2 * n)) - 1u);
        const __mmask16 hi = static_cast<__mmask16>(n <= 8 ? 0 : n == 16 ? 0xffff : (1u << (2 * (n - 8))) - 1u);
        const __m512 a = nan_max(_mm512_maskz_loadu_ps(lo, r0 + 2 * pw), _mm512_maskz_loadu_ps(lo, r1 + 2 * pw));
        const __m512 b = nan_max(_mm512_maskz_loadu_ps(hi, r0 + 2 * pw + 16), _mm512_maskz_loadu_ps(hi, r1 + 2 * pw + 16));
        const __m512 v = nan_max(_mm512_permutex2var_ps(a, ie, b), _mm512_permutex2var_ps(a, io, b));
        _mm512_mask_storeu_ps(d + static_cast<long>(ph) * p.PW + pw, static_cast<__mmask16>(n == 16 ? 0xffff : (1u << n) - 1u), v);
      }
    }
  }
}

namespace {

template <bool kBf16>
void tiles(const DirectArgs& p) {
  for (int t = 0; t < p.ocTiles; ++t) {
    int v = 0;
    for (; v + kPB <= p.vecs; v += kPB) tile<kBf16, kPB>(p, t, v);
    if (p.vecs - v == 2) tile<kBf16, 2>(p, t, v);
    else if (p.vecs - v == 1) tile<kBf16, 1>(p, t, v);
  }
}

}  // namespace

void direct_i8_avx512vnni(const DirectArgs& p) { tiles<false>(p); }
void direct_bf16_avx512(const DirectArgs& p) { tiles<true>(p); }

}  // namespace qconv_kernels
}  // namespace myelin

#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
