// Whether the AMX path can run here (qgemm_amx.h): the CPU's AMX features and palette, the OS's tile
// state, and on Linux the per-process permission for it. Portable unit: it runs before anything knows
// the CPU has AVX-512.
//
// Linux (5.16 and later) enables the tile data state (XFEATURE_XTILEDATA, 8 KiB per thread) only for
// processes that ask: arch_prctl(ARCH_REQ_XCOMP_PERM, 18); a tile instruction before that raises SIGILL.
// The permission is per process (every thread, including the pool's existing ones, has it once granted;
// the kernel refuses with ENOSPC if a thread's sigaltstack cannot hold the larger signal frame); it is
// asked for once, the first time the AMX path would be chosen, and checked with ARCH_GET_XCOMP_PERM.
#include "qgemm_amx.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "../runtime/cpu.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__linux__) && (defined(__x86_64__) || defined(_M_X64))
#define MYELIN_AMX_ARCH_PRCTL 1
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace myelin {
namespace qgemm_amx {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
constexpr unsigned kAmxBf16 = 1u << 22, kAmxTile = 1u << 24, kAmxInt8 = 1u << 25;  // CPUID.(7,0):EDX
constexpr unsigned kXcr0Tile = (1u << 17) | (1u << 18);                               // XTILECFG, XTILEDATA

std::string probe_cpu(bool* int8, bool* bf16) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 0x1d || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || (d & kAmxTile) == 0) {
    return "this CPU has no AMX (CPUID: no AMX-TILE)";
  }
  const bool has_int8 = (d & kAmxInt8) != 0, has_bf16 = (d & kAmxBf16) != 0;
  if (!has_int8 && !has_bf16) return "this CPU has AMX-TILE but neither AMX-INT8 nor AMX-BF16";
  // The OS must manage the tile state (XCR0 bits 17, 18).
  const unsigned xcr0 = os_xsave_mask();
  if (xcr0 == 0) return "the OS does not enable XSAVE (OSXSAVE)";
  if ((xcr0 & kXcr0Tile) != kXcr0Tile) return "the OS does not enable the AMX tile state (XCR0 bits 17, 18)";
  // Palette 1 as the kernels assume (CPUID leaf 0x1D): 1024 bytes per tile, 64 per row, 8 tiles, 16 rows.
  if (!__get_cpuid_count(0x1d, 0, &a, &b, &c, &d) || a < 1) return "the CPU reports no tile palette 1 (CPUID 0x1D)";
  __get_cpuid_count(0x1d, 1, &a, &b, &c, &d);
  const unsigned bytes_per_tile = a >> 16, bytes_per_row = b & 0xffffu, names = b >> 16, max_rows = c & 0xffffu;
  if (bytes_per_row != static_cast<unsigned>(kTileBytes) || names < static_cast<unsigned>(kTiles) ||
      max_rows < static_cast<unsigned>(kTileRows) || bytes_per_tile < static_cast<unsigned>(kTileBytes * kTileRows)) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "tile palette 1 is %u tiles of %u rows x %u bytes, not 8 x 16 x 64", names, max_rows,
                  bytes_per_row);
    return msg;
  }
  // The TMUL unit (CPUID leaf 0x1E): a B tile of 16 rows (K) of 64 bytes (N) must be allowed.
  if (__get_cpuid_max(0, nullptr) < 0x1e || !__get_cpuid_count(0x1e, 0, &a, &b, &c, &d) || (b & 0xffu) < 16u ||
      ((b >> 8) & 0xffffu) < 64u) {
    return "the CPU's TMUL unit (CPUID 0x1E) does not take 16 x 64-byte B tiles";
  }
  *int8 = has_int8;
  *bf16 = has_bf16;
  return has_int8 && has_bf16 ? "" : has_int8 ? "this CPU has no AMX-BF16" : "this CPU has no AMX-INT8";
}
#endif

struct Probe {
  Support s{false, false, ""};
  std::string reason;
  Probe() {
#if defined(__x86_64__) || defined(_M_X64)
    reason = probe_cpu(&s.int8, &s.bf16);
    if (s.int8 && !compiled()) {
      s.int8 = s.bf16 = false;
      reason = "this build has no AMX kernels (compiler older than GCC 11 / clang 12)";
    }
#else
    reason = "AMX exists on x86-64 only";
#endif
    s.reason = reason.c_str();
  }
};

const Probe& cpu_probe() {
  static const Probe p;
  return p;
}

// The permission, asked for once (the CPU check passed).
struct Permission {
  Support s{false, false, ""};
  std::string reason;
  Permission() {
    const Probe& p = cpu_probe();
    s = p.s;
    reason = p.reason;
    if (!s.int8 && !s.bf16) {
      s.reason = reason.c_str();
      return;
    }
#if defined(MYELIN_AMX_ARCH_PRCTL)
    constexpr long kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
      const int err = errno;
      reason = std::string("the OS refused the AMX tile state: arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): ") +
               std::strerror(err) +
               (err == EINVAL ? " (Linux before 5.16?)"
                : err == ENOSPC ? " (a thread's alternate signal stack is too small for the tile state)" : "");
      s.int8 = s.bf16 = false;
    } else {
      unsigned long mask = 0;
      if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &mask) != 0 || (mask & (1ul << kXfeatureXtiledata)) == 0) {
        reason = "arch_prctl(ARCH_GET_XCOMP_PERM) does not list XFEATURE_XTILEDATA after the request";
        s.int8 = s.bf16 = false;
      }
    }
#endif
    // Other systems with XCR0 bits 17 and 18 set (checked above) give every process the tile state.
    s.reason = reason.c_str();
  }
};

}  // namespace

const Support& cpu_support() { return cpu_probe().s; }

const Support& support() {
  static const Permission p;
  return p.s;
}

}  // namespace qgemm_amx
}  // namespace myelin
