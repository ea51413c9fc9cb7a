// Internal: AMX (Advanced Matrix Extensions: AMX-TILE, AMX-INT8, AMX-BF16; Intel Xeon 4th generation
// and later) for the low-precision GEMMs. qgemm.cc drives it; the tile loops (qgemm_amx.inc) are written
// once against a set of tile operations, instantiated with the instructions (qgemm_amx_avx512.cc) and with an
// emulator of them (qgemm_amx_emu.h, for the C++ tests on machines without AMX).
//
// Palette 1: 8 tile registers tmm0-7, each up to 16 rows of 64 bytes, shapes set by ldtilecfg. The
// kernels configure every tile as 16 x 64 bytes: C tiles 0-3 (a 2 x 2 block of 16 x 16 int32 / fp32
// sums), A tiles 4-5 (16 rows of 64 bytes: 64 int8 or 32 bf16 of k), B tiles 6-7 (16 rows of 64 bytes:
// row g holds 16 columns x 4 int8 of k group g, or x 2 bf16 of k pair g; exactly the packed weight layout
// of qgemm_kernels.h, so a B tile is 1 KiB of the packed weights read at stride 64).
//
// Layouts the AMX rows functions read (qgemm.cc packs them):
//   int8: I8Args::K4 is K rounded up to kKI8 (64); A row-major, row i at a + i * K4 bytes, zeros past K,
//         rows padded with zero rows to a multiple of kTileRows; W packed as qgemm_kernels.h with K4 bytes
//         per column (zeros past K and past N); corr nullptr (tdpbssd multiplies s8 by s8, no u8 shift).
//   bf16: Bf16Args::K2 is K rounded up to kKBf16 (32); A row-major at K2 bf16 per row, zeros past K, rows
//         padded to a multiple of kTileRows; W packed in 16-column blocks of k pairs with K2 per column.
#pragma once
#include <cstdint>

#include "qgemm_kernels.h"

namespace myelin {
namespace qgemm_amx {

constexpr int kTileRows = 16;   // rows of a tile (palette 1)
constexpr int kTileBytes = 64;  // bytes of a tile row (palette 1)
constexpr int kTiles = 8;       // tile registers (palette 1)
constexpr int kKI8 = 64;        // int8 k per tile row: K is padded to it
constexpr int kKBf16 = 32;      // bf16 k per tile row
constexpr int kBlockRows = 2 * kTileRows;  // rows per step of the kernels (two A tiles)

// The 64-byte memory operand of ldtilecfg: palette, start row, 14 reserved zero bytes, then per tile
// register (16 slots, 8 used by palette 1) its bytes per row and its rows.
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

// What this machine offers (qgemm_amx_support.cc, portable unit; the CPU probed once, the OS asked for
// the tile state once per process, thread-safe): int8 / bf16 true when the CPU reports AMX-TILE and
// AMX-INT8 / AMX-BF16 with palette 1 as above, the OS enables the tile state (XCR0) and, on Linux,
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) granted it; reason says why not otherwise.
struct Support {
  bool int8;
  bool bf16;
  const char* reason;  // "" when both are available
};
// The CPU and OS checks without asking for the permission (no system call).
const Support& cpu_support();
// cpu_support() and then the permission (requested the first time only).
const Support& support();

#if defined(__x86_64__) || defined(_M_X64)
// qgemm_amx_avx512.cc: true when it was compiled with the tile instructions (the compiler and assembler know
// them); when false, the rows functions below must not be called.
bool compiled();
// The rows of out (as I8Rows / Bf16Rows, layouts above) on the tile instructions, epilogue on AVX-512.
// Each call loads the tile configuration on its thread and releases it before returning. Call only when
// support() grants the type and compiled() is true.
void i8_rows(const qgemm_kernels::I8Args& args);
void bf16_rows(const qgemm_kernels::Bf16Args& args);
#endif

}  // namespace qgemm_amx
}  // namespace myelin
