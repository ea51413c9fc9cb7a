// CPU feature detection: picks the SIMD level once, at first use.
#pragma once

namespace myelin {

enum class SimdLevel { Scalar = 0, Avx2 = 1 };

// AVX2+FMA when the CPU (and OS) supports it and MYELIN_SIMD is not "scalar"; else Scalar.
SimdLevel simd_level();
const char* simd_name();  // "avx2" or "scalar"

// Overrides the level for the whole process (tests and benchmarks compare both paths). A level the
// CPU lacks is clamped to what it supports. Kernels read simd_level() on every call.
void set_simd_level(SimdLevel level);

}  // namespace myelin
