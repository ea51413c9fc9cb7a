// Low-precision GEMM driver (portable unit): dispatch, quantisation, packing, the portable int8
// path, threads, activation; the vector inner loops live in qgemm_avx2.cc and qgemm_avx512.cc.
//
// Dispatch: int8 runs on AMX tiles (tdpbssd, qgemm_amx_avx512.cc) when the GEMM level is avx512, AMX is allowed
// (cpu.h's amx_allowed: MYELIN_SIMD unset or "amx") and qgemm_amx::support() grants AMX-INT8 (the CPU
// has it and, on Linux, arch_prctl gave the process the tile state); else on AVX512-VNNI (vpdpbusd) at
// level avx512 when the CPU has it, else on AVX2 (vpmaddubsw) at level avx2 or above, else portable C++.
// bf16 runs on AMX (tdpbf16ps) under the same conditions with AMX-BF16, else on AVX512-BF16 (vdpbf16ps)
// at level avx512 when the CPU has it, else widens to float32 and runs the float32 GEMM. Every int8 path
// gives the same bits (exact int32 sums, one epilogue rule: the AMX and VNNI tiles share
// i8_epilogue_avx512). The bf16 paths sum the same exact products in float32 in different orders.
// The AMX tile loops are written once (qgemm_amx.inc) and also run on an emulator of the instructions in
// the C++ tests (native/tests/amx_test.cc, through set_amx_rows_for_testing), which is how they are
// checked on CPUs without AMX.
#include "qgemm.h"
#include "conv.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"
#include "activation.h"
#include "codes.gen.h"
#include "linear.h"
#include "qgemm_amx.h"
#include "qgemm_kernels.h"

