// Convolution + activation + max pooling in one kernel (inference plans: nn/plan.ts fuses Conv, its
// activation and a following MaxPool2d). NCHW; geometry arrays as in conv.h.
#pragma once
#include <cstdint>

#include "conv_direct.h"

namespace myelin {

// out[N, OC, POH, POW] = maxPool(act(conv2d(X, W) + bias)): conv2d_forward's geometry (geom, the sizes
// as for conv2d_forward), then a max pooling of its OH x OW planes by pgeom (as max_pool2d_forward's
// geometry, H = OH, W = OW) into poolPlane = POH*POW. The same bits as conv2d_forward then
// max_pool2d_forward; the convolution's full output is never stored (Winograd convolutions with a 2x2
// stride-2 pooling pool in their output transform, others pool a few images' planes while they are in cache).
void conv2d_max_pool_forward(int N, int C, int OC, long inPlane, long outPlane, long kArea, long poolPlane, int G,
                             const int32_t* geom, const int32_t* pgeom, const float* X, const float* W,
                             const float* bias, int act, float alpha, float* out);

// conv.cc: conv2d_forward's checks of its arguments (std::invalid_argument naming `kernel`), and the
// Winograd filters (cached) when conv2d_forward runs this geometry by Winograd F(2x2, 3x3), else null.
const float* conv2d_forward_prepare(const char* kernel, int N, int C, int OC, long inPlane, long outPlane, long kArea,
                                    int G, const int32_t* geom, const float* W);

// conv.cc: when conv2d_forward runs this (checked) geometry by the register-blocked direct kernel, that
// kernel with a 2x2 stride-2 max pooling (floor mode) of its accumulators (conv_blocked_pool_image) for
// images [first, last) into out (image stride OC * (OH/2) * (OW/2)); else false. tasks 1: on the calling
// thread; tasks > 1: the output channels split across the pool in that many tasks (channel_range).
bool conv2d_blocked_pool_forward(const int32_t* geom, int first, int last, const float* X, const float* W,
                                 const float* bias, bool relu, float* out, int tasks = 1);

// Output channels [*b, *e) of task t when n channels are split into `tasks` ranges for one image's convolution
// (a batch too small to split by images): multiples of 16 channels, so the direct kernels' register blocks (4 or 8
// channels) and the GEMM's row tiles stay whole. A channel's bits do not depend on the split: each output is the
// same chain of operations whichever task computes it. Trailing tasks may get an empty range.
inline void channel_range(int n, int tasks, int t, int* b, int* e) {
  const int per = ((n + tasks - 1) / tasks + 15) / 16 * 16;
  *b = t * per < n ? t * per : n;
  *e = *b + per < n ? *b + per : n;
}

// pool.cc: max_pool2d_forward's checks of a pooling geometry (std::invalid_argument naming `kernel`), and its
// max pooling of NC planes without argmax, on the calling thread.
void max_pool2d_check(const char* kernel, long inPlane, long outPlane, int G, const int32_t* geom);
void max_pool2d_planes(int NC, long inPlane, long outPlane, const int32_t* geom, const float* X, float* out);

// max_pool_2x2_row (pool_max.inc): y[ow] = max of the 2x2 window at column 2ow of rows r0, r1, for ow < n.
// conv_blocked_pool_image (conv_direct.inc): conv_blocked_image's output pooled 2x2 (stride 2, floor mode)
// into OCg planes of OH/2 x OW/2.
#define MYELIN_DECLARE_POOL_MAX                                                                                   \
  void max_pool_2x2_row(const float* r0, const float* r1, int n, float* y);                                       \
  void conv_blocked_pool_image(const DirectShape& s, const float* x, const float* wp, const float* bias, bool act_relu, \
                               float* y, float* scratch);
namespace scalar { MYELIN_DECLARE_POOL_MAX }
namespace avx2 { MYELIN_DECLARE_POOL_MAX }
namespace avx512 { MYELIN_DECLARE_POOL_MAX }

}  // namespace myelin
