// Fused optimizer update kernels (SGD, Adam/AdamW, RMSprop), in place, PyTorch semantics.
#pragma once

namespace myelin {

// See lib/backend/contract.ts for the exact update rules. velocity / buf may be null when
// momentum == 0. step is the 1-based Adam step count.
void sgd_step(long n, float* param, const float* grad, float* velocity, float lr, float momentum,
              float weight_decay, bool nesterov);
void adam_step(long n, float* param, const float* grad, float* m, float* v, double step, float lr,
               float beta1, float beta2, float eps, float weight_decay, bool decoupled);
void rmsprop_step(long n, float* param, const float* grad, float* sq, float* buf, float lr,
                  float alpha, float eps, float weight_decay, float momentum);

}  // namespace myelin
