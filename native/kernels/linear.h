// Fused dense-layer forward and backward on top of myelin::gemm and its epilogue.
#pragma once

namespace myelin {

// out[M,N] = act(X[M,K] * W[N,K]^T + bias); preact (nullable) receives X W^T + bias.
void linear_forward(int M, int N, int K, const float* X, const float* W, const float* bias,
                    int act, float alpha, float* out, float* preact);

class PackedWeights;
// linear_forward with W packed once (gemm.h PackedWeights; its N and K): the same results.
void linear_forward_packed(int M, const PackedWeights& W, const float* X, const float* bias,
                           int act, float alpha, float* out);

// dZ = dY * act'(.) (dZ may alias dY); dX = dZ W (nullable), dW = dZ^T X, dB = colsum(dZ)
// (nullable); accumulate adds into dW/dB instead of overwriting, accumulate_x into dX (a fresh
// dX is overwritten: nobody zero-fills it first). preact may be null unless
// act is gelu/geluTanh (the binding checks).
void linear_backward(int M, int N, int K, const float* X, const float* W, const float* Y,
                     const float* preact, const float* dY, int act, float alpha, float* dZ,
                     float* dX, float* dW, float* dB, bool accumulate,
                     bool accumulate_x);

// linear_forward and linear_backward with every product on gemm_mixed_bf16 (operands rounded to
// bf16, products summed in float32; gemm_mixed_bf16.h); the rest (bias, activation, its gradient,
// the bias gradient) in float32 as above.
void linear_forward_mixed_bf16(int M, int N, int K, const float* X, const float* W, const float* bias,
                               int act, float alpha, float* out, float* preact);
void linear_backward_mixed_bf16(int M, int N, int K, const float* X, const float* W, const float* Y,
                                const float* preact, const float* dY, int act, float alpha, float* dZ,
                                float* dX, float* dW, float* dB, bool accumulate, bool accumulate_x);

}  // namespace myelin
