// Optimizer kernels for AVX-512: sgd from the shared loops (vectorised by the compiler on zmm
// registers), adam and rmsprop from optim_vec.inc on 16-lane vectors (bit-identical to AVX2's).
#include "isa.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define MYELIN_OPTIM_VECTOR_STEPS 1
#define VF __m512
#define VW 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VDIV _mm512_div_ps
#define VSQRT _mm512_sqrt_ps
#define VFMADD _mm512_fmadd_ps

namespace myelin {
namespace avx512 {
#include "optim_loops.inc"
#include "optim_vec.inc"
}  // namespace avx512
}  // namespace myelin
#endif  // x86-64
