// 2-d max and average pooling over NC planes (NCHW), forward and backward, planes split across threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "conv.h"
#include "parallel_split.h"

namespace myelin {
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

void max_pool2d_forward(int NC, long inPlane, long outPlane, long outTotal, int G,
                        const int32_t* geom, const float* X, float* out, int32_t* argmax) {
  const PoolGeom g = pool_geom("maxPool2dForward", inPlane, outPlane, G, geom);
  if (outTotal != static_cast<long>(NC) * outPlane) bad("maxPool2dForward", "outTotal differs from NC*OH*OW");
  over_planes(NC, inPlane + outPlane, [&](long first, long last) {
    for (long pl = first; pl < last; pl++) {
      const float* x = X + pl * inPlane;
      float* y = out + pl * outPlane;
      int32_t* am = argmax + pl * outPlane;
      for (int oh = 0; oh < g.OH; oh++) {
        const int h0 = oh * g.SH - g.PH;
        for (int ow = 0; ow < g.OW; ow++) {
          const int w0 = ow * g.SW - g.PW;
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
              // A NaN wins (the last one), as in PyTorch.
              if (at < 0 || v > best || std::isnan(v)) {
                best = v;
                at = idx;
              }
            }
          }
          y[oh * g.OW + ow] = best;
          am[oh * g.OW + ow] = at;
        }
      }
    }
  });
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
