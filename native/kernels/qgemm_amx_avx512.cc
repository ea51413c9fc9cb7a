// The AMX rows of the int8 and bf16 GEMMs: qgemm_amx.inc's tile loops on the instructions, epilogue on
// AVX-512 (qgemm_avx512.cc's, shared with the VNNI tiles). Built in the AVX-512 unit list; qgemm.cc calls
// it only when qgemm_amx::support() grants the type (CPU, OS, arch_prctl permission).
//
// The tile operations are inline assembly with "memory" clobbers rather than GCC's <amxtileintrin.h>:
// GCC 12's _tile_loadd / _tile_stored / _tile_loadconfig tell the compiler neither that they read or write
// the memory at their pointer nor (ldtilecfg) all 64 bytes of the configuration, so a store to the A
// buffer could be moved past a tile load, or a read of the sums before the tile store. Only the assembler
// needs to know AMX (GNU as 2.35 and later, LLVM 12 and later); no -mamx-* flag is needed. The tile
// register is spelled from a template constant ("%c" prints it bare). Compilers older than GCC 11 /
// clang 12 (whose assemblers may predate AMX) build the stubs at the end instead.
#include "qgemm_amx.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <algorithm>
#include <cstdlib>
#include <cstring>

#if (defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11)
#define MYELIN_AMX_ASM 1
#endif

namespace myelin {
namespace qgemm_amx {

#ifdef MYELIN_AMX_ASM
namespace {

#include "qgemm_amx.inc"

// The instructions (AT&T operand order: sources first, the destination tile last).
struct HwOps {
  static void config(const TileConfig* cfg) { __asm__ __volatile__("ldtilecfg %0" : : "m"(*cfg) : "memory"); }
  static void release() { __asm__ __volatile__("tilerelease" : : : "memory"); }
  template <int T>
  static void zero() {
    __asm__ __volatile__("tilezero %%tmm%c0" : : "n"(T));
  }
  template <int T>
  static void load(const void* base, long stride) {
    __asm__ __volatile__("tileloadd (%0,%1,1), %%tmm%c2" : : "r"(base), "r"(stride), "n"(T) : "memory");
  }
  template <int T>
  static void store(void* base, long stride) {
    __asm__ __volatile__("tilestored %%tmm%c2, (%0,%1,1)" : : "r"(base), "r"(stride), "n"(T) : "memory");
  }
  template <int C, int A, int B>
  static void dpbssd() {
    __asm__ __volatile__("tdpbssd %%tmm%c2, %%tmm%c1, %%tmm%c0" : : "n"(C), "n"(A), "n"(B));
  }
  template <int C, int A, int B>
  static void dpbf16ps() {
    __asm__ __volatile__("tdpbf16ps %%tmm%c2, %%tmm%c1, %%tmm%c0" : : "n"(C), "n"(A), "n"(B));
  }
};

}  // namespace

bool compiled() { return true; }

void i8_rows(const qgemm_kernels::I8Args& args) { amx_tiles::i8_rows<HwOps>(args, qgemm_kernels::i8_epilogue_avx512); }

void bf16_rows(const qgemm_kernels::Bf16Args& args) {
  amx_tiles::bf16_rows<HwOps>(args, qgemm_kernels::bf16_epilogue_avx512);
}

#else

bool compiled() { return false; }
void i8_rows(const qgemm_kernels::I8Args&) { std::abort(); }
void bf16_rows(const qgemm_kernels::Bf16Args&) { std::abort(); }

#endif

}  // namespace qgemm_amx
}  // namespace myelin

#endif
