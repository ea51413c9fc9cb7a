// LayerNorm row loops for AVX-512 (16 floats per vector; this unit builds with -mavx512f ... -mfma).
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (layer_norm.cc never calls it)
#include <immintrin.h>
#define LN_ISA avx512
#define LN_VEC __m512
#define LN_WIDTH 16
#define VOP(name) _mm512_##name
#include "layer_norm_loops.inc"
#endif
