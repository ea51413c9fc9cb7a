// The Winograd weight gradient's output-gradient transform (conv_winograd_dw.inc) for AVX2; conv_winograd_dw.cc calls it
// after run-time dispatch.
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (never called)
#include "conv_winograd_dw.h"
namespace myelin {
namespace avx2 {
#define MYELIN_WDW_VL 8
#include "conv_winograd_dw.inc"
}  // namespace avx2
}  // namespace myelin
#endif