namespace myelin {
namespace {

using qgemm_kernels::Bf16Args;
using qgemm_kernels::I8Args;

enum class I8Path { Scalar, Avx2, Avx512Vnni, Amx };
enum class Bf16Path { Fp32, Avx512Bf16, Amx };

// set_amx_rows_for_testing's rows functions (nullptr: the hardware's, when dispatch picks AMX).
std::atomic<qgemm_kernels::I8Rows> g_amx_i8_test{nullptr};
std::atomic<qgemm_kernels::Bf16Rows> g_amx_bf16_test{nullptr};

struct Features {
  bool vnni = false;
  bool bf16 = false;
  Features() {
#ifdef MYELIN_QGEMM_HAVE_X86
    __builtin_cpu_init();
    vnni = __builtin_cpu_supports("avx512vnni");
    bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  }
};

const Features& features() {
  static const Features f;
  return f;
}

I8Path i8_path() {
  if (g_amx_i8_test.load(std::memory_order_relaxed) != nullptr) return I8Path::Amx;
  const SimdLevel level = gemm_simd_level();  // AVX-512 F/VL/DQ/BW with OS support, MYELIN_SIMD applied
  if (amx_allowed() && qgemm_amx::support().int8) return I8Path::Amx;  // amx_allowed(): level avx512
  if (level == SimdLevel::Avx512 && features().vnni) return I8Path::Avx512Vnni;
  if (level >= SimdLevel::Avx2) return I8Path::Avx2;
  return I8Path::Scalar;
}

Bf16Path bf16_path() {
  if (g_amx_bf16_test.load(std::memory_order_relaxed) != nullptr) return Bf16Path::Amx;
  if (amx_allowed() && qgemm_amx::support().bf16) return Bf16Path::Amx;
  if (gemm_simd_level() == SimdLevel::Avx512 && features().bf16) return Bf16Path::Avx512Bf16;
  return Bf16Path::Fp32;
}

// Keeps a product rounded to float32 before the addition that follows (no FMA contraction where the
// target has FMA, e.g. arm64), so every path rounds twice as the contract says.
inline float rounded(float x) {
  volatile float v = x;
  return v;
}

inline int8_t clamp_i8(int8_t v) { return v == -128 ? -127 : v; }

// Rows of work per task: large problems split across the pool in slabs of whole tiles of `unit` rows.
template <class Body>
void split_rows(int M, double flops, const Body& body, int unit = 12) {
  const int threads = num_threads();
  const int tiles = (M + unit - 1) / unit;
  int tasks = flops < 262144.0 ? 1 : std::min(threads, tiles);
  if (tasks <= 1) {
    body(0, M);
    return;
  }
  const int step = (tiles + tasks - 1) / tasks * unit;
  tasks = (M + step - 1) / step;
  parallel_for(tasks, [&](int t) { body(t * step, std::min(M, (t + 1) * step)); });
}

// ---- int8 ---------------------------------------------------------------------------------

// Packs W[N,K] (rows of K int8) into 16-column blocks of 4-k groups; colsum per column.
void pack_w_i8(int N, int K, int K4, const int8_t* W, int8_t* dst, int32_t* corr) {
  const int NB = (N + 15) / 16;
  if (K4 > 0) std::memset(dst, 0, static_cast<size_t>(NB) * 16 * K4);  // K == 0: an empty (null) buffer
  for (int j = 0; j < N; ++j) {
    const int8_t* wj = W + static_cast<long>(j) * K;
    int8_t* block = dst + static_cast<long>(j / 16) * 16 * K4 + (j % 16) * 4;
    int32_t s = 0;
    for (int k = 0; k < K; ++k) {
      const int8_t v = clamp_i8(wj[k]);
      block[(k / 4) * 64 + (k % 4)] = v;
      s += v;
    }
    corr[j] = 128 * s;
  }
}

// Packs rows of A (K int8 each) into panels of mr rows (qgemm_kernels.h), -128 read as -127;
// shift: as u8 (v + 128). Four bytes (one k group) at a time; padding k of the last group meets zero
// weights; rows beyond `rows` in the last panel are never read (the kernels walk real rows only).
void pack_a_i8(int rows, int K, int K4, const int8_t* A, bool shift, int mr, uint8_t* dst) {
  const uint32_t flip = shift ? 0x80808080u : 0u;
  const int full = K / 4;
  const long panel = static_cast<long>(mr) * K4;
  for (int i = 0; i < rows; ++i) {
    const int8_t* ai = A + static_cast<long>(i) * K;
    uint8_t* di = dst + (i / mr) * panel + (i % mr) * 4;
    for (int g = 0; g < full; ++g, di += mr * 4) {
      uint32_t w;
      std::memcpy(&w, ai + 4 * g, 4);
      const uint32_t t = w ^ 0x80808080u;  // a zero byte where w holds -128
      if (((t - 0x01010101u) & ~t & 0x80808080u) != 0) {
        for (int b = 0; b < 4; ++b) {
          if (((w >> (8 * b)) & 0xffu) == 0x80u) w += 1u << (8 * b);  // -128 -> -127
        }
      }
      w ^= flip;
      std::memcpy(di, &w, 4);
    }
    if (full * 4 < K4) {
      for (int b = 0; b < 4; ++b) {
        const int k = full * 4 + b;
        const int v = k < K ? clamp_i8(ai[k]) : 0;
        di[b] = static_cast<uint8_t>(shift ? v + 128 : v);
      }
    }
  }
}

// Packed weights, kept between calls: an inference calls the same layer with the same weights again
// and again. An entry is reused only when the weights are the same bytes as when it was packed (a
// copy is kept and compared: memcmp costs a small fraction of packing, and an array freed and
// replaced at the same address can never be mistaken for the old one).
struct QPackedWeights {
  int kind = 0;  // 1: int8 VNNI/AVX2 layout, 2: bf16 pairs, 3 / 4: the same for AMX (K padded to 64 bytes)
  const void* src = nullptr;
  int N = 0, K = 0;
  std::vector<uint8_t> copy;
  std::vector<uint8_t> packed;  // int8 or uint16 data, 64-byte padded
  std::vector<int32_t> corr;
};

constexpr size_t kPackCacheEntries = 16;
constexpr size_t kPackCacheMaxBytes = size_t{256} << 20;

template <class Fill>
std::shared_ptr<const QPackedWeights> packed_weights(int kind, const void* W, size_t bytes, int N, int K, const Fill& fill) {
  static std::mutex mu;
  static std::vector<std::shared_ptr<const QPackedWeights>> cache;  // most recently used last
  {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < cache.size(); ++i) {
      const auto& e = cache[i];
      if (e->kind == kind && e->src == W && e->N == N && e->K == K && (bytes == 0 || std::memcmp(e->copy.data(), W, bytes) == 0)) {
        auto hit = e;
        cache.erase(cache.begin() + static_cast<long>(i));
        cache.push_back(hit);
        return hit;
      }
    }
  }
  auto fresh = std::make_shared<QPackedWeights>();
  fresh->kind = kind;
  fresh->src = W;
  fresh->N = N;
  fresh->K = K;
  fill(*fresh);
  if (bytes <= kPackCacheMaxBytes / kPackCacheEntries) {
    fresh->copy.assign(static_cast<const uint8_t*>(W), static_cast<const uint8_t*>(W) + bytes);
    std::lock_guard<std::mutex> lock(mu);
    // An entry for the same array with other contents is stale: replace it.
    for (size_t i = 0; i < cache.size(); ++i) {
      if (cache[i]->src == W && cache[i]->kind == kind) {
        cache.erase(cache.begin() + static_cast<long>(i));
        break;
      }
    }
    if (cache.size() >= kPackCacheEntries) cache.erase(cache.begin());
    cache.push_back(fresh);
  }
  return fresh;
}

// The portable quantiser rows.
float row_absmax_scalar(int K, const float* x, bool* nonfinite) {
  float m = 0.0f;
  bool any = false;
  for (int k = 0; k < K; ++k) {
    const float a = std::fabs(x[k]);
    m = a > m ? a : m;
    any = any || !(a < HUGE_VALF);
  }
  *nonfinite = any;
  return m;
}

void row_quantize_scalar(int K, const float* x, float inv, int8_t* q) {
  for (int k = 0; k < K; ++k) {
    float v = x[k] * inv;
    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
    // Round to nearest even: adding 1.5 * 2^23 leaves no fraction bits (|v| <= 127).
    v = (v + 12582912.0f) - 12582912.0f;
    q[k] = static_cast<int8_t>(v);
  }
}

// qgemm.h's epilogue rule for one sum (without the activation).
inline float dequantized(int32_t acc, float a_scale, float w_scale, const float* bias, int j) {
  const float s = rounded(a_scale * w_scale);
  float z = rounded(static_cast<float>(acc) * s);
  if (bias != nullptr) z = z + bias[j];
  return z;
}

// The activations the tile epilogues apply (qgemm_epilogue_avx512.h's rule), others kept for later.
inline float epilogue_act(int act, float v, float alpha) {
  if (act == kActRelu) return (v > 0.0f || v != v) ? v : 0.0f;
  if (act == kActLeakyRelu) return v > 0.0f ? v : rounded(alpha * v);
  return v;
}

// The portable path, on the unpacked matrices.
void i8_rows_scalar(int m0, int m1, int N, int K, const int8_t* A, const float* a_scale,
                    const int8_t* W, const float* w_scale, const float* bias, float* out) {
  for (int i = m0; i < m1; ++i) {
    const int8_t* ai = A + static_cast<long>(i) * K;
    float* oi = out + static_cast<long>(i) * N;
    for (int j = 0; j < N; ++j) {
      const int8_t* wj = W + static_cast<long>(j) * K;
      int32_t acc = 0;
      for (int k = 0; k < K; ++k) acc += int32_t{clamp_i8(ai[k])} * int32_t{clamp_i8(wj[k])};
      oi[j] = dequantized(acc, a_scale[i], w_scale[j], bias, j);
    }
  }
}

void apply_act(int act, float alpha, int rows, int N, float* out) {
  if (act != kActNone) activation_forward(act, static_cast<long>(rows) * N, out, out, alpha);
}

// ---- bf16 ---------------------------------------------------------------------------------

inline uint32_t f32_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

inline uint16_t bf16_of(float x) {
  const uint32_t u = f32_bits(x);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0)  // NaN: keep it, quiet
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  if ((u & 0x7f800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);  // denormal, zero
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // nearest even (inf stays)
}

inline float f32_of_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// Packs W[N,K] bf16 into 16-column blocks of k pairs (K2 = K rounded up to 2 or more), zero-padded.
void pack_w_bf16(int N, int K, int K2, const uint16_t* W, uint16_t* dst) {
  const int NB = (N + 15) / 16;
  if (K2 > 0) std::memset(dst, 0, static_cast<size_t>(NB) * 16 * K2 * sizeof(uint16_t));
  for (int j = 0; j < N; ++j) {
    const uint16_t* wj = W + static_cast<long>(j) * K;
    uint16_t* block = dst + static_cast<long>(j / 16) * 16 * K2 + (j % 16) * 2;
    for (int k = 0; k < K; ++k) block[(k / 2) * 32 + (k % 2)] = wj[k];
  }
}

// The packed weights of W (cached): int8 with Kp bytes per column (kind 1: VNNI / AVX2, K rounded to 4;
// kind 3: AMX, K rounded to 64), bf16 with Kp values per column (kind 2: K rounded to 2; kind 4: to 32).
std::shared_ptr<const QPackedWeights> packed_i8(int kind, const int8_t* W, int N, int K, int Kp) {
  const int NB = (N + 15) / 16;
  return packed_weights(kind, W, static_cast<size_t>(N) * K, N, K, [&](QPackedWeights& e) {
    e.packed.resize(static_cast<size_t>(NB) * 16 * Kp);
    e.corr.assign(static_cast<size_t>(NB) * 16, 0);
    pack_w_i8(N, K, Kp, W, reinterpret_cast<int8_t*>(e.packed.data()), e.corr.data());
  });
}

std::shared_ptr<const QPackedWeights> packed_bf16(int kind, const uint16_t* W, int N, int K, int Kp) {
  const int NB = (N + 15) / 16;
  return packed_weights(kind, W, static_cast<size_t>(N) * K * sizeof(uint16_t), N, K, [&](QPackedWeights& e) {
    e.packed.resize(static_cast<size_t>(NB) * 16 * Kp * sizeof(uint16_t));
    pack_w_bf16(N, K, Kp, W, reinterpret_cast<uint16_t*>(e.packed.data()));
  });
}

// ---- AMX (qgemm_amx.h's layouts; the tile loops run in qgemm_amx_avx512.cc, or the emulator in tests) --------

qgemm_kernels::I8Rows amx_i8_rows() {
  if (const auto f = g_amx_i8_test.load(std::memory_order_relaxed)) return f;
#ifdef MYELIN_QGEMM_HAVE_X86
  return qgemm_amx::i8_rows;
#else
  return nullptr;  // never chosen: qgemm_amx::support() is false off x86-64
#endif
}

qgemm_kernels::Bf16Rows amx_bf16_rows() {
  if (const auto f = g_amx_bf16_test.load(std::memory_order_relaxed)) return f;
#ifdef MYELIN_QGEMM_HAVE_X86
  return qgemm_amx::bf16_rows;
#else
  return nullptr;
#endif
}

inline int round_up(int n, int m) { return (n + m - 1) / m * m; }

// Splits the rows of an AMX product across the pool in whole 32-row steps and calls
// body(m0, rows, buffer, act, out rows) per slab, buffer being this thread's room for the slab's A rows
// (rows rounded up to 16, Kp values each); act is the activation for the epilogue to fuse (relu,
// leakyRelu), the others applied here after.
template <class T, class Body>
void amx_slabs(int M, int N, int K, int Kp, int act, float alpha, float* out, const Body& body) {
  const bool fused = act == kActRelu || act == kActLeakyRelu;
  split_rows(M, static_cast<double>(M) * N * K, [&](int m0, int m1) {
    static thread_local std::vector<T> abuf;
    const int rows = m1 - m0;
    const size_t need = static_cast<size_t>(round_up(rows, qgemm_amx::kTileRows)) * Kp;
    if (abuf.size() < need) abuf.resize(need);
    float* o = out + static_cast<long>(m0) * N;
    body(m0, rows, abuf.data(), fused ? act : kActNone, o);
    if (!fused) apply_act(act, alpha, rows, N, o);
  }, qgemm_amx::kBlockRows);
}

void amx_i8(int M, int N, int K, const int8_t* A, const float* aScale, const int8_t* W, const float* wScale,
            const float* bias, int act, float alpha, float* out) {
  const qgemm_kernels::I8Rows rows_fn = amx_i8_rows();
  const int Kp = round_up(K, qgemm_amx::kKI8);
  const auto pw = packed_i8(3, W, N, K, Kp);  // its corr unused: s8 x s8
  amx_slabs<uint8_t>(M, N, K, Kp, act, alpha, out, [&](int m0, int rows, uint8_t* a, int epi_act, float* o) {
    // Rows at stride Kp (pack_a_i8 with 1-row panels), -128 read as -127, up to K rounded to 4. The bytes
    // from there to Kp and the pad rows keep whatever the buffer held: the packed weights are zero for
    // k >= K (any int8 times 0 adds 0 to the exact sums), and the pad rows' sums are never read.
    pack_a_i8(rows, K, Kp, A + static_cast<long>(m0) * K, false, 1, a);
    rows_fn(I8Args{N, Kp, a, aScale + m0, reinterpret_cast<const int8_t*>(pw->packed.data()), nullptr, wScale, bias, o, rows,
                   epi_act, alpha});
  });
}

void amx_bf16(int M, int N, int K, const uint16_t* A, const uint16_t* W, const float* bias, int act, float alpha, float* out) {
  const qgemm_kernels::Bf16Rows rows_fn = amx_bf16_rows();
  const int Kp = round_up(K, qgemm_amx::kKBf16);
  const auto pw = packed_bf16(4, W, N, K, Kp);
  amx_slabs<uint16_t>(M, N, K, Kp, act, alpha, out, [&](int m0, int rows, uint16_t* a, int epi_act, float* o) {
    // Rows at stride Kp, zeros from K to Kp: the weights are zero there, but an infinity or NaN left in the
    // buffer times 0 would be NaN. The pad rows' sums are never read.
    for (int i = 0; i < rows; ++i) {
      uint16_t* di = a + static_cast<long>(i) * Kp;
      std::memcpy(di, A + static_cast<long>(m0 + i) * K, sizeof(uint16_t) * K);
      std::memset(di + K, 0, sizeof(uint16_t) * (Kp - K));
    }
    rows_fn(Bf16Args{N, Kp, a, reinterpret_cast<const uint16_t*>(pw->packed.data()), bias, o, rows, epi_act, alpha});
  });
}

}  // namespace

