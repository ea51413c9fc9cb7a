// Row-wise softmax, log-softmax, their backward passes and fused softmax cross-entropy.
#pragma once
#include <cstdint>

namespace myelin {

// x, out: M x N row-major; out may alias x. Stable for logits of magnitude 1e4 (max subtracted).
void softmax(long M, long N, const float* x, float* out);
void log_softmax(long M, long N, const float* x, float* out);
// dx = y * (dy - sum_j dy*y); y is the softmax output. dx may alias dy.
void softmax_backward(long M, long N, const float* y, const float* dy, float* dx);
// dx = dy - exp(y) * sum_j dy; y is the log-softmax output. dx may alias dy.
void log_softmax_backward(long M, long N, const float* y, const float* dy, float* dx);

// Returns the index of the first row whose label is outside [0, N), or -1 if all are valid.
long first_bad_label(long M, long N, const int32_t* labels);

// Mean over rows of -log softmax(logits)[label]. grad (nullable) = (softmax - onehot) / M;
// losses (nullable) = per-row loss. Labels must be valid (check with first_bad_label first).
double softmax_cross_entropy(long M, long N, const float* logits, const int32_t* labels,
                             float* grad, float* losses);

}  // namespace myelin
