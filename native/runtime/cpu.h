// CPU feature detection: picks the SIMD level once, at first use.
#pragma once

namespace myelin {

// Ordered: a higher level implies the lower ones are usable.
enum class SimdLevel { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// The baseline vector level (info().simd): AVX2+FMA when the CPU (and OS) supports it and
// MYELIN_SIMD is not "scalar"; else Scalar. Never Avx512 (a CPU at Avx512 reports Avx2 here).
SimdLevel simd_level();
const char* simd_name();  // "avx2" or "scalar"

// Level of the elementwise, activation, softmax and optimiser kernels, which have AVX-512 variants
// for some kernels (kernels/isa.h): the same as gemm_simd_level().
SimdLevel vector_simd_level();

// Level of the GEMM and LayerNorm kernels: additionally Avx512 (AVX-512 F/VL/DQ/BW with the OS saving the zmm
// state) unless MYELIN_SIMD is "avx2" or "scalar".
SimdLevel gemm_simd_level();
const char* gemm_simd_name();  // "avx512", "avx2" or "scalar"

// Whether the AMX tiles (the int8 / bf16 GEMMs' path above AVX-512, qgemm.h) may be used: at GEMM level
// avx512, unless MYELIN_SIMD names a level ("avx512", "avx2", "scalar" turn AMX off; unset or "amx" allow
// it). set_amx_allowed overrides it for the process (tests and benchmarks).
bool amx_allowed();
void set_amx_allowed(bool allowed);

// XCR0's low 32 bits (the state components the OS saves and restores), or 0 when the OS does not enable
// XSAVE (CPUID.1:ECX.OSXSAVE; XCR0 always has bit 0 when it does) and on other architectures.
unsigned os_xsave_mask();

// Overrides the level for the whole process (tests and benchmarks compare the paths). A level the
// CPU lacks is clamped to what it supports. Kernels read the level on every call.
void set_simd_level(SimdLevel level);

}  // namespace myelin
