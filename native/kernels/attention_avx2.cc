// Fused attention loops for AVX2+FMA (8 floats per vector, 2 vectors per key tile: 16 keys).
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (attention.cc never calls it)
#include <immintrin.h>
#define ATT_ISA avx2
#define ATT_VEC __m256
#define ATT_IVEC __m256i
#define ATT_WIDTH 8
#define ATT_NV 2
#define VOP(name) _mm256_##name
#define VCASTI _mm256_castps_si256
#define VCASTF _mm256_castsi256_ps
#include "attention_loops.inc"
#endif
