// Activation kernels (forward and backward) on float arrays; AVX2 or scalar chosen at run time.
#pragma once

namespace myelin {

// y[i] = act(x[i]) for i in [0, n). act is an Act code from gemm.h; alpha is the leaky-relu slope.
// y may alias x. Single-threaded (callers split work); safe to call from any thread.
void activation_forward(int act, long n, const float* x, float* y, float alpha);

// dx[i] = dy[i] * act'(.) using y (relu, leakyRelu, sigmoid, tanh) or x (gelu, geluTanh).
// dx may alias dy.
void activation_backward(int act, long n, const float* x, const float* y, const float* dy,
                         float* dx, float alpha);

}  // namespace myelin