namespace {

// The row quantiser of this CPU (absmax and scaling at the SIMD level).
struct RowQuantizer {
  qgemm_kernels::RowAbsMax absmax = row_absmax_scalar;
  qgemm_kernels::RowQuantize quant = row_quantize_scalar;
  RowQuantizer() {
#ifdef MYELIN_QGEMM_HAVE_X86
    const SimdLevel level = gemm_simd_level();
    if (level == SimdLevel::Avx512) {
      absmax = qgemm_kernels::row_absmax_avx512;
      quant = qgemm_kernels::row_quantize_avx512;
    } else if (level == SimdLevel::Avx2) {
      absmax = qgemm_kernels::row_absmax_avx2;
      quant = qgemm_kernels::row_quantize_avx2;
    }
#endif
  }
  // One row of K values x into q with its scale (static scale > 0, or dynamic: 0).
  void row(int K, const float* x, float scale, int8_t* q, float* rowScale) const {
    bool nonfinite = false;
    const float m = absmax(K, x, &nonfinite);
    if (nonfinite || (scale == 0.0f && !(m >= kQuantMinMax))) {
      *rowScale = nonfinite ? std::nanf("") : 0.0f;
      std::memset(q, 0, static_cast<size_t>(K));
      return;
    }
    *rowScale = scale > 0.0f ? scale : m / 127.0f;
    quant(K, x, scale > 0.0f ? 1.0f / scale : 127.0f / m, q);
  }
};


}  // namespace

