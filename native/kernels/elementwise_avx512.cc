// Elementwise kernels for AVX-512 (F/VL/DQ/BW): the shared loops compiled for AVX-512 (the
// compiler uses zmm registers), vector exp and sqrt with masked tails. elementwise.cc dispatches
// only unary exp here (1.2-1.4x AVX2 on Zen 4); the streaming loops measured no faster (0.7-1.06x)
// and run at AVX2, as do the reductions (fixed summation order, elementwise.h).
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
