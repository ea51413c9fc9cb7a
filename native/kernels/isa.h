// Internal: declarations of the per-ISA kernel variants (scalar, AVX2, AVX-512) behind the public headers.
#pragma once
#include <cstdint>

namespace myelin {

// Work of at least this many elements is split across the thread pool; smaller work runs on the
// calling thread (pool wake-up costs more than it saves below this size).
constexpr long kParallelThreshold = 65536;

// Adam's per-step constants, derived in double from the caller's hyper-parameters.
struct AdamConsts {
  float b1, c1;        // beta1, 1 - beta1
  float b2, c2;        // beta2, 1 - beta2
  float step_size;     // lr / (1 - beta1^step)
  float bc2_sqrt_inv;  // 1 / sqrt(1 - beta2^step)
  float eps;
  float grad_wd;       // weight decay added to the gradient (Adam), 0 for AdamW
  float param_scale;   // 1 - lr * weightDecay (AdamW), 1 for Adam
};

#define MYELIN_DECLARE_ISA_KERNELS                                                                \
  void activation_forward(int act, long n, const float* x, float* y, float alpha);               \
  void activation_backward(int act, long n, const float* x, const float* y, const float* dy,     \
                           float* dx, float alpha);                                              \
  void binary(int op, long n, const float* a, const float* b, float* out);                       \
  void scale(long n, const float* a, float s, float* out);                                       \
  void axpy(long n, float alpha, const float* x, float* y);                                      \
  void unary(int op, long n, const float* x, float* out);                                        \
  double sum(long n, const float* x);                                                            \
  double sum_sq_diff(long n, const float* a, const float* b);                                    \
  void mse_backward(long n, const float* pred, const float* target, float scale, float* grad);   \
  void add_bias(long rows, long n, const float* x, const float* bias, float* out);               \
  void col_sum_acc(long rows, long n, const float* x, double* acc);                              \
  void softmax_rows(long rows, long n, const float* x, float* out, bool log);                    \
  void softmax_backward_rows(long rows, long n, const float* y, const float* dy, float* dx,      \
                             bool log);                                                          \
  void softmax_xent_rows(long rows, long n, const float* logits, const int32_t* labels,          \
                         float grad_scale, float* grad, float* losses, double* loss_sum);        \
  void sgd(long n, float* p, const float* g, float* vel, float lr, float mom, float wd,          \
           bool nesterov);                                                                       \
  void adam(long n, float* p, const float* g, float* m, float* v, const AdamConsts& k);          \
  void rmsprop(long n, float* p, const float* g, float* sq, float* buf, float lr, float alpha,   \
               float one_minus_alpha, float eps, float wd, float mom);

namespace scalar { MYELIN_DECLARE_ISA_KERNELS }
namespace avx2 { MYELIN_DECLARE_ISA_KERNELS }
// AVX-512 variants (elementwise_avx512.cc, softmax_avx512.cc): dispatched only where a measurement
// showed they pay (unary exp, the softmax rows; docs/performance.md, "Thread counts and AVX-512
// elementwise kernels"); the dispatchers run the AVX2 ones for the others.
namespace avx512 { MYELIN_DECLARE_ISA_KERNELS }

// Calls the variant of kernel F for level lv (a SimdLevel, runtime/cpu.h): avx512::F, avx2::F or
// scalar::F with the same arguments (only for kernels that have all three).
#define MYELIN_ISA_CALL(lv, F, ...)                                   \
  ((lv) == SimdLevel::Avx512 ? avx512::F(__VA_ARGS__)                 \
   : (lv) == SimdLevel::Avx2 ? avx2::F(__VA_ARGS__) : scalar::F(__VA_ARGS__))

// Binary op codes used by binary().
enum BinaryOp : int { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

}  // namespace myelin