namespace qgemm_kernels {

void i8_epilogue_scalar(const I8Args& p, const int32_t* c, int ldc, int i0, int rows, int jb, int nb) {
  const int j0 = jb * 16, j1 = std::min(p.N, (jb + nb) * 16);
  for (int r = 0; r < rows; ++r) {
    float* o = p.out + static_cast<long>(i0 + r) * p.N;
    for (int j = j0; j < j1; ++j) {
      const int32_t acc = c[static_cast<long>(r) * ldc + (j - j0)] - (p.corr != nullptr ? p.corr[j] : 0);
      o[j] = epilogue_act(p.act, dequantized(acc, p.a_scale[i0 + r], p.w_scale[j], p.bias, j), p.alpha);
    }
  }
}

void bf16_epilogue_scalar(const Bf16Args& p, const float* c, int ldc, int i0, int rows, int jb, int nb) {
  const int j0 = jb * 16, j1 = std::min(p.N, (jb + nb) * 16);
  for (int r = 0; r < rows; ++r) {
    float* o = p.out + static_cast<long>(i0 + r) * p.N;
    for (int j = j0; j < j1; ++j) {
      const float v = c[static_cast<long>(r) * ldc + (j - j0)];
      o[j] = epilogue_act(p.act, p.bias != nullptr ? v + p.bias[j] : v, p.alpha);
    }
  }
}

void set_amx_rows_for_testing(I8Rows i8, Bf16Rows bf16) {
  g_amx_i8_test.store(i8, std::memory_order_relaxed);
  g_amx_bf16_test.store(bf16, std::memory_order_relaxed);
}

void check_quant_scale(const char* kernel, float scale) {
  if (!(scale == 0.0f || scale >= kQuantMinScale)) {
    char got[32];
    std::snprintf(got, sizeof got, "%g", static_cast<double>(scale));
    throw std::invalid_argument(std::string(kernel) + ": scale must be 0 (a dynamic scale per row) or at least 1e-30, got " + got);
  }
}

// Checks geom (conv.h's layout, groups 1) against the sizes the binding checked the buffers with.
PatchGeom patch_geom(const char* kernel, int C, long inPlane, long outPlane, long kArea, int G, const int32_t* g) {
  auto bad = [&](const std::string& what) { throw std::invalid_argument(std::string(kernel) + ": " + what); };
  if (G != kConvGeomLen) bad("geom must hold " + std::to_string(kConvGeomLen) + " integers, got " + std::to_string(G));
  for (int i = 0; i < kConvGeomLen; i++) {
    const int min = (i == kGeomPH || i == kGeomPW) ? 0 : 1;
    if (g[i] < min) bad("geom[" + std::to_string(i) + "] must be >= " + std::to_string(min) + ", got " + std::to_string(g[i]));
  }
  const PatchGeom p{g[kGeomC], g[kGeomH], g[kGeomW], g[kGeomOH], g[kGeomOW], g[kGeomKH], g[kGeomKW],
                    g[kGeomSH], g[kGeomSW], g[kGeomPH], g[kGeomPW], g[kGeomDH], g[kGeomDW]};
  auto out = [](long in, long k, long s, long pad, long d) { return (in + 2 * pad - d * (k - 1) - 1) / s + 1; };
  if (g[kGeomGroups] != 1) bad("groups must be 1, got " + std::to_string(g[kGeomGroups]));
  if (p.C != C || static_cast<long>(p.H) * p.W != inPlane || static_cast<long>(p.OH) * p.OW != outPlane ||
      static_cast<long>(p.C) * p.KH * p.KW != kArea || p.OH != out(p.H, p.KH, p.SH, p.PH, p.DH) ||
      p.OW != out(p.W, p.KW, p.SW, p.PW, p.DW)) {
    bad("the geometry (C " + std::to_string(p.C) + ", " + std::to_string(p.H) + "x" + std::to_string(p.W) + " -> " +
        std::to_string(p.OH) + "x" + std::to_string(p.OW) + ", kernel " + std::to_string(p.KH) + "x" + std::to_string(p.KW) +
        ") disagrees with C " + std::to_string(C) + ", inPlane " + std::to_string(inPlane) + ", outPlane " +
        std::to_string(outPlane) + ", kArea " + std::to_string(kArea));
  }
  return p;
}

}  // namespace qgemm_kernels

