// The direct convolution loop (conv_direct.inc) for AVX2+FMA; conv.cc calls it after run-time dispatch.
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (conv.cc never calls it)
#include "conv_direct.h"
namespace myelin {
namespace avx2 {
#include "conv_direct.inc"
}  // namespace avx2
}  // namespace myelin
#endif
