// CPU feature detection: AVX2+FMA or scalar, decided once (MYELIN_SIMD=scalar forces scalar).
#include "cpu.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace myelin {
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

SimdLevel detect() {
  const char* forced = std::getenv("MYELIN_SIMD");
  if (forced != nullptr && std::strcmp(forced, "scalar") == 0) return SimdLevel::Scalar;
  return cpu_has_avx2_fma() ? SimdLevel::Avx2 : SimdLevel::Scalar;
}

std::atomic<int>& level_slot() {
  static std::atomic<int> slot{static_cast<int>(detect())};
  return slot;
}

}  // namespace

SimdLevel simd_level() { return static_cast<SimdLevel>(level_slot().load(std::memory_order_relaxed)); }

const char* simd_name() { return simd_level() == SimdLevel::Avx2 ? "avx2" : "scalar"; }

void set_simd_level(SimdLevel level) {
  if (level == SimdLevel::Avx2 && !cpu_has_avx2_fma()) level = SimdLevel::Scalar;
  level_slot().store(static_cast<int>(level), std::memory_order_relaxed);
}

}  // namespace myelin