using qgemm_kernels::check_quant_scale;

void quantize_rows_i8(int M, int K, const float* X, float scale, int8_t* Q, float* scales) {
  check_quant_scale("quantizeRowsI8", scale);
  const RowQuantizer rq;
  split_rows(M, static_cast<double>(M) * K * 16, [&](int m0, int m1) {
    for (int i = m0; i < m1; ++i) {
      rq.row(K, X + static_cast<long>(i) * K, scale, Q + static_cast<long>(i) * K, scales + i);
    }
  });
}

// ---- convolution rows (QuantizedConv2d) -----------------------------------------------------

namespace {

using qgemm_kernels::PatchGeom;
using qgemm_kernels::patch_geom;

// One image zero-padded by PH, PW on each side ([C, H + 2PH, W + 2PW]): patches then need no bounds checks.
void pad_image(const PatchGeom& g, const float* x, float* padded) {
  const int Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW;
  std::memset(padded, 0, sizeof(float) * static_cast<size_t>(g.C) * Hp * Wp);
  for (int c = 0; c < g.C; ++c) {
    for (int h = 0; h < g.H; ++h) {
      std::memcpy(padded + (static_cast<long>(c) * Hp + h + g.PH) * Wp + g.PW, x + (static_cast<long>(c) * g.H + h) * g.W,
                  sizeof(float) * g.W);
    }
  }
}

// row[(c*KH + i)*KW + j] = padded[c, oh*SH + i*DH, ow*SW + j*DW]: the patch of output pixel (oh, ow).
void gather_patch(const PatchGeom& g, const float* padded, int oh, int ow, float* row) {
  const int Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW;
  const float* base = padded + static_cast<long>(oh) * g.SH * Wp + static_cast<long>(ow) * g.SW;
  if (g.KH == 3 && g.KW == 3 && g.DH == 1 && g.DW == 1) {
    // The common 3x3 kernel: 9 loads and stores per channel, no loop overhead.
    for (int c = 0; c < g.C; ++c, row += 9) {
      const float* a = base + static_cast<long>(c) * Hp * Wp;
      const float* b = a + Wp;
      const float* d = b + Wp;
      row[0] = a[0]; row[1] = a[1]; row[2] = a[2];
      row[3] = b[0]; row[4] = b[1]; row[5] = b[2];
      row[6] = d[0]; row[7] = d[1]; row[8] = d[2];
    }
    return;
  }
  for (int c = 0; c < g.C; ++c) {
    const float* plane = base + static_cast<long>(c) * Hp * Wp;
    for (int i = 0; i < g.KH; ++i, row += g.KW) {
      const float* xr = plane + static_cast<long>(i) * g.DH * Wp;
      if (g.DW == 1) {
        for (int j = 0; j < g.KW; ++j) row[j] = xr[j];
      } else {
        for (int j = 0; j < g.KW; ++j) row[j] = xr[j * g.DW];
      }
    }
  }
}

// Calls body(row index, patch) for the rows [n*outPlane + p] of images N, threads across rows.
template <class Body>
void for_each_patch(int N, const PatchGeom& g, int kArea, const float* X, const Body& body) {
  const int P = g.OH * g.OW, M = N * P;
  const size_t paddedSize = static_cast<size_t>(g.C) * (g.H + 2 * g.PH) * (g.W + 2 * g.PW);
  split_rows(M, static_cast<double>(M) * kArea * 16, [&](int m0, int m1) {
    std::vector<float> patch(static_cast<size_t>(kArea));
    std::vector<float> padded(paddedSize);
    int image = -1;
    for (int r = m0; r < m1; ++r) {
      const int n = r / P, p = r % P;
      if (n != image) {
        pad_image(g, X + static_cast<long>(n) * g.C * g.H * g.W, padded.data());
        image = n;
      }
      gather_patch(g, padded.data(), p / g.OW, p % g.OW, patch.data());
      body(r, patch.data());
    }
  });
}

}  // namespace

