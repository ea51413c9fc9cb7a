// Optimizer kernels: portable scalar loops, run-time dispatch and thread-pool splitting.
#include "optim.h"

#include <math.h>

#include "isa.h"
#include "parallel_split.h"
#include "../runtime/cpu.h"

namespace myelin {
namespace scalar {
#include "optim_loops.inc"
}  // namespace scalar

namespace {
inline bool use_avx2() { return simd_level() == SimdLevel::Avx2; }
}  // namespace

void sgd_step(long n, float* param, const float* grad, float* velocity, float lr, float momentum,
              float weight_decay, bool nesterov) {
  const bool v = use_avx2();
  split_range(n, [=](long b, long e) {
    float* vel = velocity ? velocity + b : nullptr;
    if (v) avx2::sgd(e - b, param + b, grad + b, vel, lr, momentum, weight_decay, nesterov);
    else scalar::sgd(e - b, param + b, grad + b, vel, lr, momentum, weight_decay, nesterov);
  });
}

void adam_step(long n, float* param, const float* grad, float* m, float* v, double step, float lr,
               float beta1, float beta2, float eps, float weight_decay, bool decoupled) {
  const float bc1 = static_cast<float>(1.0 - ::pow(static_cast<double>(beta1), step));
  const float bc2_sqrt_inv =
      static_cast<float>(1.0 / ::sqrt(1.0 - ::pow(static_cast<double>(beta2), step)));
  const bool vx = use_avx2();
  split_range(n, [=](long b, long e) {
    if (vx)
      avx2::adam(e - b, param + b, grad + b, m + b, v + b, lr, beta1, beta2, eps, weight_decay,
                 decoupled, bc1, bc2_sqrt_inv);
    else
      scalar::adam(e - b, param + b, grad + b, m + b, v + b, lr, beta1, beta2, eps, weight_decay,
                   decoupled, bc1, bc2_sqrt_inv);
  });
}

void rmsprop_step(long n, float* param, const float* grad, float* sq, float* buf, float lr,
                  float alpha, float eps, float weight_decay, float momentum) {
  const bool v = use_avx2();
  split_range(n, [=](long b, long e) {
    float* bb = buf ? buf + b : nullptr;
    if (v) avx2::rmsprop(e - b, param + b, grad + b, sq + b, bb, lr, alpha, eps, weight_decay, momentum);
    else scalar::rmsprop(e - b, param + b, grad + b, sq + b, bb, lr, alpha, eps, weight_decay, momentum);
  });
}

}  // namespace myelin
