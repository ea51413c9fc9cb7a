// 2-d max and average pooling over NC planes (NCHW), forward and backward, planes split across threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "conv.h"
#include "conv_fused.h"
#include "../runtime/cpu.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "parallel_split.h"

namespace myelin {
namespace scalar {
#define MYELIN_CONV_VL 4
#include "pool_max.inc"
#undef MYELIN_CONV_VL
}  // namespace scalar
namespace {

struct PoolGeom {
  int H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW;
};

[[noreturn]] void bad(const char* kernel, const std::string& what) {
  throw std::invalid_argument(std::string(kernel) + ": " + what);
}

// Checks the geometry (sizes >= 1, padding in [0, kernel/2] as PyTorch requires) against the planes.
PoolGeom pool_geom(const char* kernel, long inPlane, long outPlane, int G, const int32_t* g) {
  if (G != kConvGeomLen) bad(kernel, "geom must hold " + std::to_string(kConvGeomLen) + " integers, got " + std::to_string(G));
  for (int i = kGeomH; i <= kGeomDW; i++) {
    if (i == kGeomOC) continue;
    int min = (i == kGeomPH || i == kGeomPW) ? 0 : 1;
    if (g[i] < min) bad(kernel, "geom entry " + std::to_string(i) + " must be >= " + std::to_string(min) + ", got " + std::to_string(g[i]));
  }
  PoolGeom p{g[kGeomH], g[kGeomW], g[kGeomOH], g[kGeomOW], g[kGeomKH], g[kGeomKW],
             g[kGeomSH], g[kGeomSW], g[kGeomPH], g[kGeomPW], g[kGeomDH], g[kGeomDW]};
  if (2 * p.PH > p.KH || 2 * p.PW > p.KW) bad(kernel, "padding must be at most half the kernel size");
  if (static_cast<long>(p.H) * p.W != inPlane) bad(kernel, "inPlane " + std::to_string(inPlane) + " differs from H*W");
  if (static_cast<long>(p.OH) * p.OW != outPlane) bad(kernel, "outPlane " + std::to_string(outPlane) + " differs from OH*OW");
  // Every window starts inside the input or its left/top padding (floor or ceil mode).
  if (static_cast<long>(p.OH - 1) * p.SH >= p.H + p.PH || static_cast<long>(p.OW - 1) * p.SW >= p.W + p.PW) {
    bad(kernel, "OH/OW too large for the input and stride");
  }
  return p;
}

// Runs body(first, last) over the planes, split across the pool when the work is large.
template <class Body>
void over_planes(int NC, long perPlane, const Body& body) {
  const long rows = NC;
  const long grain = std::max(1L, kParallelThreshold / std::max(1L, perPlane));
  if (rows <= grain) {
    body(0L, rows);
    return;
  }
  split_range(rows * perPlane, [&](long b, long e) {
    // Chunks are multiples of 64 elements, not of planes: take the planes that start in [b, e).
    const long first = (b + perPlane - 1) / perPlane, last = std::min(rows, (e + perPlane - 1) / perPlane);
    if (first < last) body(first, last);
  });
}

}  // namespace

namespace {
// The max of output (oh, ow)'s window and its index in the plane (-1 when the window holds only
// padding: -inf). A NaN wins (the last one), as in PyTorch; of equal values the first wins.
inline void max_window(const PoolGeom& g, const float* x, int oh, int ow, float* y, int32_t* am) {
  const int h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
  float best = -std::numeric_limits<float>::infinity();
  int32_t at = -1;
  for (int kh = 0; kh < g.KH; kh++) {
    const int ih = h0 + kh * g.DH;
    if (ih < 0 || ih >= g.H) continue;
    for (int kw = 0; kw < g.KW; kw++) {
      const int iw = w0 + kw * g.DW;
      if (iw < 0 || iw >= g.W) continue;
      const int32_t idx = ih * g.W + iw;
      const float v = x[idx];
      if (at < 0 || v > best || std::isnan(v)) {
        best = v;
        at = idx;
      }
    }
  }
  *y = best;
  *am = at;
}

// One full 2x2 window from rows r0, r1 at column 2*ow: max (first of equals, last NaN) and argmax.
inline void max_2x2(const float* r0, const float* r1, int W, int ow, int32_t base, float* y, int32_t* am) {
  const float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
  float best = a;
  int32_t at = 0;
  if (b > best || b != b) { best = b; at = 1; }
  if (c > best || c != c) { best = c; at = W; }
  if (d > best || d != d) { best = d; at = W + 1; }
  *y = best;
  *am = base + 2 * ow + at;
}

#if defined(__SSE2__)
// Four windows at once: picks t = (v > best) | isnan(v) in window order, as max_2x2.
inline void max_2x2_x4(const float* r0, const float* r1, int W, int ow, int32_t base, float* y, int32_t* am) {
  const __m128 p0 = _mm_loadu_ps(r0 + 2 * ow), p1 = _mm_loadu_ps(r0 + 2 * ow + 4);
  const __m128 q0 = _mm_loadu_ps(r1 + 2 * ow), q1 = _mm_loadu_ps(r1 + 2 * ow + 4);
  const __m128 a = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(2, 0, 2, 0)), b = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(3, 1, 3, 1));
  const __m128 c = _mm_shuffle_ps(q0, q1, _MM_SHUFFLE(2, 0, 2, 0)), d = _mm_shuffle_ps(q0, q1, _MM_SHUFFLE(3, 1, 3, 1));
  __m128 best = a;
  __m128i at = _mm_setzero_si128();
  auto pick = [&](__m128 v, int32_t off) {
    const __m128 t = _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v));
    best = _mm_or_ps(_mm_and_ps(t, v), _mm_andnot_ps(t, best));
    const __m128i ti = _mm_castps_si128(t);
    at = _mm_or_si128(_mm_and_si128(ti, _mm_set1_epi32(off)), _mm_andnot_si128(ti, at));
  };
  pick(b, 1);
  pick(c, W);
  pick(d, W + 1);
  _mm_storeu_ps(y, best);
  const __m128i cols = _mm_add_epi32(_mm_set1_epi32(base + 2 * ow), _mm_setr_epi32(0, 2, 4, 6));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(am), _mm_add_epi32(cols, at));
}
#endif

