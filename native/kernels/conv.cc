// 2-d convolution as im2col + myelin::gemm per image and group (NCHW), threads across images.
//
// Layout: NCHW at the API and inside. Per image and group, the input patches are unfolded into
// col[Cg*KH*KW, OH*OW] (skipped for 1x1, stride-1, unpadded convolutions, whose col is the input
// itself), then out_g[OCg, OH*OW] = W_g[OCg, Cg*KH*KW] * col (gemm NN), then bias and activation.
// Backward: dcol = W_g^T dY_g (gemm TN) folded back into dX (col2im), dW_g += dY_g col^T (gemm NT).
// Batches of two images or more run one image per task on the pool (each gemm single-threaded
// inside its task); a single image lets gemm use the threads. Buffers are per thread and reused.
#include "conv.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "conv_direct.h"
#include "conv_fused.h"
#include "conv_winograd.h"
#include "conv_winograd_dw.h"
#include "elementwise.h"
#include "gemm.h"
#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"

namespace myelin {
namespace scalar {
#define MYELIN_CONV_VL 4  // generic vectors: SSE on x86-64, NEON on arm64, split elsewhere
#define MYELIN_CONV_OB 4
#define MYELIN_CONV_NV 3
#define MYELIN_CONV_DOB 3
#define MYELIN_CONV_DT 4
#define MYELIN_CONV_WACC 12
#define MYELIN_CONV_WMAXNO 2
#include "conv_direct.inc"
#include "conv_winograd.inc"
}  // namespace scalar

namespace {

struct Geom {
  int C, H, W, OC, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, groups;
  long inPlane() const { return static_cast<long>(H) * W; }
  long outPlane() const { return static_cast<long>(OH) * OW; }
};

[[noreturn]] void bad(const char* kernel, const std::string& what) {
  throw std::invalid_argument(std::string(kernel) + ": " + what);
}

// Reads and checks the geometry array (every size >= 1, padding >= 0) against the buffer sizes.
Geom read_geom(const char* kernel, int G, const int32_t* g) {
  if (G != kConvGeomLen) bad(kernel, "geom must hold " + std::to_string(kConvGeomLen) + " integers, got " + std::to_string(G));
  static const char* names[] = {"C", "H", "W", "OC", "OH", "OW", "KH", "KW", "strideH", "strideW",
                                "padH", "padW", "dilationH", "dilationW", "groups"};
  for (int i = 0; i < kConvGeomLen; i++) {
    int min = (i == kGeomPH || i == kGeomPW) ? 0 : 1;
    if (g[i] < min) bad(kernel, std::string("geom ") + names[i] + " must be >= " + std::to_string(min) + ", got " + std::to_string(g[i]));
  }
  return Geom{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14]};
}

void expect_size(const char* kernel, const char* what, long got, long expected) {
  if (got != expected) bad(kernel, std::string(what) + " is " + std::to_string(got) + ", the geometry gives " + std::to_string(expected));
}

// The floor-mode output size of one spatial axis.
long conv_out(long in, long k, long s, long p, long d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

Geom conv_geom(const char* kernel, int N, int C, int OC, long inPlane, long outPlane, long kArea, int G, const int32_t* geom) {
  (void)N;
  Geom g = read_geom(kernel, G, geom);
  expect_size(kernel, "C", C, g.C);
  expect_size(kernel, "OC", OC, g.OC);
  if (g.C % g.groups != 0 || g.OC % g.groups != 0) {
    bad(kernel, "groups " + std::to_string(g.groups) + " must divide C " + std::to_string(g.C) + " and OC " + std::to_string(g.OC));
  }
  expect_size(kernel, "inPlane", inPlane, g.inPlane());
  expect_size(kernel, "outPlane", outPlane, g.outPlane());
  expect_size(kernel, "kArea", kArea, static_cast<long>(g.C / g.groups) * g.KH * g.KW);
  expect_size(kernel, "OH", g.OH, conv_out(g.H, g.KH, g.SH, g.PH, g.DH));
  expect_size(kernel, "OW", g.OW, conv_out(g.W, g.KW, g.SW, g.PW, g.DW));
  return g;
}

bool is_pointwise(const Geom& g) {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0;
}

// col[(c*KH + kh)*KW + kw, oh*OW + ow] = x[c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW] (0 outside).
void im2col(const Geom& g, int Cg, const float* x, float* col) {
  const long P = g.outPlane();
  for (int c = 0; c < Cg; c++) {
    const float* xc = x + c * g.inPlane();
    for (int kh = 0; kh < g.KH; kh++) {
      for (int kw = 0; kw < g.KW; kw++) {
        float* row = col + ((static_cast<long>(c) * g.KH + kh) * g.KW + kw) * P;
        for (int oh = 0; oh < g.OH; oh++) {
          const int ih = oh * g.SH - g.PH + kh * g.DH;
          float* r = row + static_cast<long>(oh) * g.OW;
          if (ih < 0 || ih >= g.H) {
            std::memset(r, 0, sizeof(float) * g.OW);
            continue;
          }
          const float* xr = xc + static_cast<long>(ih) * g.W;
          const int off = kw * g.DW - g.PW;
          if (g.SW == 1) {
            // ow valid where 0 <= ow + off < W.
            int lo = std::max(0, -off), hi = std::min(g.OW, g.W - off);
            if (hi < lo) hi = lo;
            for (int ow = 0; ow < lo; ow++) r[ow] = 0;
            if (hi > lo) std::memcpy(r + lo, xr + lo + off, sizeof(float) * (hi - lo));
            for (int ow = hi; ow < g.OW; ow++) r[ow] = 0;
          } else {
            for (int ow = 0; ow < g.OW; ow++) {
              const int iw = ow * g.SW + off;
              r[ow] = (iw >= 0 && iw < g.W) ? xr[iw] : 0.0f;
            }
          }
        }
      }
    }
  }
}

// The adjoint of im2col: dx[c, ih, iw] += col[...] for each patch element (dx zeroed by the caller).
void col2im(const Geom& g, int Cg, const float* col, float* dx) {
  const long P = g.outPlane();
  for (int c = 0; c < Cg; c++) {
    float* xc = dx + c * g.inPlane();
    for (int kh = 0; kh < g.KH; kh++) {
      for (int kw = 0; kw < g.KW; kw++) {
        const float* row = col + ((static_cast<long>(c) * g.KH + kh) * g.KW + kw) * P;
        for (int oh = 0; oh < g.OH; oh++) {
          const int ih = oh * g.SH - g.PH + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          const float* r = row + static_cast<long>(oh) * g.OW;
          float* xr = xc + static_cast<long>(ih) * g.W;
          const int off = kw * g.DW - g.PW;
          if (g.SW == 1) {
            // ow valid where 0 <= ow + off < W: a branch-free (vectorisable) run.
            const int lo = std::max(0, -off), hi = std::min(g.OW, g.W - off);
            float* xo = xr + off;
            for (int ow = lo; ow < hi; ow++) xo[ow] += r[ow];
          } else {
            for (int ow = 0; ow < g.OW; ow++) {
              const int iw = ow * g.SW + off;
              if (iw >= 0 && iw < g.W) xr[iw] += r[ow];
            }
          }
        }
      }
    }
  }
}

// The sum of n floats in 16 independent lanes (the compiler vectorises it; a single float
// accumulator would serialise on the add latency).
float row_sum(const float* r, long n) {
  float acc[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; k++) acc[k] += r[i + k];
  }
  float s = 0;
  for (; i < n; i++) s += r[i];
  for (int k = 0; k < 16; k++) s += acc[k];
  return s;
}

// Stride-1 convolutions with few output channels per group (depthwise: 1) and small patches
// (Cg*KH*KW) run as a direct loop (conv_direct.inc): im2col + GEMM with M = OCg that small spends its
// time packing. Measured on EPYC Zen 4, one thread: depthwise 32ch 3x3 28x28 batch 64 takes 2.2 ms
// direct vs 4.5 ms by GEMM; 1 -> 32 channels 3x3 (OCg 32) is faster by GEMM (5.0 vs 7.2 ms).
constexpr long kDirectMaxK = 32;
constexpr int kDirectMaxOCg = 4;

bool use_direct(const Geom& g, long K, int OCg) {
  return K <= kDirectMaxK && OCg <= kDirectMaxOCg && g.SH == 1 && g.SW == 1 && !is_pointwise(g);
}

decltype(&scalar::conv_direct_image) direct_loop() {
#if defined(__x86_64__) || defined(_M_X64)  // the AVX units are empty elsewhere
  switch (gemm_simd_level()) {
    case SimdLevel::Avx512: return avx512::conv_direct_image;
    case SimdLevel::Avx2: return avx2::conv_direct_image;
    default: break;
  }
#endif
  return scalar::conv_direct_image;
}

// The register-blocked direct kernels of the SIMD level gemm runs at (conv_direct.inc).
struct BlockedKernels {
  int OB, QB, VL;
  decltype(&scalar::conv_blocked_image) forward;
  decltype(&scalar::conv_blocked_dw_image) weight_grad;
  int dwtLanes;
  decltype(&scalar::conv_dwt_image) dwt;
  decltype(&scalar::conv_ovec_image) ovec;
};

BlockedKernels blocked_kernels() {
#if defined(__x86_64__) || defined(_M_X64)
  switch (gemm_simd_level()) {
    case SimdLevel::Avx512: return {avx512::conv_blocked_oc(), avx512::conv_blocked_q(), 16, avx512::conv_blocked_image, avx512::conv_blocked_dw_image,
          avx512::conv_dwt_lanes(), avx512::conv_dwt_image, avx512::conv_ovec_image};
    case SimdLevel::Avx2: return {avx2::conv_blocked_oc(), avx2::conv_blocked_q(), 8, avx2::conv_blocked_image, avx2::conv_blocked_dw_image,
          avx2::conv_dwt_lanes(), avx2::conv_dwt_image, avx2::conv_ovec_image};
    default: break;
  }
#endif
  return {scalar::conv_blocked_oc(), scalar::conv_blocked_q(), 4, scalar::conv_blocked_image, scalar::conv_blocked_dw_image,
          scalar::conv_dwt_lanes(), scalar::conv_dwt_image, scalar::conv_ovec_image};
}

// Stride-1 convolutions run as the register-blocked direct kernels rather than im2col + GEMM where that
// measured faster (EPYC Zen 4, one thread's CPU time, batch 128, 3x3 padding 1, bias + relu):
//   forward 32->64 14x14: 10.7 ms blocked vs 14.5 GEMM (AVX2 11.6 vs 14.6); 1->32 28x28: 2.0 vs 3.0;
//   dX 32->64 14x14: 10.7 vs 14.5 (needs >= 4 input channels per group: the tile is OB of them);
//   dW by horizontal sums (conv_blocked_dw_image) 1->32 28x28 (patch 9): 3.8 vs 4.9, but 32->64
//   (patch 288): 18.6 vs 15.5 (a horizontal sum per image and weight); by outer products over the
//   output channels (conv_dwt_image, no sums but a transposed copy of dY per image): 32->64 12.7,
//   1->32 5.4. Patches up to kBlockedMaxDwK take the first, larger ones the second.
constexpr long kBlockedMaxDwK = 32;
bool stride1(const Geom& g) { return g.SH == 1 && g.SW == 1 && !is_pointwise(g); }
bool blocked_forward(const Geom& g) { return stride1(g); }
// dX as the forward convolution of dY with the flipped, transposed weights: needs the padding it
// implies, DH*(KH-1) - PH (and likewise W), to be >= 0.
bool blocked_dx(const Geom& g) {
  return stride1(g) && g.PH <= g.DH * (g.KH - 1) && g.PW <= g.DW * (g.KW - 1) && g.C / g.groups >= 4;
}
bool blocked_dw(const Geom& g, long K) { return stride1(g) && K <= kBlockedMaxDwK; }
bool dwt_dw(const Geom& g, long K) { return stride1(g) && K > kBlockedMaxDwK; }

// Patches of at least kOvecMinK run as conv_ovec_image (no dropped columns; its transposed output
// costs about a tap): 32->64 3x3 14x14 batch 128, forward 10.1 ms vs 10.9 by conv_blocked_image, dX
// 10.4 vs 10.7 (AVX2: 11.0 vs 11.9, 9.8 vs 11.6).
constexpr long kOvecMinK = 64;
bool use_ovec(long K) { return K >= kOvecMinK; }

// 3x3 stride-1 dilation-1 convolutions with enough channels and large enough planes run as Winograd
// F(2x2, 3x3) (conv_winograd.cc): 2.25x fewer multiply-adds than the direct kernels, which already run
// near the FMA throughput, but transforms to pay for and GEMMs over only C channels. Forward + ReLU,
// EPYC Zen 4, one thread's CPU time, direct -> Winograd: 32->64 14x14 batch 128 9.7 -> 8.5 ms;
// 64->64 14x14 batch 32 4.7 -> 4.0; 64->128 14x14 batch 16 4.8 -> 3.7; 32->64 28x28 batch 16 5.0 -> 4.1;
// even or slower: 32->32 14x14 (2.7 vs 2.7), 24->48 14x14 (2.8 vs 2.8), 16->32 14x14 (1.3 vs 1.5),
// 8->16 28x28 (1.9 vs 2.2), and 7x7 planes (32->64 1.3 vs 1.6, 128->128 4.9 vs 5.0: tiles past the edge).
constexpr int kWinoMinChannels = 32;      // in and out, per group
constexpr long kWinoMinProduct = 2048;    // in x out channels per group
constexpr int kWinoMinPlane = 12;         // output rows and columns
bool wino3x3(const Geom& g) {
  return g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1;
}
bool wino_pays(int inC, int outC, int OH, int OW) {
  return inC >= kWinoMinChannels && outC >= kWinoMinChannels && static_cast<long>(inC) * outC >= kWinoMinProduct &&
         OH >= kWinoMinPlane && OW >= kWinoMinPlane;
}
bool use_wino_forward(const Geom& g) { return wino3x3(g) && wino_pays(g.C / g.groups, g.OC / g.groups, g.OH, g.OW); }
// dX as the Winograd convolution of dY (OC channels) with the flipped weights into C channels (padding
// 2 - PH >= 0): 32->64 14x14 batch 128 10.1 -> 9.5 ms.
bool use_wino_dx(const Geom& g) {
  return wino3x3(g) && g.PH <= 2 && g.PW <= 2 && wino_pays(g.OC / g.groups, g.C / g.groups, g.H, g.W);
}
// dW by Winograd (conv_winograd_dw.cc) on the forward's geometries: 32->64 14x14 batch 128, one thread's CPU time,
// direct (conv_dwt_image) -> Winograd: see docs/performance.md, Convolutions, Training.
bool use_wino_dw(const Geom& g) { return use_wino_forward(g); }
WinoShape wino_shape(const Geom& g) { return WinoShape{g.C / g.groups, g.OC / g.groups, g.H, g.W, g.OH, g.OW, g.PH, g.PW}; }

// The tap offsets (into the padded planes) and output positions conv_ovec_image / conv_dwt_image read.
void direct_offsets(const DirectShape& s, std::vector<long>& tapoff, std::vector<long>* base) {
  const long Wp = s.W + 2L * s.PW, plane = (s.H + 2L * s.PH) * Wp;
  tapoff.resize(static_cast<size_t>(s.Cg) * s.KH * s.KW);
  long t = 0;
  for (int c = 0; c < s.Cg; c++) {
    for (int kh = 0; kh < s.KH; kh++) {
      for (int kw = 0; kw < s.KW; kw++) tapoff[t++] = c * plane + static_cast<long>(kh) * s.DH * Wp + static_cast<long>(kw) * s.DW;
    }
  }
  if (!base) return;
  base->assign(static_cast<size_t>(s.OH) * s.OW + kOvecPad, 0);
  for (int oh = 0; oh < s.OH; oh++) {
    for (int ow = 0; ow < s.OW; ow++) (*base)[static_cast<size_t>(oh) * s.OW + ow] = oh * Wp + ow;
  }
}

long ovec_scratch(const DirectShape& s, long OCr) {
  return conv_blocked_scratch(s, 0, 1) + (static_cast<long>(s.OH) * s.OW + kOvecPad) * OCr;
}

// The blocked shapes of one group: the forward, and dX's (input dY, output dX, padding flipped).
DirectShape forward_shape(const Geom& g, int Cg, int OCg) {
  return {Cg, OCg, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.PH, g.PW, g.DH, g.DW};
}
DirectShape dx_shape(const Geom& g, int Cg, int OCg) {
  return {OCg, Cg, g.OH, g.OW, g.H, g.W, g.KH, g.KW, g.DH * (g.KH - 1) - g.PH, g.DW * (g.KW - 1) - g.PW, g.DH, g.DW};
}

// Packs each group's weights [OCg, Cg*KH*KW] for conv_blocked_image: per block of OB output channels,
// per tap, the OB weights side by side (zeros past OCg). flip: the weights of dX's convolution
// instead, w'[c, o, kh, kw] = w[o, c, KH-1-kh, KW-1-kw] (output channels = Cg).
void pack_blocked(const Geom& g, int groups, int Cg, int OCg, const float* w, bool flip, int OB, float* wp) {
  const int outC = flip ? Cg : OCg, inC = flip ? OCg : Cg;
  const long taps = static_cast<long>(g.KH) * g.KW, K = inC * taps, blocks = (outC + OB - 1) / OB;
  const long wGroup = static_cast<long>(OCg) * Cg * taps;
  for (int grp = 0; grp < groups; grp++) {
    const float* wg = w + grp * wGroup;
    float* pg = wp + grp * blocks * K * OB;
    for (long b = 0; b < blocks; b++) {
      for (long t = 0; t < K; t++) {
        const long i = t / taps, tap = t % taps;  // input channel of the packed conv, tap in it
        for (int j = 0; j < OB; j++) {
          const long o = b * OB + j;
          float v = 0.0f;
          if (o < outC) v = flip ? wg[(i * Cg + o) * taps + (taps - 1 - tap)] : wg[o * K + t];
          pg[(b * K + t) * OB + j] = v;
        }
      }
    }
  }
}

long packed_blocked_size(int groups, int outC, long K, int OB) {
  return static_cast<long>(groups) * ((outC + OB - 1) / OB) * K * OB;
}

// A per-thread buffer of at least n floats, reused across calls.
float* thread_buffer(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}
thread_local std::vector<float> t_col;
thread_local std::vector<float> t_dcol;
thread_local std::vector<float> t_partials;
thread_local std::vector<float> t_packed;
thread_local std::vector<long> t_tapoff;
thread_local std::vector<float> t_dwt;
thread_local std::vector<long> t_base;
thread_local std::vector<long> t_dxTapoff;
thread_local std::vector<long> t_dxBase;
thread_local std::vector<float> t_winoU;

// Runs body(first, last) over the images: one contiguous chunk per task when there are two
// images or more and two threads or more (gemm then stays on its task's thread), else once.
template <class Body>
int for_image_chunks(int N, long work, const Body& body) {
  int threads = num_threads();
  int tasks = std::min(N, threads);
  if (tasks <= 1 || work < 32768) {
    body(0, 0, N);
    return 1;
  }
  parallel_for(tasks, [&](int t) {
    int b = static_cast<int>(static_cast<long>(N) * t / tasks);
    int e = static_cast<int>(static_cast<long>(N) * (t + 1) / tasks);
    body(t, b, e);
  });
  return tasks;
}

// The Winograd filters U of the last few weight tensors a thread used, checked against a copy of the
// weights on every call (a frozen model's convolutions transform their weights once; a training step's
// changed weights differ from the copy, usually in the first float, and are transformed again).
// Measured on EPYC Zen 4, one thread: predict of the Fashion CNN at batch 1 spent a third of its time
// in winograd_weights (32->64 channels) before this cache.
constexpr int kWinoCacheEntries = 4;
constexpr long kWinoCacheMaxFloats = 1L << 20;  // larger weights are transformed on every call
struct WinoCacheEntry {
  const float* w = nullptr;
  int groups = 0, Cg = 0, OCg = 0;
  bool flip = false;
  unsigned long used = 0;
  std::vector<float> copy, U;
};
thread_local WinoCacheEntry t_winoCache[kWinoCacheEntries];
thread_local unsigned long t_winoClock = 0;

const float* wino_filters(int groups, int Cg, int OCg, const float* W, bool flip) {
  const long n = static_cast<long>(groups) * OCg * Cg * 9, un = winograd_weights_size(groups, OCg, Cg);
  if (n > kWinoCacheMaxFloats) {
    float* U = thread_buffer(t_winoU, static_cast<size_t>(un));
    winograd_weights(groups, Cg, OCg, W, flip, U);
    return U;
  }
  WinoCacheEntry* slot = &t_winoCache[0];
  for (WinoCacheEntry& e : t_winoCache) {
    const bool same = e.w == W && e.groups == groups && e.Cg == Cg && e.OCg == OCg && e.flip == flip;
    if (same) {
      e.used = ++t_winoClock;
      if (std::memcmp(e.copy.data(), W, sizeof(float) * n) == 0) return e.U.data();
      slot = &e;
      break;
    }
    if (e.used < slot->used) slot = &e;
  }
  slot->w = W;
  slot->groups = groups;
  slot->Cg = Cg;
  slot->OCg = OCg;
  slot->flip = flip;
  slot->used = ++t_winoClock;
  slot->copy.assign(W, W + n);
  slot->U.resize(static_cast<size_t>(un));
  winograd_weights(groups, Cg, OCg, W, flip, slot->U.data());
  return slot->U.data();
}

// The Winograd forward (use_wino_forward geometries): U once, then the images in chunks per thread.
void wino_forward(const Geom& g, int N, const float* X, const float* W, const float* bias, int act, float alpha, float* out) {
  const int Cg = g.C / g.groups, OCg = g.OC / g.groups;
  const long inPlane = g.inPlane(), P = g.outPlane();
  const float* U = wino_filters(g.groups, Cg, OCg, W, false);
  const WinoShape s{Cg, OCg, g.H, g.W, g.OH, g.OW, g.PH, g.PW};
  for_image_chunks(N, static_cast<long>(N) * g.OC * P * Cg * 9, [&](int, int first, int last) {
    winograd_conv(s, g.groups, first, last, X, static_cast<long>(g.C) * inPlane, U, bias, act == kActRelu, out, static_cast<long>(g.OC) * P);
    if (act != kActNone && act != kActRelu) {
      float* y = out + static_cast<long>(first) * g.OC * P;
      activation_forward_parallel(act, static_cast<long>(last - first) * g.OC * P, y, y, alpha);
    }
  });
}

}  // namespace

