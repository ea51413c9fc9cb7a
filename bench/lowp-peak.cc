// Single-core peak rates of the instructions the low-precision kernels are built on, to put the lowp figures
// in proportion: float32 FMA (vfmadd231ps zmm: 16 multiply-adds), int8 vpdpbusd zmm (64 multiply-adds) and
// bf16 vdpbf16ps zmm (32 multiply-adds), each as 24 independent accumulator chains (the kernels' tile size),
// written as inline asm (the intrinsics made GCC 12 copy each accumulator before every vpdpbusd).
// Prints multiply-adds per nanosecond of CPU time for each.
//
//   g++ -O2 -mavx512f -mavx512vnni -mavx512bf16 -o /tmp/lowp-peak bench/lowp-peak.cc && /tmp/lowp-peak
#include <immintrin.h>

#include <cstdio>
#include <ctime>

namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

template <class Step>
double rate(const char* name, int macsPerInstr, Step step) {
  const long iters = 20000000;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = cpu_seconds();
    const float sink = step(iters);
    const double t = cpu_seconds() - t0;
    const double r = 24.0 * iters * macsPerInstr / t * 1e-9;
    if (r > best) best = r;
    if (sink == 12345.0f) std::printf("!");
  }
  std::printf("%-22s %8.1f multiply-adds/ns (%.2f instructions/ns)\n", name, best, best / macsPerInstr);
  return best;
}

// 24 accumulators as separate variables (an array would live in memory around inline asm).
#define DECL24(T, INIT) T a0 = INIT(0), a1 = INIT(1), a2 = INIT(2), a3 = INIT(3), a4 = INIT(4), a5 = INIT(5), a6 = INIT(6), \
  a7 = INIT(7), a8 = INIT(8), a9 = INIT(9), a10 = INIT(10), a11 = INIT(11), a12 = INIT(12), a13 = INIT(13), a14 = INIT(14),    \
  a15 = INIT(15), a16 = INIT(16), a17 = INIT(17), a18 = INIT(18), a19 = INIT(19), a20 = INIT(20), a21 = INIT(21),              \
  a22 = INIT(22), a23 = INIT(23)
#define ONE(OP, A) __asm__(OP " %1, %2, %0" : "+v"(A) : "v"(y), "v"(x));
#define STEP24(OP) ONE(OP, a0) ONE(OP, a1) ONE(OP, a2) ONE(OP, a3) ONE(OP, a4) ONE(OP, a5) ONE(OP, a6) ONE(OP, a7) \
  ONE(OP, a8) ONE(OP, a9) ONE(OP, a10) ONE(OP, a11) ONE(OP, a12) ONE(OP, a13) ONE(OP, a14) ONE(OP, a15) ONE(OP, a16)    \
  ONE(OP, a17) ONE(OP, a18) ONE(OP, a19) ONE(OP, a20) ONE(OP, a21) ONE(OP, a22) ONE(OP, a23)
#define SUM24(ADD) ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(ADD(a0, a1), a2), a3), a4), \
  a5), a6), a7), a8), a9), a10), a11), a12), a13), a14), a15), a16), a17), a18), a19), a20), a21), a22), a23)

#define PS(i) _mm512_set1_ps(1.0f + (i))
#define EPI(i) _mm512_set1_epi32(i)

__attribute__((noinline)) float fma_loop(long n) {
  DECL24(__m512, PS);
  __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-7f);
  for (long k = 0; k < n; ++k) {
    STEP24("vfmadd231ps")
    __asm__ volatile("" : "+v"(x));
  }
  return _mm512_reduce_add_ps(SUM24(_mm512_add_ps));
}

__attribute__((noinline)) float vnni_loop(long n) {
  DECL24(__m512i, EPI);
  __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
  for (long k = 0; k < n; ++k) {
    STEP24("vpdpbusd")
    __asm__ volatile("" : "+v"(x));
  }
  return static_cast<float>(_mm512_reduce_add_epi32(SUM24(_mm512_add_epi32)));
}

__attribute__((noinline)) float bf16_loop(long n) {
  DECL24(__m512, PS);
  __m512i x = _mm512_set1_epi16(0x3f80), y = _mm512_set1_epi16(0x3380);
  for (long k = 0; k < n; ++k) {
    STEP24("vdpbf16ps")
    __asm__ volatile("" : "+v"(x));
  }
  return _mm512_reduce_add_ps(SUM24(_mm512_add_ps));
}

}  // namespace

int main() {
  const double f = rate("fp32 vfmadd231ps zmm", 16, fma_loop);
  const double v = rate("int8 vpdpbusd zmm", 64, vnni_loop);
  const double b = rate("bf16 vdpbf16ps zmm", 32, bf16_loop);
  std::printf("int8 / fp32 peak: %.2fx, bf16 / fp32 peak: %.2fx\n", v / f, b / f);
  return 0;
}
