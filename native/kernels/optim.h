// Fused optimizer update kernels (SGD, Adam/AdamW, RMSprop), in place, PyTorch semantics.
#pragma once

namespace myelin {

// See lib/backend/kernel-table.ts for the exact update rules. velocity / buf may be null when
// momentum == 0. step is the 1-based Adam step count.
void sgd_step(long n, float* param, const float* grad, float* velocity, float lr, float momentum,
              float weight_decay, bool nesterov);
// Hyper-parameters are doubles so derived constants (1 - beta, bias corrections, lr / bc1) are
// formed in double and rounded once.
void adam_step(long n, float* param, const float* grad, float* m, float* v, double step, double lr,
               double beta1, double beta2, double eps, double weight_decay, bool decoupled);
void rmsprop_step(long n, float* param, const float* grad, float* sq, float* buf, double lr,
                  double alpha, double eps, double weight_decay, double momentum);

}  // namespace myelin
