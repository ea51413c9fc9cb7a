// Winograd F(2x2, 3x3) weight gradient (see conv_winograd_dw.h): the forward's input transform, the output-gradient
// transform here (conv_winograd_dw.inc, per ISA), the 16 tile sums on myelin::gemm, then G^T dU G.
#include "conv_winograd_dw.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"

namespace myelin {
namespace scalar {
#define MYELIN_WDW_VL 4  // generic vectors: SSE on x86-64, NEON on arm64, split elsewhere
#include "conv_winograd_dw.inc"
}  // namespace scalar

namespace {

// Tiles per chunk, as the forward's (winograd_conv): V and dM of a chunk stay within the L2 cache. Measured for the
// 32->64 14x14 weight gradient at batch 128 (one thread's CPU time): 196 tiles 7.6 ms, 392 7.5, 784 8.1, 1568 8.4.
constexpr long kDwTilesPerChunk = 392;

thread_local std::vector<float> t_winoDw;

struct DwKernels {
  int lanes;
  decltype(&scalar::wino_input_plane) input;
  decltype(&scalar::wino_dw_output_grad_plane) output_grad;
};

DwKernels dw_kernels() {
#if defined(__x86_64__) || defined(_M_X64)
  switch (gemm_simd_level()) {
    case SimdLevel::Avx512: return {avx512::wino_lanes(), avx512::wino_input_plane, avx512::wino_dw_output_grad_plane};
    case SimdLevel::Avx2: return {avx2::wino_lanes(), avx2::wino_input_plane, avx2::wino_dw_output_grad_plane};
    default: break;
  }
#endif
  return {scalar::wino_lanes(), scalar::wino_input_plane, scalar::wino_dw_output_grad_plane};
}

}  // namespace

void winograd_dw_accumulate(const WinoShape& s, int groups, int first, int last, const float* x, long xImage, const float* dy,
                            long yImage, float* dU, bool fresh) {
  const DwKernels k = dw_kernels();
  const int tH = (s.OH + 1) / 2, tW = (s.OW + 1) / 2;
  const long tpi = static_cast<long>(tH) * tW;
  const int nb = static_cast<int>(std::max(1L, std::min<long>(last - first, kDwTilesPerChunk / tpi)));
  const long Tmax = nb * tpi;
  const long outPlane = static_cast<long>(s.OH) * s.OW;
  // V[p] (inC x T) and dM[p] (outC x T), each point followed by the transforms' vector slack.
  const long slack = std::max(16, k.lanes);
  const long vps = s.inC * Tmax + slack, mps = s.outC * Tmax + slack;
  const long vlen = 16 * vps, mlen = 16 * mps;
  const long scratch = std::max(wino_scratch(tH, tW, k.lanes), wino_dw_scratch(tH, tW));
  if (t_winoDw.size() < static_cast<size_t>(vlen + mlen + scratch)) t_winoDw.resize(vlen + mlen + scratch);
  float* V = t_winoDw.data();
  float* M = V + vlen;
  float* work = M + mlen;
  const long uGroup = 16L * s.outC * s.inC;
  if (first >= last && fresh) std::memset(dU, 0, sizeof(float) * groups * uGroup);
  for (int n0 = first; n0 < last; n0 += nb) {
    const int nc = std::min(nb, last - n0);
    const long T = nc * tpi;
    for (int grp = 0; grp < groups; grp++) {
      winograd_inputs(k.input, s, tH, tW, x, xImage, grp, n0, nc, V, vps, work);
      for (int o = 0; o < s.outC; o++) {
        for (int b = 0; b < nc; b++) {
          k.output_grad(s.OH, s.OW, tH, tW, dy + (n0 + b) * yImage + (static_cast<long>(grp) * s.outC + o) * outPlane, M + o * T + b * tpi, mps,
                        work);
        }
      }
      // dU[p] (+)= dM[p] V[p]^T: outC x inC, summed over the chunk's tiles.
      float* ug = dU + grp * uGroup;
      const float beta = fresh && n0 == first ? 0.0f : 1.0f;
      for (int p = 0; p < 16; p++) {
        gemm(false, true, s.outC, s.inC, static_cast<int>(T), 1.0f, M + p * mps, V + p * vps, beta, ug + p * static_cast<long>(s.outC) * s.inC);
      }
    }
  }
}

void winograd_dw_finish(int groups, int outC, int inC, const float* dU, float* dW, bool accumulate) {
  const long pstride = static_cast<long>(outC) * inC;
  for (int grp = 0; grp < groups; grp++) {
    const float* ug = dU + grp * 16 * pstride;
    float* wg = dW + static_cast<long>(grp) * pstride * 9;
    for (long oc = 0; oc < pstride; oc++) {
      float u[4][4];
      for (int p = 0; p < 16; p++) u[p / 4][p % 4] = ug[p * pstride + oc];
      // G^T u: rows (u0 + (u1 + u2) / 2, (u1 - u2) / 2, (u1 + u2) / 2 + u3), per column.
      float t[3][4];
      for (int j = 0; j < 4; j++) {
        const float sum = 0.5f * (u[1][j] + u[2][j]), diff = 0.5f * (u[1][j] - u[2][j]);
        t[0][j] = u[0][j] + sum;
        t[1][j] = diff;
        t[2][j] = sum + u[3][j];
      }
      float* w = wg + oc * 9;
      for (int i = 0; i < 3; i++) {  // (G^T u) G, along the rows
        const float sum = 0.5f * (t[i][1] + t[i][2]), diff = 0.5f * (t[i][1] - t[i][2]);
        const float g[3] = {t[i][0] + sum, diff, sum + t[i][3]};
        for (int j = 0; j < 3; j++) w[i * 3 + j] = accumulate ? w[i * 3 + j] + g[j] : g[j];
      }
    }
  }
}

void winograd_weight_grad(const WinoShape& s, int groups, int N, const float* x, long xImage, const float* dy, long yImage,
                          float* dW, bool accumulate) {
  const long uSize = winograd_dw_size(groups, s.outC, s.inC);
  const int tasks = std::max(1, std::min(N, num_threads()));
  static thread_local std::vector<float> t_dU;
  if (t_dU.size() < static_cast<size_t>(tasks * uSize)) t_dU.resize(static_cast<size_t>(tasks * uSize));
  float* dU = t_dU.data();
  const auto task = [&](int t) {
    const int first = static_cast<int>(static_cast<long>(N) * t / tasks), last = static_cast<int>(static_cast<long>(N) * (t + 1) / tasks);
    winograd_dw_accumulate(s, groups, first, last, x, xImage, dy, yImage, dU + t * uSize, true);
  };
  if (tasks == 1) task(0);
  else parallel_for(tasks, task);
  for (int t = 1; t < tasks; t++) {
    const float* p = dU + t * uSize;
    for (long i = 0; i < uSize; i++) dU[i] += p[i];
  }
  winograd_dw_finish(groups, s.outC, s.inC, dU, dW, accumulate);
}

}  // namespace myelin
