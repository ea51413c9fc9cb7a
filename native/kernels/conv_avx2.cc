// The direct convolution loop (conv_direct.inc), the Winograd transforms and the max-pooling rows (pool_max.inc) for AVX2+FMA; conv.cc calls it after run-time dispatch.
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (conv.cc never calls it)
#include "conv_direct.h"
#include "conv_winograd.h"
#include "conv_fused.h"
namespace myelin {
namespace avx2 {
#define MYELIN_CONV_VL 8
#define MYELIN_CONV_OB 4
#define MYELIN_CONV_NV 3
#define MYELIN_CONV_DOB 3
#define MYELIN_CONV_DT 4
#define MYELIN_CONV_WACC 12
#define MYELIN_CONV_WMAXNO 2
#include "conv_direct.inc"
#include "conv_winograd.inc"
#include "pool_max.inc"
}  // namespace avx2
}  // namespace myelin
#endif
