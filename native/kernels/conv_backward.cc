// Max pooling's backward through the ReLU before it (conv_backward.h): in training, Conv2d -> ReLU -> MaxPool2d's
// gradient to the convolution's output in one pass over dX instead of two (the pooling's scatter, then the ReLU's
// mask over the whole conv output). A window's max is the ReLU's output at its argmax, so the mask is read from the
// pooled output (a quarter of the size for 2x2 windows), not from the ReLU's output. The masked positions get no add
// at all, so every other position receives the same adds in the same order as max_pool2d_backward: the same bits.
#include "conv_backward.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "parallel_split.h"

namespace myelin {

void max_pool2d_relu_backward(int NC, long inPlane, long outPlane, long outTotal, const int32_t* argmax, const float* pooled,
                              const float* dY, float* dX) {
  if (outTotal != static_cast<long>(NC) * outPlane) throw std::invalid_argument("maxPool2dReluBackward: outTotal differs from NC*outPlane");
  const long perPlane = inPlane + outPlane;
  // Per plane: a memset of inPlane floats and outPlane scattered adds (~0.1 ns a float measured with the pooling).
  const auto planes = [&](long first, long last) {
    for (long pl = first; pl < last; pl++) {
      float* dx = dX + pl * inPlane;
      std::memset(dx, 0, sizeof(float) * inPlane);
      const float* mx = pooled + pl * outPlane;
      const float* dy = dY + pl * outPlane;
      const int32_t* am = argmax + pl * outPlane;
      for (long i = 0; i < outPlane; i++) {
        const int32_t a = am[i];
        if (a >= 0 && a < inPlane && mx[i] > 0.0f) dx[a] += dy[i];
      }
    }
  };
  const int tasks = threads_for(static_cast<double>(NC) * perPlane * cost::kStream);
  if (tasks <= 1 || NC < 2) {
    planes(0, NC);
    return;
  }
  // Contiguous blocks of planes, a few per thread.
  const int blocks = static_cast<int>(std::min<long>(NC, 4L * tasks));
  parallel_for(blocks, [&](int b) { planes(static_cast<long>(NC) * b / blocks, static_cast<long>(NC) * (b + 1) / blocks); }, tasks);
}

}  // namespace myelin
