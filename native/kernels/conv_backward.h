// The convolutions' training kernels beyond conv2d_backward (conv.h): max pooling's backward through a ReLU.
#pragma once
#include <cstdint>

namespace myelin {

// dX (NC planes, overwritten) = dY added at argmax where the window's max (pooled, max_pool2d_forward's out, which is
// the ReLU's output y at argmax) is > 0, else 0: max_pool2d_backward then the ReLU's backward (dx = y > 0 ? dx : 0),
// the same bits, in one pass that reads no plane of y.
void max_pool2d_relu_backward(int NC, long inPlane, long outPlane, long outTotal, const int32_t* argmax, const float* pooled,
                              const float* dY, float* dX);

}  // namespace myelin