void im2col_quantize_i8(int N, int C, int inPlane, int outPlane, int kArea, int G, const int32_t* geom,
                        const float* X, float scale, int8_t* Q, float* scales) {
  check_quant_scale("im2colQuantizeI8", scale);
  const PatchGeom g = patch_geom("im2colQuantizeI8", C, inPlane, outPlane, kArea, G, geom);
  const RowQuantizer rq;
  for_each_patch(N, g, kArea, X, [&](int r, const float* patch) {
    rq.row(kArea, patch, scale, Q + static_cast<long>(r) * kArea, scales + r);
  });
}

void im2col_bf16(int N, int C, int inPlane, int outPlane, int kArea, int G, const int32_t* geom, const float* X,
                 uint16_t* out) {
  const PatchGeom g = patch_geom("im2colBf16", C, inPlane, outPlane, kArea, G, geom);
  for_each_patch(N, g, kArea, X, [&](int r, const float* patch) { to_bf16(kArea, patch, out + static_cast<long>(r) * kArea); });
}

void planes_from_rows(int N, int P, int OC, const float* Y, float* out) {
  split_rows(N, static_cast<double>(N) * P * OC * 4, [&](int n0, int n1) {
    for (int n = n0; n < n1; ++n) {
      const float* y = Y + static_cast<long>(n) * P * OC;
      float* o = out + static_cast<long>(n) * OC * P;
      // Tiles of 16 pixels x all channels: reads of whole rows, writes of 16 consecutive floats per channel.
      for (int p0 = 0; p0 < P; p0 += 16) {
        const int p1 = std::min(P, p0 + 16);
        for (int oc = 0; oc < OC; ++oc) {
          float* dst = o + static_cast<long>(oc) * P;
          for (int p = p0; p < p1; ++p) dst[p] = y[static_cast<long>(p) * OC + oc];
        }
      }
    }
  });
}

