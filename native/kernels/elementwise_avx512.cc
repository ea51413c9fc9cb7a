// Elementwise kernels for AVX-512 (F/VL/DQ/BW): the shared loops compiled for AVX-512 (the
// compiler uses zmm registers), vector exp and sqrt with masked tails. The reductions (sum,
// sum_sq_diff, col_sum_acc) have no AVX-512 variant: the dispatcher runs the AVX2 ones (isa.h).
#include <math.h>

#include "elementwise.h"
#include "isa.h"
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (see avx2_absent.cc)
#include "vecmath_avx512.h"

namespace myelin {
namespace avx512 {

static void exp_array(long n, const float* x, float* out) {
  long i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, vm512::exp_ps(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = vm512::tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, vm512::exp_ps(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

static void sqrt_array(long n, const float* x, float* out) {
  long i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_sqrt_ps(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = vm512::tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_sqrt_ps(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

#include "elementwise_loops.inc"

}  // namespace avx512
}  // namespace myelin
#endif  // x86-64
