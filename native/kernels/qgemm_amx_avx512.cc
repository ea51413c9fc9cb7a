// The AMX rows of the int8 and bf16 GEMMs: qgemm_amx.inc's tile loops on the instructions, epilogue on
// AVX-512 (qgemm_avx512.cc's, shared with the VNNI tiles). Built in the AVX-512 unit list; qgemm.cc calls
// it only when qgemm_amx::support() grants the type (CPU, OS, arch_prctl permission).
//
// The tile operations are qgemm_amx_hw.h's inline assembly.
#include "qgemm_amx.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "qgemm_amx_hw.h"

namespace myelin {
namespace qgemm_amx {

#ifdef MYELIN_AMX_ASM
namespace {

#include "qgemm_amx.inc"

}  // namespace

bool compiled() { return true; }

void i8_rows(const qgemm_kernels::I8Args& args) { amx_tiles::i8_rows<qgemm_amx_hw::Ops>(args, qgemm_kernels::i8_epilogue_avx512); }

void bf16_rows(const qgemm_kernels::Bf16Args& args) {
  amx_tiles::bf16_rows<qgemm_amx_hw::Ops>(args, qgemm_kernels::bf16_epilogue_avx512);
}

#else

bool compiled() { return false; }
void i8_rows(const qgemm_kernels::I8Args&) { std::abort(); }
void bf16_rows(const qgemm_kernels::Bf16Args&) { std::abort(); }

#endif

}  // namespace qgemm_amx
}  // namespace myelin

#endif
