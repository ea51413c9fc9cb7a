// Internal (norm.cc and norm_avx2.cc): the per-span loops of the normalisation kernels, AVX2+FMA variants (x86-64 only).
#pragma once

namespace myelin {
namespace norm_avx2 {

// Spans of S contiguous floats; sums in double (four 4-wide double accumulators).
double span_sum(const float* p, long S);
double span_sq_dev(const float* p, long S, double m);
void span_grad_sums(const float* x, const float* dy, long S, double m, double* s_dy, double* s_dyx);
// out = (x - m) * a + b
void span_normalise(const float* x, long S, float m, float a, float b, float* out);
// dx = dy * a + (x - m) * b + k
void span_dx(const float* dy, const float* x, long S, float a, float m, float b, float k, float* dx);

}  // namespace norm_avx2
}  // namespace myelin
