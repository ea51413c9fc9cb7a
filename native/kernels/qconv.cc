// Direct int8 convolution driver (portable unit): checks, dispatch, the per-image quantisation and
// repacking, weight packing, threads, the im2col fallback. The VNNI tile loop is qconv_avx512.cc.
//
// Dispatch: a stride-1 convolution runs the direct kernel when qgemm_i8 would run on AVX512-VNNI
// (GEMM level avx512 and the CPU has it). Otherwise (strided, or a lower level): each image
// quantised as one row (quantize_rows_i8), its patch rows gathered (im2col_quantize_i8 with scale 1
// on the integer values: an exact copy), qgemm_i8 with the image's scale on each row, and
// planes_from_rows. Every path gives the same bits: exact int32 sums, one epilogue rule.
#include "qconv.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"
#include "activation.h"
#include "codes.gen.h"
#include "conv.h"
#include "qgemm.h"
#include "qgemm_kernels.h"

namespace myelin {
namespace {

using qconv_kernels::kOcTile;
using qconv_kernels::Segment;
using qgemm_kernels::PatchGeom;

// The direct kernels need VNNI / BF16 (present on every AMX CPU): with AMX, stride-1 convolutions keep
// them, and the others run their patch rows through qgemm_i8 / gemm_bf16 on the tiles.
bool direct_path() { return qgemm_i8_vnni(); }

using qconv_kernels::PoolArgs;

bool pools(const PoolArgs& p) { return p.KH != 1 || p.KW != 1 || p.SH != 1 || p.SW != 1; }

// The pooling of `planes` planes: the AVX-512 2x2 kernel where it applies, else the portable loop.
void pool_planes(const PoolArgs& p, const float* src, float* dst) {
#ifdef MYELIN_QGEMM_HAVE_X86
  if (p.KH == 2 && p.KW == 2 && p.SH == 2 && p.SW == 2 && gemm_simd_level() == SimdLevel::Avx512) {
    qconv_kernels::max_pool_2x2_avx512(p, src, dst);
    return;
  }
#endif
  qconv_kernels::max_pool_planes(p, src, dst);
}

// Everything the direct kernel needs that depends on the geometry and weights, not on the image.
// Few input channels (C below a group's `per` channels, e.g. a first conv on 1-channel images) fill the
// groups with F = per / C copies of each channel shifted by 0, DW, 2DW, ... columns ("virtual channels"
// (c, f), f < F), so that one group covers F kernel columns: KWf = ceil(KW / F) taps per kernel row
// instead of KW, the weights of the columns past KW being zero.
struct DirectPlan {
  int Hp, Wp, F, C4, KWf, taps, ocTiles, vecs;
  long S;
  std::vector<int32_t> tapOff, w, corr, segStart;
  std::vector<Segment> seg;
};

// per: channels per 4-byte group (4 int8, 2 bf16); W: int8 [OC, K] (w8) or bf16 bits [OC, K] (w16).
[[maybe_unused]] DirectPlan plan_direct(const PatchGeom& g, int OC, int per, const int8_t* w8, const uint16_t* w16) {
  DirectPlan d;
  d.Hp = g.H + 2 * g.PH;
  d.Wp = g.W + 2 * g.PW;
  d.F = g.C < per ? std::min(per / g.C, g.KW) : 1;
  d.C4 = (g.C * d.F + per - 1) / per;
  d.KWf = (g.KW + d.F - 1) / d.F;
  d.taps = g.KH * d.KWf;
  d.ocTiles = (OC + kOcTile - 1) / kOcTile;
  const long wide = static_cast<long>(g.OH) * d.Wp;
  d.vecs = static_cast<int>((wide + 15) / 16);
  const long maxOff = static_cast<long>(g.KH - 1) * g.DH * d.Wp + static_cast<long>(d.KWf - 1) * d.F * g.DW;
  // The last vector reads up to position vecs * 16 - 1 + maxOff.
  d.S = std::max(static_cast<long>(d.Hp) * d.Wp, static_cast<long>(d.vecs) * 16 + maxOff);
  d.S = (d.S + 15) / 16 * 16;
  for (int i = 0; i < g.KH; ++i)
    for (int j = 0; j < d.KWf; ++j) d.tapOff.push_back(i * g.DH * d.Wp + j * d.F * g.DW);
  // Weights: [tile][tap][group][kOcTile] int32 of `per` virtual channels (int8: -128 read as -127; bf16: 2
  // halves); virtual channel v = c * F + f of tap (i, jf) is W[oc, c, i, jf * F + f] (0 past KW).
  const int K = g.C * g.KH * g.KW;
  d.w.assign(static_cast<size_t>(d.ocTiles) * d.taps * d.C4 * kOcTile, 0);
  d.corr.assign(static_cast<size_t>(d.ocTiles) * kOcTile, 0);
  for (int oc = 0; oc < OC; ++oc) {
    int32_t sum = 0;
    for (int c = 0; c < g.C; ++c) {
      for (int i = 0; i < g.KH; ++i) {
        for (int j = 0; j < g.KW; ++j) {
          const long k = static_cast<long>(oc) * K + (static_cast<long>(c) * g.KH + i) * g.KW + j;
          const int v = c * d.F + j % d.F, tap = i * d.KWf + j / d.F;
          const size_t at = ((static_cast<size_t>(oc / kOcTile) * d.taps + tap) * d.C4 + v / per) * kOcTile + oc % kOcTile;
          if (w16 != nullptr) {
            reinterpret_cast<uint16_t*>(&d.w[at])[v % per] = w16[k];
          } else {
            const int8_t q = w8[k] == -128 ? -127 : w8[k];
            sum += q;
            reinterpret_cast<int8_t*>(&d.w[at])[v % per] = q;
          }
        }
      }
    }
    d.corr[oc] = 128 * sum;
  }
  // Store segments of each vector of 16 wide positions: the lanes of each output row it covers.
  d.segStart.push_back(0);
  for (long v = 0; v < d.vecs; ++v) {
    const long q0 = v * 16;
    for (long oh = q0 / d.Wp; oh < g.OH && oh * d.Wp < q0 + 16; ++oh) {
      const long lo = std::max(q0, oh * d.Wp), hi = std::min(q0 + 16, oh * d.Wp + g.OW);
      if (lo >= hi) continue;
      const uint16_t mask = static_cast<uint16_t>(((1u << (hi - q0)) - 1u) & ~((1u << (lo - q0)) - 1u));
      d.seg.push_back(Segment{mask, oh * g.OW - oh * d.Wp + q0});
    }
    d.segStart.push_back(static_cast<int32_t>(d.seg.size()));
  }
  return d;
}

// The image img[C,H,W] into the kernel's layout (qconv.h, DirectPlan), as 32-bit words of kPer elements:
// int8 (T = int8_t, kPer 4) stored as u8 (q ^ 0x80, padding 0x80), bf16 bits (T = uint16_t, kPer 2; padding 0).
// Virtual channel (c, f) at position p holds the padded image's channel c at p + f * DW.
template <class T, int kPer>
void repack_image(const PatchGeom& g, const DirectPlan& d, const T* img, uint32_t* in) {
  constexpr int kBits = 32 / kPer;
  constexpr uint32_t kMask = kBits == 8 ? 0xffu : 0xffffu;
  constexpr uint32_t kFlip = kPer == 4 ? 0x80u : 0u;  // int8 -> u8 for vpdpbusd
  uint32_t padWord = 0;
  for (int b = 0; b < kPer; ++b) padWord |= kFlip << (b * kBits);
  std::fill(in, in + static_cast<size_t>(d.C4) * d.S, padWord);
  if (d.F == 1) {
    // Whole words: the group's kPer channels of a row side by side (missing channels stay padding).
    for (int grp = 0; grp < d.C4; ++grp) {
      uint32_t* plane = in + static_cast<long>(grp) * d.S;
      for (int y = 0; y < g.H; ++y) {
        const T* src[kPer];
        for (int b = 0; b < kPer; ++b) {
          const int c = grp * kPer + b;
          src[b] = c < g.C ? img + (static_cast<long>(c) * g.H + y) * g.W : nullptr;
        }
        uint32_t* dst = plane + static_cast<long>(y + g.PH) * d.Wp + g.PW;
        if (src[kPer - 1] != nullptr) {
          for (int x = 0; x < g.W; ++x) {
            uint32_t w = 0;
            for (int b = 0; b < kPer; ++b) w |= (static_cast<uint32_t>(src[b][x]) & kMask) << (b * kBits);
            dst[x] = w ^ padWord;
          }
        } else {
          for (int x = 0; x < g.W; ++x) {
            uint32_t w = padWord;
            for (int b = 0; b < kPer && src[b] != nullptr; ++b) {
              w = (w & ~(kMask << (b * kBits))) | (((static_cast<uint32_t>(src[b][x]) & kMask) ^ kFlip) << (b * kBits));
            }
            dst[x] = w;
          }
        }
      }
    }
    return;
  }
  // Folded columns (few channels): element by element.
  T* elems = reinterpret_cast<T*>(in);
  for (int c = 0; c < g.C; ++c) {
    for (int f = 0; f < d.F; ++f) {
      const int v = c * d.F + f;
      T* plane = elems + static_cast<long>(v / kPer) * d.S * kPer + v % kPer;
      const long shift = static_cast<long>(f) * g.DW;
      for (int y = 0; y < g.H; ++y) {
        const T* src = img + (static_cast<long>(c) * g.H + y) * g.W;
        const long row = static_cast<long>(y + g.PH) * d.Wp + g.PW - shift;  // position of column 0
        for (int x = row < 0 ? static_cast<int>(-row) : 0; x < g.W; ++x) {
          plane[(row + x) * kPer] = static_cast<T>((static_cast<uint32_t>(src[x]) & kMask) ^ kFlip);
        }
      }
    }
  }
}

// int8 (W8, wScale) or bf16 (W16: wScale unused, scale 0).
void direct(int N, const PatchGeom& g, int OC, const PoolArgs& pool, const float* X, float scale, const int8_t* W8,
            const uint16_t* W16, const float* wScale, const float* bias, int act, float alpha, float* out) {
#ifdef MYELIN_QGEMM_HAVE_X86
  const bool bf16 = W16 != nullptr;
  const DirectPlan d = plan_direct(g, OC, bf16 ? 2 : 4, W8, W16);
  const long image = static_cast<long>(g.C) * g.H * g.W, P = static_cast<long>(g.OH) * g.OW;
  const long pooledPlane = static_cast<long>(pool.PH) * pool.PW;
  const bool pooled = pools(pool);
  const bool fused = act == kActNone || act == kActRelu || act == kActLeakyRelu;
  const double work = static_cast<double>(N) * OC * P * g.C * g.KH * g.KW;
  const int tasks = work < 262144.0 ? 1 : std::min(num_threads(), N);
  auto run = [&](int n0, int n1) {
    std::vector<int8_t> q(bf16 ? 0 : static_cast<size_t>(image));
    std::vector<uint16_t> h(bf16 ? static_cast<size_t>(image) : 0);
    std::vector<uint32_t> in(static_cast<size_t>(d.C4) * d.S);
    std::vector<float> sc(d.corr.size(), 0.0f);
    // With a pooling: the image's conv planes stay in this buffer (cache-resident), only the pooled ones are stored.
    std::vector<float> planes(pooled ? static_cast<size_t>(OC * P) : 0);
    for (int n = n0; n < n1; ++n) {
      if (bf16) {
        to_bf16(image, X + n * image, h.data());
        repack_image<uint16_t, 2>(g, d, h.data(), in.data());
      } else {
        float s = 0.0f;
        quantize_rows_i8(1, static_cast<int>(image), X + n * image, scale, q.data(), &s);
        repack_image<int8_t, 4>(g, d, q.data(), in.data());
        for (int oc = 0; oc < OC; ++oc) sc[oc] = s * wScale[oc];
      }
      float* o = pooled ? planes.data() : out + static_cast<long>(n) * OC * P;
      const qconv_kernels::DirectArgs args{
          reinterpret_cast<const uint8_t*>(in.data()), d.S, d.C4, d.taps, d.tapOff.data(), d.w.data(), d.corr.data(), sc.data(), bias, OC, d.ocTiles,
          d.vecs, d.seg.data(), d.segStart.data(), o, P, fused ? act : kActNone, alpha};
      if (bf16) qconv_kernels::direct_bf16_avx512(args);
      else qconv_kernels::direct_i8_avx512vnni(args);
      if (!fused) activation_forward(act, OC * P, o, o, alpha);
      if (pooled) pool_planes(pool, o, out + static_cast<long>(n) * OC * pooledPlane);
    }
  };
  if (tasks <= 1) {
    run(0, N);
    return;
  }
  const int step = (N + tasks - 1) / tasks;
  parallel_for((N + step - 1) / step, [&](int t) { run(t * step, std::min(N, (t + 1) * step)); });
#else
  (void)N, (void)g, (void)OC, (void)pool, (void)X, (void)scale, (void)W8, (void)W16, (void)wScale, (void)bias, (void)act, (void)alpha, (void)out;
#endif
}

// The fallbacks' frame: chunks of images whose patch rows fit buffers below 2^28 elements; rows(n0, n, y) fills
// y [n * outPlane, OC] for images n0 .. n0 + n, which go back to NCHW planes, pooled if the pooling is one.
template <class Rows>
void in_row_chunks(const char* kernel, int N, long image, int OC, long outPlane, long kArea, const PoolArgs& pool, float* out,
                   const Rows& rows) {
  const long pooledPlane = static_cast<long>(pool.PH) * pool.PW;
  const long perImage = std::max({image, outPlane * kArea, outPlane * OC});
  constexpr long kMaxElements = 1L << 28;
  if (perImage > kMaxElements) {
    throw std::invalid_argument(std::string(kernel) + ": one image's patch rows (" + std::to_string(outPlane) + " x " +
                                std::to_string(kArea) + ") are too large for the im2col path");
  }
  const int chunk = static_cast<int>(std::min<long>(N, std::max(1L, kMaxElements / perImage)));
  std::vector<float> y, planes;
  for (int n0 = 0; n0 < N; n0 += chunk) {
    const int n = std::min(chunk, N - n0);
    y.resize(static_cast<size_t>(n * outPlane * OC));
    rows(n0, n, y.data());
    if (!pools(pool)) {
      planes_from_rows(n, static_cast<int>(outPlane), OC, y.data(), out + static_cast<long>(n0) * OC * outPlane);
      continue;
    }
    planes.resize(y.size());
    planes_from_rows(n, static_cast<int>(outPlane), OC, y.data(), planes.data());
    PoolArgs all = pool;
    all.planes = n * OC;
    pool_planes(all, planes.data(), out + static_cast<long>(n0) * OC * pooledPlane);
  }
}

// The int8 fallback: the same quantised images as patch rows through qgemm_i8.
void via_rows(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G, const int32_t* geom, const PoolArgs& pool,
              const float* X, float scale, const int8_t* W, const float* wScale, const float* bias, int act, float alpha, float* out) {
  const long image = C * inPlane;
  std::vector<int8_t> q, rows;
  std::vector<float> scales, qf, rowScale;
  in_row_chunks("qconvI8", N, image, OC, outPlane, kArea, pool, out, [&](int n0, int n, float* y) {
    const long M = n * outPlane;
    q.resize(static_cast<size_t>(n * image));
    scales.resize(static_cast<size_t>(n));
    quantize_rows_i8(n, static_cast<int>(image), X + n0 * image, scale, q.data(), scales.data());
    qf.assign(q.begin(), q.end());  // the integers as floats: quantised again with scale 1, an exact copy
    rows.resize(static_cast<size_t>(M * kArea));
    rowScale.resize(static_cast<size_t>(M));
    im2col_quantize_i8(n, C, static_cast<int>(inPlane), static_cast<int>(outPlane), static_cast<int>(kArea), G, geom,
                       qf.data(), 1.0f, rows.data(), rowScale.data());
    for (long r = 0; r < M; ++r) rowScale[r] = scales[r / outPlane];
    qgemm_i8(static_cast<int>(M), OC, static_cast<int>(kArea), rows.data(), rowScale.data(), W, wScale, bias, act, alpha, y);
  });
}

// The bf16 fallback: patch rows rounded to bf16 through gemm_bf16.
void via_rows_bf16(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G, const int32_t* geom,
                   const PoolArgs& pool, const float* X, const uint16_t* W, const float* bias, int act, float alpha, float* out) {
  const long image = C * inPlane;
  std::vector<uint16_t> rows;
  in_row_chunks("qconvBf16", N, image, OC, outPlane, kArea, pool, out, [&](int n0, int n, float* y) {
    const long M = n * outPlane;
    rows.resize(static_cast<size_t>(M * kArea));
    im2col_bf16(n, C, static_cast<int>(inPlane), static_cast<int>(outPlane), static_cast<int>(kArea), G, geom, X + n0 * image,
                rows.data());
    gemm_bf16(static_cast<int>(M), OC, static_cast<int>(kArea), rows.data(), W, bias, act, alpha, y);
  });
}

}  // namespace

namespace qconv_kernels {

void max_pool_planes(const PoolArgs& p, const float* src, float* dst) {
  for (long pl = 0; pl < p.planes; ++pl) {
    const float* s = src + pl * p.OH * p.OW;
    float* d = dst + pl * p.PH * p.PW;
    for (int ph = 0; ph < p.PH; ++ph) {
      for (int pw = 0; pw < p.PW; ++pw) {
        float m = s[static_cast<long>(ph * p.SH) * p.OW + pw * p.SW];
        for (int i = 0; i < p.KH; ++i) {
          const float* r = s + static_cast<long>(ph * p.SH + i) * p.OW + pw * p.SW;
          for (int j = 0; j < p.KW; ++j) m = (r[j] > m || r[j] != r[j]) && m == m ? r[j] : m;  // NaN sticks
        }
        d[static_cast<long>(ph) * p.PW + pw] = m;
      }
    }
  }
}

}  // namespace qconv_kernels

namespace {

// The checks both entry points share: the geometry, the pooling and the channel count; the pooling of all planes.
struct Checked {
  PatchGeom g;
  PoolArgs pool;
};

Checked check_conv_pool(const char* kernel, int N, int C, int OC, long inPlane, long convPlane, long outPlane, long kArea,
                        int G, const int32_t* geom, int PG, const int32_t* pool) {
  const std::string k(kernel);
  const PatchGeom g = qgemm_kernels::patch_geom(kernel, C, inPlane, convPlane, kArea, G, geom);
  if (PG != 4) throw std::invalid_argument(k + ": pool must hold 4 integers (KH, KW, SH, SW), got " + std::to_string(PG));
  for (int i = 0; i < 4; ++i) {
    if (pool[i] < 1) throw std::invalid_argument(k + ": pool[" + std::to_string(i) + "] must be >= 1, got " + std::to_string(pool[i]));
  }
  if (pool[0] > g.OH || pool[1] > g.OW) {
    throw std::invalid_argument(k + ": the pooling window " + std::to_string(pool[0]) + "x" + std::to_string(pool[1]) +
                                " is larger than the convolution's output " + std::to_string(g.OH) + "x" + std::to_string(g.OW));
  }
  const PoolArgs pa{N * OC, g.OH, g.OW, pool[0], pool[1], pool[2], pool[3], (g.OH - pool[0]) / pool[2] + 1,
                    (g.OW - pool[1]) / pool[3] + 1};
  if (static_cast<long>(pa.PH) * pa.PW != outPlane) {
    throw std::invalid_argument(k + ": outPlane is " + std::to_string(outPlane) + ", but the pooling gives " +
                                std::to_string(pa.PH) + "x" + std::to_string(pa.PW));
  }
  if (geom[kGeomOC] != OC) {
    throw std::invalid_argument(k + ": geom[3] (output channels) is " + std::to_string(geom[kGeomOC]) + ", expected OC " +
                                std::to_string(OC));
  }
  return Checked{g, pa};
}

bool direct_bf16_path() { return gemm_bf16_avx512bf16(); }

}  // namespace

void qconv_i8(int N, int C, int OC, long inPlane, long convPlane, long outPlane, long kArea, int G,
              const int32_t* geom, int PG, const int32_t* pool, const float* X, float scale, const int8_t* W,
              const float* wScale, const float* bias, int act, float alpha, float* out) {
  qgemm_kernels::check_quant_scale("qconvI8", scale);
  const Checked c = check_conv_pool("qconvI8", N, C, OC, inPlane, convPlane, outPlane, kArea, G, geom, PG, pool);
  if (kArea > kQgemmMaxK) {
    throw std::invalid_argument("qconvI8: kArea must be at most " + std::to_string(kQgemmMaxK) + " (int32 sums), got " +
                                std::to_string(kArea));
  }
  if (c.g.SH == 1 && c.g.SW == 1 && direct_path()) {
    PoolArgs perImage = c.pool;
    perImage.planes = OC;
    direct(N, c.g, OC, perImage, X, scale, W, nullptr, wScale, bias, act, alpha, out);
    return;
  }
  via_rows(N, C, OC, inPlane, convPlane, kArea, G, geom, c.pool, X, scale, W, wScale, bias, act, alpha, out);
}

void qconv_bf16(int N, int C, int OC, long inPlane, long convPlane, long outPlane, long kArea, int G,
                const int32_t* geom, int PG, const int32_t* pool, const float* X, const uint16_t* W, const float* bias,
                int act, float alpha, float* out) {
  const Checked c = check_conv_pool("qconvBf16", N, C, OC, inPlane, convPlane, outPlane, kArea, G, geom, PG, pool);
  if (c.g.SH == 1 && c.g.SW == 1 && direct_bf16_path()) {
    PoolArgs perImage = c.pool;
    perImage.planes = OC;
    direct(N, c.g, OC, perImage, X, 0.0f, nullptr, W, nullptr, bias, act, alpha, out);
    return;
  }
  via_rows_bf16(N, C, OC, inPlane, convPlane, kArea, G, geom, c.pool, X, W, bias, act, alpha, out);
}

const char* qconv_i8_path() { return direct_path() ? "avx512vnni-direct" : "im2col"; }

const char* qconv_bf16_path() { return direct_bf16_path() ? "avx512bf16-direct" : "im2col"; }

}  // namespace myelin
