// Optimizer kernels for AVX2+FMA: sgd from the shared loops (vectorised by the compiler), adam
// and rmsprop from optim_vec.inc on 8-lane vectors.
#include "isa.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define MYELIN_OPTIM_VECTOR_STEPS 1
#define VF __m256
#define VW 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSET1(x) _mm256_set1_ps(x)
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VSQRT _mm256_sqrt_ps
#define VFMADD _mm256_fmadd_ps
#endif

namespace myelin {
namespace avx2 {
#include "optim_loops.inc"
#ifdef MYELIN_OPTIM_VECTOR_STEPS
#include "optim_vec.inc"
#endif
}  // namespace avx2
}  // namespace myelin