void qgemm_i8(int M, int N, int K, const int8_t* A, const float* aScale, const int8_t* W,
              const float* wScale, const float* bias, int act, float alpha, float* out) {
  if (K > kQgemmMaxK) {
    throw std::invalid_argument("qgemmI8: K must be at most " + std::to_string(kQgemmMaxK) +
                                " (int32 sums), got " + std::to_string(K));
  }
  const double flops = static_cast<double>(M) * N * K;
  const I8Path path = i8_path();
  if (path == I8Path::Amx) {
    amx_i8(M, N, K, A, aScale, W, wScale, bias, act, alpha, out);
    return;
  }
  if (path == I8Path::Scalar) {
    split_rows(M, flops, [&](int m0, int m1) {
      i8_rows_scalar(m0, m1, N, K, A, aScale, W, wScale, bias, out);
      apply_act(act, alpha, m1 - m0, N, out + static_cast<long>(m0) * N);
    });
    return;
  }
#ifdef MYELIN_QGEMM_HAVE_X86
  const int K4 = (K + 3) / 4 * 4;
  const auto pw = packed_i8(1, W, N, K, K4);
  const bool shift = path == I8Path::Avx512Vnni;
  const int mr = shift ? qgemm_kernels::kVnniRows : qgemm_kernels::kAvx2Rows;
  const qgemm_kernels::I8Rows rows_fn =
      shift ? qgemm_kernels::i8_rows_avx512vnni : qgemm_kernels::i8_rows_avx2;
  // The AVX-512 epilogue applies relu / leakyRelu itself; other activations run after.
  const bool fused = shift && (act == kActRelu || act == kActLeakyRelu);
  split_rows(M, flops, [&](int m0, int m1) {
    static thread_local std::vector<uint8_t> abuf;
    const int rows = m1 - m0;
    const size_t need = static_cast<size_t>((rows + mr - 1) / mr) * mr * K4;
    if (abuf.size() < need) abuf.resize(need);
    pack_a_i8(rows, K, K4, A + static_cast<long>(m0) * K, shift, mr, abuf.data());
    float* o = out + static_cast<long>(m0) * N;
    rows_fn(I8Args{N, K4, abuf.data(), aScale + m0, reinterpret_cast<const int8_t*>(pw->packed.data()), pw->corr.data(), wScale, bias, o,
                   rows, fused ? act : kActNone, alpha});
    if (!fused) apply_act(act, alpha, rows, N, o);
  });
#endif
}

