// Winograd F(2x2, 3x3) convolution (see conv_winograd.h): transforms here, the 16 products on myelin::gemm.
#include "conv_winograd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "conv_fused.h"
#include "gemm.h"
#include "../runtime/threadpool.h"
#include "../runtime/cpu.h"

namespace myelin {

void winograd_weights(int groups, int Cg, int OCg, const float* w, bool flip, float* U) {
  const int outC = flip ? Cg : OCg, inC = flip ? OCg : Cg;
  const long pstride = static_cast<long>(outC) * inC;
  for (int grp = 0; grp < groups; grp++) {
    const float* wg = w + static_cast<long>(grp) * OCg * Cg * 9;
    float* ug = U + grp * 16 * pstride;
    for (int o = 0; o < outC; o++) {
      for (int i = 0; i < inC; i++) {
        float g[3][3];
        for (int kh = 0; kh < 3; kh++) {
          for (int kw = 0; kw < 3; kw++) {
            g[kh][kw] = flip ? wg[(static_cast<long>(i) * Cg + o) * 9 + (2 - kh) * 3 + (2 - kw)]
                             : wg[(static_cast<long>(o) * Cg + i) * 9 + kh * 3 + kw];
          }
        }
        float t[4][3];  // G g
        for (int j = 0; j < 3; j++) {
          t[0][j] = g[0][j];
          t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
          t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
          t[3][j] = g[2][j];
        }
        for (int r = 0; r < 4; r++) {  // (G g) G^T
          const float u[4] = {t[r][0], 0.5f * (t[r][0] + t[r][1] + t[r][2]), 0.5f * (t[r][0] - t[r][1] + t[r][2]), t[r][2]};
          for (int c = 0; c < 4; c++) ug[(r * 4 + c) * pstride + static_cast<long>(o) * inC + i] = u[c];
        }
      }
    }
  }
}

namespace {

// Tiles per GEMM: enough columns for the GEMM's panels, V and M within the L2 cache.
constexpr long kTilesPerChunk = 392;

thread_local std::vector<float> t_wino;

struct WinoKernels {
  int lanes;
  decltype(&scalar::wino_input_plane) input;
  decltype(&scalar::wino_output_plane) output;
  decltype(&scalar::wino_output_pool_plane) outputPool;
};

WinoKernels wino_kernels() {
#if defined(__x86_64__) || defined(_M_X64)
  switch (gemm_simd_level()) {
    case SimdLevel::Avx512: return {avx512::wino_lanes(), avx512::wino_input_plane, avx512::wino_output_plane, avx512::wino_output_pool_plane};
    case SimdLevel::Avx2: return {avx2::wino_lanes(), avx2::wino_input_plane, avx2::wino_output_plane, avx2::wino_output_pool_plane};
    default: break;
  }
#endif
  return {scalar::wino_lanes(), scalar::wino_input_plane, scalar::wino_output_plane, scalar::wino_output_pool_plane};
}

// The input transforms and the 16 products of images [first, last) in chunks; output(k, M, T, mps, n0, nc, grp,
// o0, o1, work) runs the output transform of output channels [o0, o1) of each chunk (row o of point p at
// M + p*mps + o*T). tasks > 1 splits each chunk across the pool by output channels (a batch too small to split
// by images): each task transforms the whole input into its own V (the transform is a small part of the work;
// a V shared by the tasks measured slower: written by one core and read by both, its cache lines travel
// between the cores on every call), then runs the products and the output transform of its channels.
template <class Output>
void winograd_chunks(const WinoShape& s, int groups, int first, int last, const float* x, long xImage, const float* U,
                     int tasks, const Output& output) {
  const WinoKernels k = wino_kernels();
  const int tH = (s.OH + 1) / 2, tW = (s.OW + 1) / 2;
  const long tpi = static_cast<long>(tH) * tW;  // tiles per image
  const int nb = static_cast<int>(std::max(1L, std::min<long>(last - first, kTilesPerChunk / tpi)));
  const long Tmax = nb * tpi;
  // V[p] (inC x T) and M[p] (outC x T) with the transforms' vector slack after each point.
  const long vps = s.inC * Tmax + k.lanes, mps = s.outC * Tmax + k.lanes;
  const long vlen = 16 * vps, mlen = 16 * mps;
  const long scratch = std::max(wino_scratch(tH, tW, k.lanes), Tmax + k.lanes);
  const long uGroup = 16L * s.outC * s.inC;
  // Output channels [o0, o1) of images [first, last), with this thread's buffers.
  const auto run = [&](int o0, int o1) {
    if (t_wino.size() < static_cast<size_t>(vlen + mlen + scratch)) t_wino.resize(vlen + mlen + scratch);
    float* V = t_wino.data();
    float* M = V + vlen;
    float* work = M + mlen;
    for (int n0 = first; n0 < last; n0 += nb) {
      const int nc = std::min(nb, last - n0);
      const long T = nc * tpi;
      for (int grp = 0; grp < groups; grp++) {
        winograd_inputs(k.input, s, tH, tW, x, xImage, grp, n0, nc, V, vps, work);
        // The 16 products over the input channels: M[p] = U[p] V[p] (rows o0..o1).
        const float* ug = U + grp * uGroup;
        for (int p = 0; p < 16; p++) {
          gemm(false, false, o1 - o0, static_cast<int>(T), s.inC, 1.0f,
               ug + p * static_cast<long>(s.outC) * s.inC + static_cast<long>(o0) * s.inC, V + p * vps, 0.0f,
               M + p * mps + o0 * T);
        }
        output(k, M, T, mps, n0, nc, grp, o0, o1, work);
      }
    }
  };
  if (tasks <= 1) {
    run(0, s.outC);
    return;
  }
  parallel_for(tasks, [&](int t) {
    int o0, o1;
    channel_range(s.outC, tasks, t, &o0, &o1);
    if (o0 < o1) run(o0, o1);
  });
}

}  // namespace

void winograd_conv(const WinoShape& s, int groups, int first, int last, const float* x, long xImage,
                   const float* U, const float* bias, bool relu, float* y, long yImage, int tasks) {
  const int tH = (s.OH + 1) / 2, tW = (s.OW + 1) / 2;
  const long tpi = static_cast<long>(tH) * tW, outPlane = static_cast<long>(s.OH) * s.OW;
  winograd_chunks(s, groups, first, last, x, xImage, U, tasks,
                  [&](const WinoKernels& k, const float* M, long T, long mps, int n0, int nc, int grp, int o0, int o1, float* work) {
    for (int b = 0; b < nc; b++) {
      float* yb = y + (n0 + b) * yImage + static_cast<long>(grp) * s.outC * outPlane;
      for (int o = o0; o < o1; o++) {
        k.output(s, tH, tW, M + o * T + b * tpi, mps, bias ? bias[static_cast<long>(grp) * s.outC + o] : 0.0f, relu,
                 yb + o * outPlane, work);
      }
    }
  });
}

void winograd_conv_pool(const WinoShape& s, int groups, int first, int last, const float* x, long xImage,
                        const float* U, const float* bias, bool relu, float* y, long yImage, int tasks) {
  const int tH = (s.OH + 1) / 2, tW = (s.OW + 1) / 2, PH = s.OH / 2, PW = s.OW / 2;
  const long poolPlane = static_cast<long>(PH) * PW;
  winograd_chunks(s, groups, first, last, x, xImage, U, tasks,
                  [&](const WinoKernels& k, const float* M, long T, long mps, int n0, int nc, int grp, int o0, int o1, float* work) {
    // The output channel's tiles of all nc images in one pass (tpi alone, 49 for 14x14, fills few vectors).
    float* yg = y + n0 * yImage + static_cast<long>(grp) * s.outC * poolPlane;
    for (int o = o0; o < o1; o++) {
      k.outputPool(tH, tW, nc, M + o * T, mps, bias ? bias[static_cast<long>(grp) * s.outC + o] : 0.0f, relu, PH, PW,
                   yg + o * poolPlane, yImage, work);
    }
  });
}

}  // namespace myelin
