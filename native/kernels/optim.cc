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
// No AVX-512 variant: on AMD Zen 4 the 16-lane adam/rmsprop/sgd measured 0.93-1.08x the 8-lane
// ones in cache and 0.85-0.94x from memory (docs/performance.md, "Thread counts and AVX-512
// elementwise kernels"), so an AVX-512 CPU runs the AVX2 loops.
inline bool use_avx2() { return simd_level() == SimdLevel::Avx2; }
}  // namespace

void sgd_step(long n, float* param, const float* grad, float* velocity, float lr, float momentum,
              float weight_decay, bool nesterov) {
  const bool v = use_avx2();
  split_range(n, cost::kOptim, [=](long b, long e) {
    float* vel = velocity ? velocity + b : nullptr;
    if (v) avx2::sgd(e - b, param + b, grad + b, vel, lr, momentum, weight_decay, nesterov);
    else scalar::sgd(e - b, param + b, grad + b, vel, lr, momentum, weight_decay, nesterov);
  });
}

void adam_step(long n, float* param, const float* grad, float* m, float* v, double step, double lr,
               double beta1, double beta2, double eps, double weight_decay, bool decoupled) {
  AdamConsts k;
  k.b1 = static_cast<float>(beta1);
  k.c1 = static_cast<float>(1.0 - beta1);
  k.b2 = static_cast<float>(beta2);
  k.c2 = static_cast<float>(1.0 - beta2);
  k.step_size = static_cast<float>(lr / (1.0 - ::pow(beta1, step)));
  k.bc2_sqrt_inv = static_cast<float>(1.0 / ::sqrt(1.0 - ::pow(beta2, step)));
  k.eps = static_cast<float>(eps);
  k.grad_wd = decoupled ? 0.0f : static_cast<float>(weight_decay);
  k.param_scale = decoupled ? static_cast<float>(1.0 - lr * weight_decay) : 1.0f;
  const bool vx = use_avx2();
  split_range(n, cost::kOptim, [=, &k](long b, long e) {
    if (vx) avx2::adam(e - b, param + b, grad + b, m + b, v + b, k);
    else scalar::adam(e - b, param + b, grad + b, m + b, v + b, k);
  });
}

void rmsprop_step(long n, float* param, const float* grad, float* sq, float* buf, double lr,
                  double alpha, double eps, double weight_decay, double momentum) {
  const float flr = static_cast<float>(lr), fa = static_cast<float>(alpha);
  const float fc = static_cast<float>(1.0 - alpha), feps = static_cast<float>(eps);
  const float fwd = static_cast<float>(weight_decay), fmom = static_cast<float>(momentum);
  const bool v = use_avx2();
  split_range(n, cost::kOptim, [=](long b, long e) {
    float* bb = buf ? buf + b : nullptr;
    if (v) avx2::rmsprop(e - b, param + b, grad + b, sq + b, bb, flr, fa, fc, feps, fwd, fmom);
    else scalar::rmsprop(e - b, param + b, grad + b, sq + b, bb, flr, fa, fc, feps, fwd, fmom);
  });
}

}  // namespace myelin