void conv2d_forward(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G,
                    const int32_t* geom, const float* X, const float* W, const float* bias, int act,
                    float alpha, float* out) {
  const Geom g = conv_geom("conv2dForward", N, C, OC, inPlane, outPlane, kArea, G, geom);
  const int Cg = C / g.groups, OCg = OC / g.groups;
  const long P = outPlane, K = kArea;
  const bool direct = is_pointwise(g);
  if (use_wino_forward(g)) {
    wino_forward(g, N, X, W, bias, act, alpha, out);
    return;
  }
  if (use_direct(g, K, OCg)) {
    const auto loop = direct_loop();
    for_image_chunks(N, static_cast<long>(N) * OC * P * K, [&](int, int first, int last) {
      float* scratch = thread_buffer(t_col, static_cast<size_t>(conv_direct_scratch(Cg, g.H, g.W, g.OH, g.KW, g.PH, g.PW, g.DW)));
      for (int n = first; n < last; n++) {
        float* yn = out + static_cast<long>(n) * OC * P;
        for (int grp = 0; grp < g.groups; grp++) {
          loop(Cg, OCg, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.PH, g.PW, g.DH, g.DW,
               X + (static_cast<long>(n) * C + static_cast<long>(grp) * Cg) * inPlane, W + static_cast<long>(grp) * OCg * K,
               bias ? bias + static_cast<long>(grp) * OCg : nullptr, act == kActRelu, yn + static_cast<long>(grp) * OCg * P, scratch);
        }
        if (act != kActNone && act != kActRelu) activation_forward_parallel(act, static_cast<long>(OC) * P, yn, yn, alpha);
      }
    });
    return;
  }
  if (blocked_forward(g) && use_ovec(K)) {
    const BlockedKernels bk = blocked_kernels();
    const DirectShape s = forward_shape(g, Cg, OCg);
    const long OCr = (OCg + bk.dwtLanes - 1) / bk.dwtLanes * bk.dwtLanes;
    float* wT = thread_buffer(t_packed, static_cast<size_t>(packed_blocked_size(g.groups, OCg, K, static_cast<int>(OCr))));
    pack_blocked(g, g.groups, Cg, OCg, W, false, static_cast<int>(OCr), wT);
    direct_offsets(s, t_tapoff, &t_base);
    const long* tapoff = t_tapoff.data();
    const long* base = t_base.data();
    for_image_chunks(N, static_cast<long>(N) * OC * P * K, [&](int, int first, int last) {
      float* scratch = thread_buffer(t_col, static_cast<size_t>(ovec_scratch(s, OCr)));
      for (int n = first; n < last; n++) {
        float* yn = out + static_cast<long>(n) * OC * P;
        for (int grp = 0; grp < g.groups; grp++) {
          bk.ovec(s, tapoff, base, X + (static_cast<long>(n) * C + static_cast<long>(grp) * Cg) * inPlane, wT + grp * K * OCr,
                  bias ? bias + static_cast<long>(grp) * OCg : nullptr, act == kActRelu, yn + static_cast<long>(grp) * OCg * P, scratch);
        }
        if (act != kActNone && act != kActRelu) activation_forward_parallel(act, static_cast<long>(OC) * P, yn, yn, alpha);
      }
    });
    return;
  }
  if (blocked_forward(g)) {
    const BlockedKernels bk = blocked_kernels();
    float* wp = thread_buffer(t_packed, static_cast<size_t>(packed_blocked_size(g.groups, OCg, K, bk.OB)));
    pack_blocked(g, g.groups, Cg, OCg, W, false, bk.OB, wp);
    const DirectShape s = forward_shape(g, Cg, OCg);
    const long wGroup = ((OCg + bk.OB - 1) / bk.OB) * K * bk.OB;
    for_image_chunks(N, static_cast<long>(N) * OC * P * K, [&](int, int first, int last) {
      float* scratch = thread_buffer(t_col, static_cast<size_t>(conv_blocked_scratch(s, bk.OB, bk.QB)));
      for (int n = first; n < last; n++) {
        float* yn = out + static_cast<long>(n) * OC * P;
        for (int grp = 0; grp < g.groups; grp++) {
          bk.forward(s, X + (static_cast<long>(n) * C + static_cast<long>(grp) * Cg) * inPlane, wp + grp * wGroup,
                     bias ? bias + static_cast<long>(grp) * OCg : nullptr, act == kActRelu, yn + static_cast<long>(grp) * OCg * P, scratch);
        }
        if (act != kActNone && act != kActRelu) activation_forward_parallel(act, static_cast<long>(OC) * P, yn, yn, alpha);
      }
    });
    return;
  }
  for_image_chunks(N, static_cast<long>(N) * OC * P * K, [&](int, int first, int last) {
    float* col = direct ? nullptr : thread_buffer(t_col, static_cast<size_t>(K) * P);
    for (int n = first; n < last; n++) {
      const float* xn = X + static_cast<long>(n) * C * inPlane;
      float* yn = out + static_cast<long>(n) * OC * P;
      for (int grp = 0; grp < g.groups; grp++) {
        const float* xg = xn + static_cast<long>(grp) * Cg * inPlane;
        if (!direct) im2col(g, Cg, xg, col);
        gemm(false, false, OCg, static_cast<int>(P), static_cast<int>(K), 1.0f,
             W + static_cast<long>(grp) * OCg * K, direct ? xg : col, 0.0f, yn + static_cast<long>(grp) * OCg * P);
      }
      if (bias && act == kActRelu) {
        for (int o = 0; o < OC; o++) {  // the common case in one pass
          float* r = yn + o * P;
          const float b = bias[o];
          for (long i = 0; i < P; i++) {
            r[i] = scalar::conv_relu(r[i] + b);
          }
        }
      } else {
        if (bias) {
          for (int o = 0; o < OC; o++) {
            float* r = yn + o * P;
            const float b = bias[o];
            for (long i = 0; i < P; i++) r[i] += b;
          }
        }
        if (act != kActNone) activation_forward_parallel(act, static_cast<long>(OC) * P, yn, yn, alpha);
      }
    }
  });
}

