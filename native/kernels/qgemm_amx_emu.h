// An emulator of the AMX instructions the tile loops use (qgemm_amx.inc's Ops), written from Intel's
// documented semantics (Intel 64 and IA-32 Architectures Software Developer's Manual, vol. 2, LDTILECFG,
// TILELOADD, TILESTORED, TILEZERO, TILERELEASE, TDPBSSD, TDPBF16PS, and the palette 1 limits of CPUID leaf
// 0x1D), so that the kernels can be tested on CPUs without AMX. Used by native/tests only (not built into
// the addon). The tile state is per thread, as the hardware's is; every check the hardware makes that
// the kernels could break (an unconfigured or invalid tile, shapes that disagree, a bad configuration)
// throws std::logic_error here where the hardware raises #UD or #GP.
//
// Semantics:
// - LDTILECFG: palette 0 releases (as TILERELEASE); palette 1 allows 8 tiles of rows <= 16 and colsb
//   <= 64 (rows and colsb both zero for an unused tile, and for slots 8-15), reserved bytes zero; every
//   tile's data is zeroed. (start_row, only set by an interrupted TILELOADD, must be 0 here.)
// - TILELOADD t, [base + stride * r]: rows r < t.rows get t.colsb bytes from base + r * stride; the rest
//   of each row and the rows past t.rows become zero. TILESTORED writes t.rows rows of t.colsb bytes.
// - TDPBSSD c, a, b: with K = a.colsb / 4 (it must equal b.rows), c.rows == a.rows, c.colsb == b.colsb:
//   c[m][n] += sum over k < K of the 4-byte dot product of signed bytes a.row[m].dword[k] and
//   b.row[k].dword[n], in int32 (wrapping).
// - TDPBF16PS c, a, b (same shapes, pairs of bf16 instead of 4 bytes): as the SDM's pseudocode, per
//   element two fp32 accumulators start at 0, the even one takes a.bf16[2k] * b.bf16[2n] and the odd one
//   a.bf16[2k+1] * b.bf16[2n+1] for k = 0, 1, ... (each a fused multiply-add, so the exact product of two
//   bf16 is rounded once with the sum), then c = (c + even) + odd. Every operation rounds to nearest even
//   and ignores MXCSR; bf16 inputs that are denormal and a denormal c are read as zero (DAZ), and a result
//   below the smallest normal float is flushed to zero of its sign (FTZ).
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "qgemm_amx.h"

namespace myelin {
namespace amx_emu {

struct Tile {
  int rows = 0, colsb = 0;
  uint8_t data[16][64] = {};
};

struct State {
  bool configured = false;
  Tile t[qgemm_amx::kTiles];
};

inline State& state() {
  static thread_local State s;
  return s;
}

// Threads whose tile state is configured now (a kernel that forgets TILERELEASE leaves it above 0).
inline std::atomic<int>& configured_threads() {
  static std::atomic<int> n{0};
  return n;
}

[[noreturn]] inline void fault(const std::string& what) { throw std::logic_error("AMX emulator: " + what); }

inline float f32_of_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint32_t bits_of_f32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// DAZ: a denormal reads as zero of its sign.
inline float daz(float x) { return (bits_of_f32(x) & 0x7f800000u) == 0 ? std::copysign(0.0f, x) : x; }
// FTZ: a denormal result becomes zero of its sign.
inline float ftz(float x) { return daz(x); }
inline float f32_of_bf16(uint16_t h) { return daz(f32_of_bits(static_cast<uint32_t>(h) << 16)); }

struct Ops {
  static void config(const qgemm_amx::TileConfig* cfg) {
    uint8_t raw[64];
    std::memcpy(raw, cfg, 64);
    if (raw[0] == 0) {
      release();
      return;
    }
    if (raw[0] != 1) fault("ldtilecfg: palette " + std::to_string(raw[0]) + " (only 0 and 1 exist)");
    if (raw[1] != 0) fault("ldtilecfg: start_row must be 0");
    for (int i = 2; i < 16; ++i) {
      if (raw[i] != 0) fault("ldtilecfg: reserved byte " + std::to_string(i) + " is not zero");
    }
    State next;
    for (int t = 0; t < 16; ++t) {
      const int colsb = raw[16 + 2 * t] | (raw[17 + 2 * t] << 8);
      const int rows = raw[48 + t];
      if (t >= qgemm_amx::kTiles && (colsb != 0 || rows != 0)) fault("ldtilecfg: tile " + std::to_string(t) + " does not exist in palette 1");
      if (t >= qgemm_amx::kTiles) continue;
      if (rows > 16 || colsb > 64) fault("ldtilecfg: tile " + std::to_string(t) + " is " + std::to_string(rows) + " x " + std::to_string(colsb) + " bytes (max 16 x 64)");
      if ((rows == 0) != (colsb == 0)) fault("ldtilecfg: tile " + std::to_string(t) + " has rows or colsb 0 but not both");
      next.t[t].rows = rows;
      next.t[t].colsb = colsb;
    }
    next.configured = true;
    State& s = state();
    if (!s.configured) configured_threads().fetch_add(1);
    s = next;
  }

