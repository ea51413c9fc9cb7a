// LayerNorm row loops for AVX2+FMA (8 floats per vector).
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (layer_norm.cc never calls it)
#include <immintrin.h>
#define LN_ISA avx2
#define LN_VEC __m256
#define LN_WIDTH 8
#define VOP(name) _mm256_##name
#include "layer_norm_loops.inc"
#endif
