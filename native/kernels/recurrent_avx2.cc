// LSTM/GRU row loops for AVX2+FMA (8 floats per vector; sigmoid and tanh from vecmath_avx2.h).
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (recurrent.cc never calls it)
#include <immintrin.h>

#include "recurrent.h"
#include "vecmath_avx2.h"

#define RNN_ISA avx2
#define RNN_VEC __m256
#define RNN_WIDTH 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSET(x) _mm256_set1_ps(x)
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VSUB(a, b) _mm256_sub_ps((a), (b))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VSIG(x) myelin::vm::sigmoid_ps(x)
#define VTANH(x) myelin::vm::tanh_ps(x)
#include "recurrent_loops.inc"
#endif
