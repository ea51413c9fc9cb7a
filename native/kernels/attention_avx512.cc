// Fused attention loops for AVX-512 (16 floats per vector, 4 vectors per key tile: 64 keys).
#if defined(__x86_64__) || defined(_M_X64)  // elsewhere this unit is empty (attention.cc never calls it)
#include <immintrin.h>
// GCC 12 reports its own _mm512_undefined_* placeholders inside _mm512_min_ps / max_ps / casts as
// uninitialised (a false positive of the headers, not of this code).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define ATT_ISA avx512
#define ATT_VEC __m512
#define ATT_IVEC __m512i
#define ATT_WIDTH 16
#define ATT_NV 4
#define VOP(name) _mm512_##name
#define VCASTI _mm512_castps_si512
#define VCASTF _mm512_castsi512_ps
#include "attention_loops.inc"
#endif