// The common 2x2, stride 2, unpadded, undilated pooling: full windows four at a time (SSE2, the
// x86-64 baseline; scalar elsewhere), the partial ones of ceil mode (last row/column) through max_window.
void max_pool_2x2(const PoolGeom& g, const float* x, float* y, int32_t* am) {
  const int W = g.W;
  const int fullH = std::min(g.OH, g.H / 2), fullW = std::min(g.OW, W / 2);
  for (int oh = 0; oh < fullH; oh++) {
    const float* r0 = x + static_cast<long>(2 * oh) * W;
    const float* r1 = r0 + W;
    float* yr = y + static_cast<long>(oh) * g.OW;
    int32_t* ar = am + static_cast<long>(oh) * g.OW;
    const int32_t base = 2 * oh * W;
    int ow = 0;
#if defined(__SSE2__)
    for (; ow + 4 <= fullW; ow += 4) max_2x2_x4(r0, r1, W, ow, base, yr + ow, ar + ow);
#endif
    for (; ow < fullW; ow++) max_2x2(r0, r1, W, ow, base, yr + ow, ar + ow);
    for (ow = fullW; ow < g.OW; ow++) max_window(g, x, oh, ow, yr + ow, ar + ow);
  }
  for (int oh = fullH; oh < g.OH; oh++) {
    for (int ow = 0; ow < g.OW; ow++) max_window(g, x, oh, ow, y + static_cast<long>(oh) * g.OW + ow, am + static_cast<long>(oh) * g.OW + ow);
  }
}
}  // namespace

void max_pool2d_forward(int NC, long inPlane, long outPlane, long outTotal, int G,
                        const int32_t* geom, const float* X, float* out, int32_t* argmax) {
  const PoolGeom g = pool_geom("maxPool2dForward", inPlane, outPlane, G, geom);
  if (outTotal != static_cast<long>(NC) * outPlane) bad("maxPool2dForward", "outTotal differs from NC*OH*OW");
  const bool twoByTwo = g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && g.DH == 1 && g.DW == 1;
  over_planes(NC, inPlane + outPlane, [&](long first, long last) {
    for (long pl = first; pl < last; pl++) {
      const float* x = X + pl * inPlane;
      float* y = out + pl * outPlane;
      int32_t* am = argmax + pl * outPlane;
      if (twoByTwo) {
        max_pool_2x2(g, x, y, am);
        continue;
      }
      for (int oh = 0; oh < g.OH; oh++) {
        for (int ow = 0; ow < g.OW; ow++) max_window(g, x, oh, ow, y + oh * g.OW + ow, am + oh * g.OW + ow);
      }
    }
  });
}

void max_pool2d_check(const char* kernel, long inPlane, long outPlane, int G, const int32_t* geom) {
  (void)pool_geom(kernel, inPlane, outPlane, G, geom);
}

namespace {
decltype(&scalar::max_pool_2x2_row) pool_row_kernel() {
#if defined(__x86_64__) || defined(_M_X64)
  switch (gemm_simd_level()) {
    case SimdLevel::Avx512: return avx512::max_pool_2x2_row;
    case SimdLevel::Avx2: return avx2::max_pool_2x2_row;
    default: break;
  }
#endif
  return scalar::max_pool_2x2_row;
}
}  // namespace