void conv2d_backward(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G,
                     const int32_t* geom, const float* X, const float* W, const float* dY, float* dX,
                     float* dW, float* dB, bool accumulate) {
  const Geom g = conv_geom("conv2dBackward", N, C, OC, inPlane, outPlane, kArea, G, geom);
  const int Cg = C / g.groups, OCg = OC / g.groups;
  const long P = outPlane, K = kArea, wSize = static_cast<long>(OC) * K;
  const bool direct = is_pointwise(g);
  if (dB) {
    for (int o = 0; o < OC; o++) {
      double s = 0;
      for (int n = 0; n < N; n++) {
        const float* r = dY + (static_cast<long>(n) * OC + o) * P;
        s += row_sum(r, P);
      }
      dB[o] = static_cast<float>(accumulate ? dB[o] + s : s);
    }
  }
  if (dW && use_wino_dw(g)) {
    winograd_weight_grad(wino_shape(g), g.groups, N, X, static_cast<long>(C) * inPlane, dY, static_cast<long>(OC) * P, dW, accumulate);
    dW = nullptr;
  }
  if (!dX && !dW) return;
  const int threads = std::max(1, std::min(N, num_threads()));
  // dW partial sums of tasks 1.. (task 0 writes dW itself), in the caller's per-thread buffer.
  float* partials = dW && threads > 1 ? thread_buffer(t_partials, static_cast<size_t>(threads - 1) * wSize) : nullptr;
  const bool wdx = dX && use_wino_dx(g);
  const float* Uflip = wdx ? wino_filters(g.groups, Cg, OCg, W, true) : nullptr;
  const bool bdx = dX && !wdx && blocked_dx(g), bdwt = dW && dwt_dw(g, K), bdw = dW && !bdwt && blocked_dw(g, K);
  const BlockedKernels bk = blocked_kernels();
  const DirectShape sx = dx_shape(g, Cg, OCg), sw = forward_shape(g, Cg, OCg);
  const long kT = static_cast<long>(OCg) * g.KH * g.KW, wGroupT = ((Cg + bk.OB - 1) / bk.OB) * kT * bk.OB;
  float* wpT = nullptr;
  const bool dxOvec = bdx && use_ovec(kT);
  const long CgR = (Cg + bk.dwtLanes - 1) / bk.dwtLanes * bk.dwtLanes;
  if (bdx) {
    const int ob = dxOvec ? static_cast<int>(CgR) : bk.OB;
    wpT = thread_buffer(t_packed, static_cast<size_t>(packed_blocked_size(g.groups, Cg, kT, ob)));
    pack_blocked(g, g.groups, Cg, OCg, W, true, ob, wpT);
  }
  if (dxOvec) direct_offsets(sx, t_dxTapoff, &t_dxBase);
  // (the tasks run on other threads: their thread_locals are others, so pass the pointers)
  const long* dxTapoff = t_dxTapoff.data();
  const long* dxBase = t_dxBase.data();
  const long* tapoff = nullptr;
  if (bdw || bdwt) {
    direct_offsets(sw, t_tapoff, nullptr);
    tapoff = t_tapoff.data();
  }
  const int tasks = for_image_chunks(N, static_cast<long>(N) * OC * P * K, [&](int t, int first, int last) {
    // t_col: im2col's columns or the blocked dW's scratch; t_dcol: dX's columns or its blocked scratch.
    const long OCr = (OCg + bk.dwtLanes - 1) / bk.dwtLanes * bk.dwtLanes, dwtGroup = (K + 1) * OCr;
    float* col = dW && !direct ? thread_buffer(t_col, static_cast<size_t>(bdwt ? conv_blocked_scratch(sw, static_cast<int>(OCr), 1)
                                                                      : bdw ? conv_blocked_scratch(sw, OCg + 1, bk.VL) : K * P)) : nullptr;
    float* dwt = bdwt ? thread_buffer(t_dwt, static_cast<size_t>(g.groups * dwtGroup)) : nullptr;
    if (dwt) std::memset(dwt, 0, sizeof(float) * g.groups * dwtGroup);
    float* dcol = dX && !direct && !wdx ? thread_buffer(t_dcol, static_cast<size_t>(dxOvec ? ovec_scratch(sx, CgR) : bdx ? conv_blocked_scratch(sx, bk.OB, bk.QB) : K * P)) : nullptr;
    float* dw = dW ? (t == 0 ? dW : partials + static_cast<long>(t - 1) * wSize) : nullptr;
    bool fresh = !(t == 0 && accumulate);  // the first product overwrites dw
    if (dw && bdw && fresh) {  // the blocked kernel adds to dw
      std::memset(dw, 0, sizeof(float) * wSize);
      fresh = false;
    }
    if (wdx) {
      const WinoShape s{OCg, Cg, g.OH, g.OW, g.H, g.W, 2 - g.PH, 2 - g.PW};
      winograd_conv(s, g.groups, first, last, dY, static_cast<long>(OC) * P, Uflip, nullptr, false, dX, static_cast<long>(C) * inPlane);
    }
    for (int n = first; n < last; n++) {
      const float* xn = X + static_cast<long>(n) * C * inPlane;
      const float* dyn = dY + static_cast<long>(n) * OC * P;
      float* dxn = dX && !wdx ? dX + static_cast<long>(n) * C * inPlane : nullptr;
      if (dxn && !direct && !bdx) std::memset(dxn, 0, sizeof(float) * C * inPlane);
      for (int grp = 0; grp < g.groups; grp++) {
        const float* xg = xn + static_cast<long>(grp) * Cg * inPlane;
        const float* dyg = dyn + static_cast<long>(grp) * OCg * P;
        const float* wg = W + static_cast<long>(grp) * OCg * K;
        if (dw) {
          if (bdwt) {
            bk.dwt(sw, tapoff, xg, dyg, dwt + grp * dwtGroup, col);
          } else if (bdw) {
            bk.weight_grad(sw, tapoff, xg, dyg, dw + static_cast<long>(grp) * OCg * K, col);
          } else {
            if (!direct) im2col(g, Cg, xg, col);
            gemm(false, true, OCg, static_cast<int>(K), static_cast<int>(P), 1.0f, dyg, direct ? xg : col,
                 fresh ? 0.0f : 1.0f, dw + static_cast<long>(grp) * OCg * K);
          }
        }
        if (dxn) {
          float* dxg = dxn + static_cast<long>(grp) * Cg * inPlane;
          if (direct) {
            gemm(true, false, static_cast<int>(K), static_cast<int>(P), OCg, 1.0f, wg, dyg, 0.0f, dxg);
          } else if (dxOvec) {
            bk.ovec(sx, dxTapoff, dxBase, dyg, wpT + grp * kT * CgR, nullptr, false, dxg, dcol);
          } else if (bdx) {
            bk.forward(sx, dyg, wpT + grp * wGroupT, nullptr, false, dxg, dcol);
          } else {
            gemm(true, false, static_cast<int>(K), static_cast<int>(P), OCg, 1.0f, wg, dyg, 0.0f, dcol);
            col2im(g, Cg, dcol, dxg);
          }
        }
      }
      fresh = false;
    }
    if (dwt) {  // dw = (dw +) dwt^T
      const bool add = t == 0 && accumulate;
      for (int grp = 0; grp < g.groups; grp++) {
        const float* src = dwt + grp * dwtGroup;
        for (int o = 0; o < OCg; o++) {
          float* d = dw + (static_cast<long>(grp) * OCg + o) * K;
          for (long k = 0; k < K; k++) d[k] = (add ? d[k] : 0.0f) + src[k * OCr + o];
        }
      }
    } else if (dw && fresh) {
      std::memset(dw, 0, sizeof(float) * wSize);  // a task without images
    }
  });
  if (dW) {
    for (int t = 1; t < tasks; t++) {
      const float* p = partials + static_cast<long>(t - 1) * wSize;
      for (long i = 0; i < wSize; i++) dW[i] += p[i];
    }
  }
}

