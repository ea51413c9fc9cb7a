// Optimizer kernels for AVX2+FMA: the shared fused loops, vectorised by the compiler for AVX2.
#include "isa.h"

namespace myelin {
namespace avx2 {
#include "optim_loops.inc"
}  // namespace avx2
}  // namespace myelin
