// Internal: the AMX tile operations as instructions (qgemm_amx.inc's Ops), for qgemm_amx_avx512.cc and
// for native/tests/amx_test.cc, which checks the bytes they assemble to against the SDM's encodings
// (the one property of this file that the emulator cannot check). x86-64 only; in an anonymous namespace
// so that no inline code is shared between units built with different ISA flags.
//
// The tile operations are inline assembly with "memory" clobbers rather than GCC's <amxtileintrin.h>:
// GCC 12's _tile_loadd / _tile_stored / _tile_loadconfig tell the compiler neither that they read or write
// the memory at their pointer nor (ldtilecfg) all 64 bytes of the configuration, so a store to the A
// buffer could be moved past a tile load, or a read of the sums before the tile store. Only the assembler
// needs to know AMX (GNU binutils 2.36 and later, LLVM 12 and later); no -mamx-* flag is needed. The tile
// register is spelled from a template constant ("%c" prints it bare). Compilers older than GCC 11 /
// clang 12 (whose assemblers may predate AMX) leave MYELIN_AMX_ASM undefined and get no Ops.
#pragma once

#if (defined(__x86_64__) || defined(_M_X64)) && \
    ((defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define MYELIN_AMX_ASM 1

#include "qgemm_amx.h"

namespace myelin {
namespace qgemm_amx_hw {
namespace {

// AT&T operand order: sources first, the destination tile last.
struct Ops {
  static void config(const qgemm_amx::TileConfig* cfg) { __asm__ __volatile__("ldtilecfg %0" : : "m"(*cfg) : "memory"); }
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
}  // namespace qgemm_amx_hw
}  // namespace myelin

#endif