  static void release() {
    State& s = state();
    if (s.configured) configured_threads().fetch_sub(1);
    s = State{};
  }

  static Tile& tile(int t, const char* op) {
    State& s = state();
    if (!s.configured) fault(std::string(op) + ": the tiles are not configured (ldtilecfg first)");
    if (t < 0 || t >= qgemm_amx::kTiles || s.t[t].rows == 0) fault(std::string(op) + ": tile " + std::to_string(t) + " is not configured");
    return s.t[t];
  }

  template <int T>
  static void zero() {
    Tile& d = tile(T, "tilezero");
    std::memset(d.data, 0, sizeof d.data);
  }

  template <int T>
  static void load(const void* base, long stride) {
    Tile& d = tile(T, "tileloadd");
    std::memset(d.data, 0, sizeof d.data);
    for (int r = 0; r < d.rows; ++r) std::memcpy(d.data[r], static_cast<const uint8_t*>(base) + r * stride, static_cast<size_t>(d.colsb));
  }

  template <int T>
  static void store(void* base, long stride) {
    const Tile& s = tile(T, "tilestored");
    for (int r = 0; r < s.rows; ++r) std::memcpy(static_cast<uint8_t*>(base) + r * stride, s.data[r], static_cast<size_t>(s.colsb));
  }

  // The shape rules of TDPBSSD / TDPBF16PS; returns K (dwords per row of a).
  static int check_dot(const char* op, int c, int a, int b) {
    if (c == a || c == b || a == b) fault(std::string(op) + ": the three tiles must differ");
    const Tile &tc = tile(c, op), &ta = tile(a, op), &tb = tile(b, op);
    if (ta.colsb % 4 != 0 || tc.colsb % 4 != 0) fault(std::string(op) + ": colsb must be a multiple of 4");
    if (tb.rows != ta.colsb / 4) fault(std::string(op) + ": b.rows " + std::to_string(tb.rows) + " != a.colsb / 4 " + std::to_string(ta.colsb / 4));
    if (tc.colsb != tb.colsb) fault(std::string(op) + ": c.colsb != b.colsb");
    if (tc.rows != ta.rows) fault(std::string(op) + ": c.rows != a.rows");
    return ta.colsb / 4;
  }

  template <int C, int A, int B>
  static void dpbssd() {
    const int K = check_dot("tdpbssd", C, A, B);
    Tile& tc = state().t[C];
    const Tile &ta = state().t[A], &tb = state().t[B];
    for (int m = 0; m < tc.rows; ++m) {
      for (int n = 0; n < tc.colsb / 4; ++n) {
        uint32_t temp = 0;
        for (int k = 0; k < K; ++k) {
          for (int e = 0; e < 4; ++e) {
            temp += static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(ta.data[m][4 * k + e])) *
                                          static_cast<int32_t>(static_cast<int8_t>(tb.data[k][4 * n + e])));
          }
        }
        uint32_t acc;
        std::memcpy(&acc, &tc.data[m][4 * n], 4);
        acc += temp;
        std::memcpy(&tc.data[m][4 * n], &acc, 4);
      }
    }
  }

  template <int C, int A, int B>
  static void dpbf16ps() {
    const int K = check_dot("tdpbf16ps", C, A, B);
    Tile& tc = state().t[C];
    const Tile &ta = state().t[A], &tb = state().t[B];
    auto bf16 = [](const uint8_t* p, int i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      return f32_of_bf16(h);
    };
    for (int m = 0; m < tc.rows; ++m) {
      for (int n = 0; n < tc.colsb / 4; ++n) {
        float even = 0.0f, odd = 0.0f;
        for (int k = 0; k < K; ++k) {
          even = ftz(std::fma(bf16(ta.data[m], 2 * k), bf16(tb.data[k], 2 * n), even));
          odd = ftz(std::fma(bf16(ta.data[m], 2 * k + 1), bf16(tb.data[k], 2 * n + 1), odd));
        }
        float acc;
        std::memcpy(&acc, &tc.data[m][4 * n], 4);
        acc = ftz(ftz(daz(acc) + even) + odd);
        std::memcpy(&tc.data[m][4 * n], &acc, 4);
      }
    }
  }
};

}  // namespace amx_emu
}  // namespace myelin
