// Internal: the weight gradient of a 3x3 stride-1 dilation-1 convolution by Winograd F(2x2, 3x3), the adjoint
// of conv_winograd.h's forward. Per 2x2 output tile t: V_t = B^T d_t B of its 4x4 input patch (the forward's
// input transform), dM_t = A dY_t A^T of its 2x2 output gradient (zero past the output's edge); per transform
// point p, dU_p[o][c] = sum over tiles of dM_t[p][o] V_t[p][c] (16 GEMMs over the tiles, myelin::gemm, K = the
// tiles: long sums at the FMA rate); finally dW[o][c] = G^T dU[o][c] G. 2.25x fewer multiply-adds than the
// direct weight gradient. The twin is conv2dWinogradWeightGrad in lib/backend/js/conv-backward.ts.
//   A = [1 0; 1 1; 1 -1; 0 -1] (4x2), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
#pragma once

#include "conv_winograd.h"

namespace myelin {

// Floats of one task's dU for `groups` groups (16 * outC * inC each, laid out [grp][p][o][c]).
inline long winograd_dw_size(int groups, int outC, int inC) { return winograd_weights_size(groups, outC, inC); }

// dU (overwritten when fresh, else added to) from images [first, last) of a batch: x (image stride xImage
// floats, group grp at + grp * inC * H * W) and dy (stride yImage, group at + grp * outC * OH * OW), in the
// forward's shape s. Single-threaded (the caller splits the images and sums the tasks' dU).
void winograd_dw_accumulate(const WinoShape& s, int groups, int first, int last, const float* x, long xImage, const float* dy,
                            long yImage, float* dU, bool fresh);

// dW [groups*outC, inC, 3, 3] = G^T dU G per (output, input) channel pair, overwritten, or added to with accumulate.
void winograd_dw_finish(int groups, int outC, int inC, const float* dU, float* dW, bool accumulate);

// dW [groups*outC, inC, 3, 3] (overwritten, or added to with accumulate) of the convolution of shape s over N images,
// the images split across the thread pool (one dU per task, summed in task order: the bits depend on the thread
// count, as the direct weight gradient's do).
void winograd_weight_grad(const WinoShape& s, int groups, int N, const float* x, long xImage, const float* dy, long yImage,
                          float* dW, bool accumulate);

// The output-gradient transform of one plane (conv_winograd_dw.inc, per ISA): dm[p*ps + t] = (A dY_t A^T)[p] for
// the tH x tW tiles of the OH x OW plane dy; scratch holds wino_dw_scratch(tH, tW) floats; dm's rows take up to
// 16 floats of slack past tH*tW.
inline long wino_dw_scratch(int tH, int tW) { return 4L * ((static_cast<long>(tH) * tW + 15) / 16 * 16 + 16); }
#define MYELIN_DECLARE_WINO_DW void wino_dw_output_grad_plane(int OH, int OW, int tH, int tW, const float* dy, float* dm, long ps, float* scratch);
namespace scalar { MYELIN_DECLARE_WINO_DW }
namespace avx2 { MYELIN_DECLARE_WINO_DW }
namespace avx512 { MYELIN_DECLARE_WINO_DW }

}  // namespace myelin
