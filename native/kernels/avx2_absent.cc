// Off x86-64 (arm64, ...) the AVX2 and AVX-512 units that use intrinsics compile to nothing and the
// SIMD levels are always Scalar, so the dispatchers never call these avx2:: / avx512:: variants;
// they exist only so the dispatchers link. Each forwards to its scalar twin. (optim_avx2.cc and
// gemm_avx2.cc need no avx2 stand-ins: the first is portable loops there, the second is guarded
// inside gemm.cc.)
#include "isa.h"

#if !(defined(__x86_64__) || defined(_M_X64))

// The kernels both vector namespaces dispatch to.
#define MYELIN_SCALAR_FORWARDERS                                                                     \
  void binary(int op, long n, const float* a, const float* b, float* out) {                          \
    scalar::binary(op, n, a, b, out);                                                                \
  }                                                                                                  \
  void scale(long n, const float* a, float s, float* out) { scalar::scale(n, a, s, out); }           \
  void axpy(long n, float alpha, const float* x, float* y) { scalar::axpy(n, alpha, x, y); }         \
  void unary(int op, long n, const float* x, float* out) { scalar::unary(op, n, x, out); }           \
  void mse_backward(long n, const float* pred, const float* target, float scale, float* grad) {      \
    scalar::mse_backward(n, pred, target, scale, grad);                                              \
  }                                                                                                  \
  void add_bias(long rows, long n, const float* x, const float* bias, float* out) {                  \
    scalar::add_bias(rows, n, x, bias, out);                                                         \
  }                                                                                                  \
  void softmax_rows(long rows, long n, const float* x, float* out, bool log) {                       \
    scalar::softmax_rows(rows, n, x, out, log);                                                      \
  }                                                                                                  \
  void softmax_backward_rows(long rows, long n, const float* y, const float* dy, float* dx,          \
                             bool log) {                                                             \
    scalar::softmax_backward_rows(rows, n, y, dy, dx, log);                                          \
  }                                                                                                  \
  void softmax_xent_rows(long rows, long n, const float* logits, const int32_t* labels,              \
                         float grad_scale, float* grad, float* losses, double* loss_sum) {           \
    scalar::softmax_xent_rows(rows, n, logits, labels, grad_scale, grad, losses, loss_sum);          \
  }

namespace myelin {
namespace avx2 {

MYELIN_SCALAR_FORWARDERS

void activation_forward(int act, long n, const float* x, float* y, float alpha) {
  scalar::activation_forward(act, n, x, y, alpha);
}
void activation_backward(int act, long n, const float* x, const float* y, const float* dy, float* dx,
                         float alpha) {
  scalar::activation_backward(act, n, x, y, dy, dx, alpha);
}
double sum(long n, const float* x) { return scalar::sum(n, x); }
double sum_sq_diff(long n, const float* a, const float* b) { return scalar::sum_sq_diff(n, a, b); }
void col_sum_acc(long rows, long n, const float* x, double* acc) { scalar::col_sum_acc(rows, n, x, acc); }

}  // namespace avx2

namespace avx512 {

MYELIN_SCALAR_FORWARDERS

}  // namespace avx512
}  // namespace myelin
#endif