void max_pool2d_planes(int NC, long inPlane, long outPlane, const int32_t* geom, const float* X, float* out) {
  const PoolGeom g{geom[kGeomH], geom[kGeomW], geom[kGeomOH], geom[kGeomOW], geom[kGeomKH], geom[kGeomKW],
                   geom[kGeomSH], geom[kGeomSW], geom[kGeomPH], geom[kGeomPW], geom[kGeomDH], geom[kGeomDW]};
  const bool twoByTwo = g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && g.DH == 1 && g.DW == 1;
  const auto row = pool_row_kernel();
  int32_t at;  // max_window's argmax, unused
  for (long pl = 0; pl < NC; pl++) {
    const float* x = X + pl * inPlane;
    float* y = out + pl * outPlane;
    int fullH = 0, fullW = 0;
    if (twoByTwo) {  // full windows by rows; ceil mode's partial last row/column below
      fullH = std::min(g.OH, g.H / 2);
      fullW = std::min(g.OW, g.W / 2);
      for (int oh = 0; oh < fullH; oh++) {
        const float* r0 = x + static_cast<long>(2 * oh) * g.W;
        row(r0, r0 + g.W, fullW, y + static_cast<long>(oh) * g.OW);
      }
    }
    for (int oh = 0; oh < g.OH; oh++) {
      for (int ow = oh < fullH ? fullW : 0; ow < g.OW; ow++) max_window(g, x, oh, ow, y + static_cast<long>(oh) * g.OW + ow, &at);
    }
  }
}

void max_pool2d_backward(int NC, long inPlane, long outPlane, long outTotal, const int32_t* argmax,
                         const float* dY, float* dX) {
  if (outTotal != static_cast<long>(NC) * outPlane) bad("maxPool2dBackward", "outTotal differs from NC*outPlane");
  over_planes(NC, inPlane + outPlane, [&](long first, long last) {
    for (long pl = first; pl < last; pl++) {
      float* dx = dX + pl * inPlane;
      std::memset(dx, 0, sizeof(float) * inPlane);
      const float* dy = dY + pl * outPlane;
      const int32_t* am = argmax + pl * outPlane;
      for (long i = 0; i < outPlane; i++) {
        if (am[i] >= 0 && am[i] < inPlane) dx[am[i]] += dy[i];
      }
    }
  });
}

namespace {
// The window [h0, h1) x [w0, w1) of output (oh, ow) clipped to the input, and its divisor.
struct Window {
  int h0, h1, w0, w1;
  float divisor;
};
Window avg_window(const PoolGeom& g, int oh, int ow, bool countIncludePad) {
  int h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
  int h1 = std::min(h0 + g.KH, g.H + g.PH), w1 = std::min(w0 + g.KW, g.W + g.PW);
  const int padded = (h1 - h0) * (w1 - w0);
  h0 = std::max(h0, 0);
  w0 = std::max(w0, 0);
  h1 = std::min(h1, g.H);
  w1 = std::min(w1, g.W);
  const int inside = std::max(0, h1 - h0) * std::max(0, w1 - w0);
  return Window{h0, h1, w0, w1, static_cast<float>(countIncludePad ? padded : inside)};
}
}  // namespace

void avg_pool2d_forward(int NC, long inPlane, long outPlane, int G, const int32_t* geom,
                        bool countIncludePad, const float* X, float* out) {
  const PoolGeom g = pool_geom("avgPool2dForward", inPlane, outPlane, G, geom);
  if (g.DH != 1 || g.DW != 1) bad("avgPool2dForward", "dilation must be 1");
  over_planes(NC, inPlane + outPlane, [&](long first, long last) {
    for (long pl = first; pl < last; pl++) {
      const float* x = X + pl * inPlane;
      float* y = out + pl * outPlane;
      for (int oh = 0; oh < g.OH; oh++) {
        for (int ow = 0; ow < g.OW; ow++) {
          const Window w = avg_window(g, oh, ow, countIncludePad);
          float s = 0;
          for (int ih = w.h0; ih < w.h1; ih++) {
            for (int iw = w.w0; iw < w.w1; iw++) s += x[ih * g.W + iw];
          }
          y[oh * g.OW + ow] = s / w.divisor;
        }
      }
    }
  });
}

void avg_pool2d_backward(int NC, long inPlane, long outPlane, int G, const int32_t* geom,
                         bool countIncludePad, const float* dY, float* dX) {
  const PoolGeom g = pool_geom("avgPool2dBackward", inPlane, outPlane, G, geom);
  if (g.DH != 1 || g.DW != 1) bad("avgPool2dBackward", "dilation must be 1");
  over_planes(NC, inPlane + outPlane, [&](long first, long last) {
    for (long pl = first; pl < last; pl++) {
      float* dx = dX + pl * inPlane;
      std::memset(dx, 0, sizeof(float) * inPlane);
      const float* dy = dY + pl * outPlane;
      for (int oh = 0; oh < g.OH; oh++) {
        for (int ow = 0; ow < g.OW; ow++) {
          const Window w = avg_window(g, oh, ow, countIncludePad);
          const float v = dy[oh * g.OW + ow] / w.divisor;
          for (int ih = w.h0; ih < w.h1; ih++) {
            for (int iw = w.w0; iw < w.w1; iw++) dx[ih * g.W + iw] += v;
          }
        }
      }
    }
  });
}

}  // namespace myelin
