// Convolution + activation + max pooling in one kernel (inference plans: nn/plan.ts fuses Conv, its
// activation and a following MaxPool2d). NCHW; geometry arrays as in conv.h.
#pragma once
#include <cstdint>

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

// pool.cc: max_pool2d_forward's checks of a pooling geometry (std::invalid_argument naming `kernel`), and its
// max pooling of NC planes without argmax, on the calling thread.
void max_pool2d_check(const char* kernel, long inPlane, long outPlane, int G, const int32_t* geom);
void max_pool2d_planes(int NC, long inPlane, long outPlane, const int32_t* geom, const float* X, float* out);

#define MYELIN_DECLARE_POOL_MAX void max_pool_2x2_row(const float* r0, const float* r1, int n, float* y);
namespace scalar { MYELIN_DECLARE_POOL_MAX }
namespace avx2 { MYELIN_DECLARE_POOL_MAX }
namespace avx512 { MYELIN_DECLARE_POOL_MAX }

}  // namespace myelin