const float* conv2d_forward_prepare(const char* kernel, int N, int C, int OC, long inPlane, long outPlane, long kArea,
                                    int G, const int32_t* geom, const float* W) {
  const Geom g = conv_geom(kernel, N, C, OC, inPlane, outPlane, kArea, G, geom);
  return use_wino_forward(g) ? wino_filters(g.groups, g.C / g.groups, g.OC / g.groups, W, false) : nullptr;
}

bool conv2d_blocked_pool_forward(const int32_t* geom, int first, int last, const float* X, const float* W,
                                 const float* bias, bool relu, float* out, int tasks) {
  const Geom g{geom[0], geom[1], geom[2], geom[3], geom[4], geom[5], geom[6], geom[7], geom[8], geom[9], geom[10], geom[11], geom[12], geom[13], geom[14]};
  const int Cg = g.C / g.groups, OCg = g.OC / g.groups;
  const long K = static_cast<long>(Cg) * g.KH * g.KW, inPlane = g.inPlane(), poolPlane = static_cast<long>(g.OH / 2) * (g.OW / 2);
  if (use_wino_forward(g) || use_direct(g, K, OCg) || !blocked_forward(g) || use_ovec(K)) return false;
  if (first >= last) return true;
  const BlockedKernels bk = blocked_kernels();
  decltype(&scalar::conv_blocked_pool_image) pooled = scalar::conv_blocked_pool_image;
#if defined(__x86_64__) || defined(_M_X64)
  if (gemm_simd_level() == SimdLevel::Avx512) pooled = avx512::conv_blocked_pool_image;
  if (gemm_simd_level() == SimdLevel::Avx2) pooled = avx2::conv_blocked_pool_image;
#endif
  // Packed on the calling thread; the tasks only read it.
  float* wp = thread_buffer(t_packed, static_cast<size_t>(packed_blocked_size(g.groups, OCg, K, bk.OB)));
  pack_blocked(g, g.groups, Cg, OCg, W, false, bk.OB, wp);
  const DirectShape s = forward_shape(g, Cg, OCg);
  const long wGroup = ((OCg + bk.OB - 1) / bk.OB) * K * bk.OB;
  // Output channels [o0, o1) of each group (o0 a multiple of OB: whole register blocks), on this thread.
  const auto run = [&](int o0, int o1) {
    DirectShape so = s;
    so.OCg = o1 - o0;
    float* scratch = thread_buffer(t_col, static_cast<size_t>(conv_blocked_scratch(so, bk.OB, bk.QB)));
    for (int n = first; n < last; n++) {
      for (int grp = 0; grp < g.groups; grp++) {
        const long oc = static_cast<long>(grp) * OCg + o0;
        pooled(so, X + (static_cast<long>(n) * g.C + static_cast<long>(grp) * Cg) * inPlane, wp + grp * wGroup + (o0 / bk.OB) * K * bk.OB,
               bias ? bias + oc : nullptr, relu, out + (static_cast<long>(n) * g.OC + oc) * poolPlane, scratch);
      }
    }
  };
  if (tasks <= 1) {
    run(0, OCg);
    return true;
  }
  parallel_for(tasks, [&](int t) {
    int o0, o1;
    channel_range(OCg, tasks, t, &o0, &o1);
    if (o0 < o1) run(o0, o1);
  });
  return true;
}

