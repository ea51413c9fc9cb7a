// Normalisation kernels: per-channel batch statistics, BatchNorm forward/backward, per-channel affine.
#pragma once

namespace myelin {

// x is [N, C, S] row-major (S spatial positions per channel; S = 1 for [N, C]). Statistics are
// accumulated in double (two passes: mean, then squared deviations). weight and bias may be null.
// Writes mean[C], var[C] (biased), invstd[C] = 1 / sqrt(var + eps), and
// out = (x - mean) * invstd * weight + bias. out may alias x.
void batch_norm_forward(long N, long C, long S, const float* x, const float* weight, const float* bias,
                        float eps, float* out, float* mean, float* var, float* invstd);

// Backward of batch_norm_forward (training true) or of the fixed-statistics affine map (training
// false). dweight = sum dy*xhat, dbias = sum dy per channel; dx, dweight, dbias may each be null.
// Outputs are overwritten; dx may alias dy.
void batch_norm_backward(long N, long C, long S, const float* x, const float* mean, const float* invstd,
                         const float* weight, const float* dy, bool training, float* dx, float* dweight,
                         float* dbias);

// out[n, c, s] = x[n, c, s] * scale[c] + shift[c] (shift may be null). out may alias x.
void channel_affine(long N, long C, long S, const float* x, const float* scale, const float* shift, float* out);

}  // namespace myelin
