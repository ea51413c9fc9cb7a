// Fused dense layer: forward = one NT gemm with a bias+activation epilogue; backward = activation
// gradient, then NN and TN gemms (transposes live in gemm's packing) and a column sum; the _mixed_bf16
// forms run the same steps on gemm_mixed_bf16 (bf16 products, fp32 sums: autocast training).
#include "linear.h"

#include "elementwise.h"
#include "gemm.h"
#include "gemm_mixed_bf16.h"

namespace myelin {

namespace {
Epilogue layer_epilogue(const float* bias, int act, float alpha, float* preact) {
  Epilogue ep;
  ep.bias = bias;
  ep.act = act;
  ep.alpha = alpha;
  ep.preact = preact;
  return ep;
}

using GemmFn = void (*)(bool, bool, int, int, int, float, const float*, const float*, float, float*, const Epilogue*);

void forward_with(GemmFn product, int M, int N, int K, const float* X, const float* W, const float* bias, int act,
                  float alpha, float* out, float* preact) {
  const Epilogue ep = layer_epilogue(bias, act, alpha, preact);
  product(false, true, M, N, K, 1.0f, X, W, 0.0f, out, &ep);
}

void backward_with(GemmFn product, int M, int N, int K, const float* X, const float* W, const float* Y,
                   const float* preact, const float* dY, int act, float alpha, float* dZ, float* dX, float* dW,
                   float* dB, bool accumulate, bool accumulate_x) {
  const long mn = static_cast<long>(M) * N;
  const float* xin = preact ? preact : Y;  // gelu forms read the pre-activation
  activation_backward_parallel(act, mn, xin, Y, dY, dZ, alpha);
  const float beta = accumulate ? 1.0f : 0.0f;
  if (dX) product(false, false, M, K, N, 1.0f, dZ, W, accumulate_x ? 1.0f : 0.0f, dX, nullptr);  // [M,N] x [N,K]
  product(true, false, N, K, M, 1.0f, dZ, X, beta, dW, nullptr);  // [M,N]^T x [M,K]
  if (dB) col_sum(M, N, dZ, dB, accumulate);
}
}  // namespace

void linear_forward(int M, int N, int K, const float* X, const float* W, const float* bias,
                    int act, float alpha, float* out, float* preact) {
  forward_with(gemm, M, N, K, X, W, bias, act, alpha, out, preact);
}

void linear_forward_mixed_bf16(int M, int N, int K, const float* X, const float* W, const float* bias,
                               int act, float alpha, float* out, float* preact) {
  forward_with(gemm_mixed_bf16, M, N, K, X, W, bias, act, alpha, out, preact);
}

void linear_forward_packed(int M, const PackedWeights& W, const float* X, const float* bias,
                           int act, float alpha, float* out) {
  const Epilogue ep = layer_epilogue(bias, act, alpha, nullptr);
  gemm_nt_packed(M, W, X, out, &ep);
}

void linear_backward(int M, int N, int K, const float* X, const float* W, const float* Y,
                     const float* preact, const float* dY, int act, float alpha, float* dZ,
                     float* dX, float* dW, float* dB, bool accumulate, bool accumulate_x) {
  backward_with(gemm, M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, accumulate, accumulate_x);
}

void linear_backward_mixed_bf16(int M, int N, int K, const float* X, const float* W, const float* Y,
                                const float* preact, const float* dY, int act, float alpha, float* dZ,
                                float* dX, float* dW, float* dB, bool accumulate, bool accumulate_x) {
  backward_with(gemm_mixed_bf16, M, N, K, X, W, Y, preact, dY, act, alpha, dZ, dX, dW, dB, accumulate, accumulate_x);
}

}  // namespace myelin
