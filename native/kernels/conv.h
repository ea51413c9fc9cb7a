// 2-d convolution and pooling on NCHW float tensors: forward and backward (im2col + myelin::gemm).
#pragma once
#include <cstdint>

namespace myelin {

// The geometry array every conv/pool kernel takes (int32, kConvGeomLen entries, in this order).
// Pooling ignores C, OC and groups (its planes are the N*C rows). Validated by conv_geometry().
enum ConvGeomIndex {
  kGeomC, kGeomH, kGeomW, kGeomOC, kGeomOH, kGeomOW, kGeomKH, kGeomKW,
  kGeomSH, kGeomSW, kGeomPH, kGeomPW, kGeomDH, kGeomDW, kGeomGroups, kConvGeomLen
};

// out[N,OC,OH,OW] = act(conv(X[N,C,H,W], W[OC,C/groups,KH,KW]) + bias[OC]) (bias nullable).
// inPlane = H*W, outPlane = OH*OW, kArea = C/groups*KH*KW: the sizes the binding checked the
// buffers against; the geometry must agree with them (else std::invalid_argument, nothing touched).
void conv2d_forward(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G,
                    const int32_t* geom, const float* X, const float* W, const float* bias, int act,
                    float alpha, float* out);

// conv2d_forward by Winograd F(2x2, 3x3) whatever the channel counts (conv2d_forward picks it for
// 3x3, stride-1, dilation-1 convolutions with enough channels); other geometries: std::invalid_argument.
void conv2d_winograd_forward(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G,
                             const int32_t* geom, const float* X, const float* W, const float* bias, int act,
                             float alpha, float* out);

// dW of conv2d_backward by Winograd F(2x2, 3x3) whatever the channel counts (conv2d_backward picks it for 3x3,
// stride-1, dilation-1 convolutions with enough channels; conv_winograd_dw.h); other geometries: std::invalid_argument.
void conv2d_winograd_weight_grad(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G,
                                 const int32_t* geom, const float* X, const float* dY, float* dW, bool accumulate);

// Gradients of conv2d_forward without activation, from dY[N,OC,OH,OW]: dX (nullable) is
// overwritten; dW and dB (both nullable) are overwritten, or added to when accumulate is true.
void conv2d_backward(int N, int C, int OC, long inPlane, long outPlane, long kArea, int G,
                     const int32_t* geom, const float* X, const float* W, const float* dY, float* dX,
                     float* dW, float* dB, bool accumulate);

// Max pooling over NC planes: out = max of each window (padding never wins), argmax = the index
// of the max within its input plane (-1 when a window holds only padding: out = -inf).
void max_pool2d_forward(int NC, long inPlane, long outPlane, long outTotal, int G,
                        const int32_t* geom, const float* X, float* out, int32_t* argmax);
// dX (NC planes, overwritten) = dY scattered to argmax (indices checked by the binding).
void max_pool2d_backward(int NC, long inPlane, long outPlane, long outTotal, const int32_t* argmax,
                         const float* dY, float* dX);

// Average pooling: the divisor is the window's size within the padded input clipped to the padded
// bounds (countIncludePad) or the number of real input elements it covers.
void avg_pool2d_forward(int NC, long inPlane, long outPlane, int G, const int32_t* geom,
                        bool countIncludePad, const float* X, float* out);
void avg_pool2d_backward(int NC, long inPlane, long outPlane, int G, const int32_t* geom,
                         bool countIncludePad, const float* dY, float* dX);

}  // namespace myelin