void conv2d_winograd_forward(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G,
                             const int32_t* geom, const float* X, const float* W, const float* bias, int act,
                             float alpha, float* out) {
  const Geom g = conv_geom("conv2dWinogradForward", N, C, OC, inPlane, outPlane, kArea, G, geom);
  if (!wino3x3(g)) {
    bad("conv2dWinogradForward", "needs a 3x3 kernel, stride 1 and dilation 1, got kernel " + std::to_string(g.KH) + "x" + std::to_string(g.KW) +
        ", stride " + std::to_string(g.SH) + "x" + std::to_string(g.SW) + ", dilation " + std::to_string(g.DH) + "x" + std::to_string(g.DW));
  }
  wino_forward(g, N, X, W, bias, act, alpha, out);
}

void conv2d_winograd_weight_grad(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G,
                                 const int32_t* geom, const float* X, const float* dY, float* dW, bool accumulate) {
  const Geom g = conv_geom("conv2dWinogradWeightGrad", N, C, OC, inPlane, outPlane, kArea, G, geom);
  if (!wino3x3(g)) {
    bad("conv2dWinogradWeightGrad", "needs a 3x3 kernel, stride 1 and dilation 1, got kernel " + std::to_string(g.KH) + "x" + std::to_string(g.KW) +
        ", stride " + std::to_string(g.SH) + "x" + std::to_string(g.SW) + ", dilation " + std::to_string(g.DH) + "x" + std::to_string(g.DW));
  }
  winograd_weight_grad(wino_shape(g), g.groups, N, X, static_cast<long>(C) * inPlane, dY, static_cast<long>(OC) * outPlane, dW, accumulate);
}

}  // namespace myelin
