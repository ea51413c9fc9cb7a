// Flat elementwise kernels, reductions, bias/row/column ops and MSE on float arrays.
#pragma once
#include <cstdint>

#include "codes.gen.h"  // unary op codes (enum Unary), generated from lib/backend/kernel-table.ts

namespace myelin {

// All flat kernels accept out aliasing an input; each runs on as many pool threads as its work
// size repays (parallel_split.h: threads_for), small calls on the calling thread.
void add(long n, const float* a, const float* b, float* out);
void sub(long n, const float* a, const float* b, float* out);
void mul(long n, const float* a, const float* b, float* out);
void div(long n, const float* a, const float* b, float* out);
void scale(long n, const float* a, float s, float* out);      // out = s * a
void axpy(long n, float alpha, const float* x, float* y);     // y += alpha * x
void unary(int op, long n, const float* x, float* out);       // op: Unary code
// Accumulated in double in a fixed order, the same in every build and in the TS twin: 16
// interleaved partial sums (element i into partial i % 16) while 16 elements remain, combined as
// q[j] = (p[j] + p[4+j]) + (p[8+j] + p[12+j]), s = (q[0] + q[2]) + (q[1] + q[3]), then the rest
// added one by one. From 65536 elements on (kParallelThreshold), that per chunk of 16384, the
// chunk sums added in order. So sums agree bit for bit across backends, sizes and threads.
double sum(long n, const float* x);

// Activation over a flat array, split across the pool when large (activation.h is per-thread).
void activation_forward_parallel(int act, long n, const float* x, float* y, float alpha);
void activation_backward_parallel(int act, long n, const float* x, const float* y,
                                  const float* dy, float* dx, float alpha);

// M x N row-major matrices.
void add_bias(long M, long N, const float* x, const float* bias, float* out);  // out = x + bias[j]
// out[j] = sum_i x[i,j] (accumulated in double); accumulate: out[j] += instead of =.
void col_sum(long M, long N, const float* x, float* out, bool accumulate = false);
void row_sum(long M, long N, const float* x, float* out);                      // out[i] = sum_j x[i,j]

double mse_loss(long n, const float* pred, const float* target);               // mean (p - t)^2
void mse_backward(long n, const float* pred, const float* target, float* grad);  // 2 (p - t) / n

}  // namespace myelin
