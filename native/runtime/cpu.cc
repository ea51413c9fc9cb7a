// CPU feature detection: AVX-512, AVX2+FMA or scalar, decided once (MYELIN_SIMD=avx2|scalar caps it;
// MYELIN_SIMD=avx512 keeps AVX-512 but turns the AMX tiles off).
#include "cpu.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace myelin {

unsigned os_xsave_mask() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & (1u << 27)) == 0) return 0;  // OSXSAVE
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ __volatile__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  return xcr0_lo;
#else
  return 0;
#endif
}

namespace {

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports also requires the OS to save the ymm state (xgetbv).
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  if (!cpu_has_avx2_fma()) return false;
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl") ||
      !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512bw")) {
    return false;
  }
  // The OS must save the opmask and zmm state: XCR0 bits 1,2 (sse, ymm) and 5,6,7 (k, zmm lo/hi).
  return (os_xsave_mask() & 0xE6u) == 0xE6u;
#else
  return false;
#endif
}

SimdLevel supported() {
  if (cpu_has_avx512()) return SimdLevel::Avx512;
  return cpu_has_avx2_fma() ? SimdLevel::Avx2 : SimdLevel::Scalar;
}

SimdLevel detect() {
  const SimdLevel best = supported();
  const char* forced = std::getenv("MYELIN_SIMD");
  if (forced != nullptr && std::strcmp(forced, "scalar") == 0) return SimdLevel::Scalar;
  if (forced != nullptr && std::strcmp(forced, "avx2") == 0 && best == SimdLevel::Avx512) {
    return SimdLevel::Avx2;
  }
  return best;
}

std::atomic<int>& level_slot() {
  static std::atomic<int> slot{static_cast<int>(detect())};
  return slot;
}

std::atomic<bool>& amx_slot() {
  static std::atomic<bool> slot{[] {
    const char* forced = std::getenv("MYELIN_SIMD");
    return forced == nullptr || forced[0] == '\0' || std::strcmp(forced, "amx") == 0;
  }()};
  return slot;
}

}  // namespace

bool amx_allowed() { return gemm_simd_level() == SimdLevel::Avx512 && amx_slot().load(std::memory_order_relaxed); }

void set_amx_allowed(bool allowed) { amx_slot().store(allowed, std::memory_order_relaxed); }

SimdLevel gemm_simd_level() {
  return static_cast<SimdLevel>(level_slot().load(std::memory_order_relaxed));
}

const char* gemm_simd_name() {
  switch (gemm_simd_level()) {
    case SimdLevel::Avx512: return "avx512";
    case SimdLevel::Avx2: return "avx2";
    default: return "scalar";
  }
}

SimdLevel vector_simd_level() { return gemm_simd_level(); }

SimdLevel simd_level() {
  const SimdLevel level = gemm_simd_level();
  return level == SimdLevel::Avx512 ? SimdLevel::Avx2 : level;
}

const char* simd_name() { return simd_level() == SimdLevel::Avx2 ? "avx2" : "scalar"; }

void set_simd_level(SimdLevel level) {
  const SimdLevel best = supported();
  if (static_cast<int>(level) > static_cast<int>(best)) level = best;
  level_slot().store(static_cast<int>(level), std::memory_order_relaxed);
}

}  // namespace myelin