void to_bf16(long n, const float* x, uint16_t* out) {
#ifdef MYELIN_QGEMM_HAVE_X86
  if (gemm_simd_level() == SimdLevel::Avx512) {
    qgemm_kernels::to_bf16_avx512(n, x, out);
    return;
  }
#endif
  for (long i = 0; i < n; ++i) out[i] = bf16_of(x[i]);
}

void gemm_bf16(int M, int N, int K, const uint16_t* A, const uint16_t* W, const float* bias, int act,
               float alpha, float* out) {
  const Bf16Path path = bf16_path();
  if (path == Bf16Path::Amx) {
    amx_bf16(M, N, K, A, W, bias, act, alpha, out);
    return;
  }
#ifdef MYELIN_QGEMM_HAVE_X86
  if (path == Bf16Path::Avx512Bf16) {
    const int K2 = (K + 1) / 2 * 2;
    const auto pw = packed_bf16(2, W, N, K, K2);
    const bool fused = act == kActRelu || act == kActLeakyRelu;
    split_rows(M, static_cast<double>(M) * N * K, [&](int m0, int m1) {
      const int rows = m1 - m0;
      // Panels of kBf16Rows rows, k in pairs (qgemm_kernels.h): one pair (4 bytes) at a time; the pad
      // of an odd K is zero; rows beyond `rows` are never read.
      constexpr int mr = qgemm_kernels::kBf16Rows;
      static thread_local std::vector<uint16_t> abuf;
      const size_t need = static_cast<size_t>((rows + mr - 1) / mr) * mr * K2;
      if (abuf.size() < need) abuf.resize(need);
      const int pairs = K / 2;
      for (int i = 0; i < rows; ++i) {
        const uint16_t* ai = A + static_cast<long>(m0 + i) * K;
        uint16_t* di = abuf.data() + static_cast<long>(i / mr) * mr * K2 + (i % mr) * 2;
        for (int q = 0; q < pairs; ++q, di += mr * 2) std::memcpy(di, ai + 2 * q, 4);
        if (pairs * 2 < K2) {
          di[0] = ai[K - 1];
          di[1] = 0;
        }
      }
      float* o = out + static_cast<long>(m0) * N;
      qgemm_kernels::bf16_rows_avx512(Bf16Args{N, K2, abuf.data(), reinterpret_cast<const uint16_t*>(pw->packed.data()), bias, o, rows,
                                               fused ? act : kActNone, alpha});
      if (!fused) apply_act(act, alpha, rows, N, o);
    });
    return;
  }
#endif
  // Widened to float32 (exact) and run on the float32 GEMM: the same products, float32 sums.
  std::vector<float> af(static_cast<size_t>(M) * K), wf(static_cast<size_t>(N) * K);
  for (size_t i = 0; i < af.size(); ++i) af[i] = f32_of_bf16(A[i]);
  for (size_t i = 0; i < wf.size(); ++i) wf[i] = f32_of_bf16(W[i]);
  linear_forward(M, N, K, af.data(), wf.data(), bias, act, alpha, out, nullptr);
}

const char* qgemm_i8_path() {
  switch (i8_path()) {
    case I8Path::Amx: return "amx";
    case I8Path::Avx512Vnni: return "avx512vnni";
    case I8Path::Avx2: return "avx2";
    default: return "scalar";
  }
}

const char* gemm_bf16_path() {
  switch (bf16_path()) {
    case Bf16Path::Amx: return "amx";
    case Bf16Path::Avx512Bf16: return "avx512bf16";
    default: return "fp32";
  }
}

bool qgemm_i8_vnni() { return gemm_simd_level() == SimdLevel::Avx512 && features().vnni; }

bool gemm_bf16_avx512bf16() { return gemm_simd_level() == SimdLevel::Avx512 && features().bf16; }

std::string amx_status() {
  if (g_amx_i8_test.load(std::memory_order_relaxed) != nullptr) return "emulated (tests)";
  const qgemm_amx::Support& cpu = qgemm_amx::cpu_support();
  if (!cpu.int8 && !cpu.bf16) return std::string("unavailable: ") + cpu.reason;
  if (gemm_simd_level() != SimdLevel::Avx512) return std::string("off: the SIMD level is ") + gemm_simd_name() + " (MYELIN_SIMD)";
  if (!amx_allowed()) return "off: MYELIN_SIMD names a level below amx";
  const qgemm_amx::Support& s = qgemm_amx::support();
  if (!s.int8 && !s.bf16) return std::string("unavailable: ") + s.reason;
  return std::string("in use for ") + (s.int8 && s.bf16 ? "int8 and bf16" : s.int8 ? "int8" : "bf16") +
         (s.reason[0] != '\0' ? std::string(" (") + s.reason + ")" : "");
}

}  // namespace myelin
