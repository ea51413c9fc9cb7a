// The AMX path of the low-precision GEMMs (qgemm_amx.h), checked on any x86-64 or other CPU through an
// emulator of the tile instructions (qgemm_amx_emu.h):
//   1. the emulator against hand-computed cases (so an emulator bug cannot hide a kernel bug): the
//      configuration rules, tileloadd / tilestored shapes, tdpbssd sums, tdpbf16ps's order, DAZ and FTZ;
//   2. the tile loops (qgemm_amx.inc) on the emulator, through the whole qgemm_i8 driver (packing, padding,
//      threads, epilogue), bit for bit against the portable int8 path and the AVX512-VNNI path where the
//      CPU has it, on awkward shapes with and without bias and with fused and later activations;
//   3. the bf16 tile loops on the emulator against a float64 reference of the bf16 products, within the
//      bound of float32 summation of K exact products;
//   4. the dispatch: on a CPU without AMX it is never chosen and info()'s reason says why; where the CPU
//      has AMX and the OS grants the tile state, items 2 and 3 also run on the real instructions;
//   5. the instructions' encodings (qgemm_amx_hw.h, read from compiled code, never run): tile registers and
//      operand order as Intel's manual encodes them, the one thing the emulator cannot check.
// MYELIN_TEST_SEED=n repeats a run.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "activation.h"
#include "codes.gen.h"
#include "cpu.h"
#include "denormals.h"
#include "qgemm.h"
#include "qgemm_amx.h"
#include "qgemm_amx_emu.h"
#include "qgemm_amx_hw.h"
#include "qgemm_kernels.h"
#include "threadpool.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace {

#include "qgemm_amx.inc"

using myelin::SimdLevel;
using myelin::amx_emu::Ops;
using myelin::qgemm_amx::TileConfig;
namespace qk = myelin::qgemm_kernels;

int g_failures = 0;
long g_checks = 0;

void check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    if (g_failures <= 40) std::printf("  FAIL %s\n", what.c_str());
  }
}

template <class F>
void expect_fault(const char* what, F f) {
  bool threw = false;
  try {
    f();
  } catch (const std::logic_error&) {
    threw = true;
  }
  check(threw, std::string("emulator faults on ") + what);
  Ops::release();
}

// ldtilecfg with c, then f, which must fault.
template <class F>
void expect_fault_after(const char* what, const TileConfig& c, F f) {
  Ops::config(&c);
  expect_fault(what, f);
}

TileConfig config(std::initializer_list<std::pair<int, int>> shapes) {  // tile i: {rows, colsb}
  TileConfig c;
  std::memset(&c, 0, sizeof c);
  c.palette = 1;
  int t = 0;
  for (const auto& s : shapes) {
    c.rows[t] = static_cast<uint8_t>(s.first);
    c.colsb[t] = static_cast<uint16_t>(s.second);
    ++t;
  }
  return c;
}

float f32(uint32_t u) { return myelin::amx_emu::f32_of_bits(u); }
uint32_t bits(float f) { return myelin::amx_emu::bits_of_f32(f); }

// One tdpbf16ps on a 1 x 1 (or 1 x K pairs) problem: c0 the initial sum, a and b the bf16 pairs of each k.
float bf16_dot(float c0, const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  const int K = static_cast<int>(a.size()) / 2;
  const TileConfig c = config({{1, 4}, {1, 4 * K}, {K, 4}});
  Ops::config(&c);
  Ops::load<0>(&c0, 4);
  Ops::load<1>(a.data(), 4 * K);
  Ops::load<2>(b.data(), 4);  // row k: the pair of k
  Ops::dpbf16ps<0, 1, 2>();
  float out = -1.0f;
  Ops::store<0>(&out, 4);
  Ops::release();
  return out;
}

// ---- 1. the emulator, by hand ---------------------------------------------------------------

void emulator_cases() {
  std::printf("emulator: hand-computed cases\n");
  // Configuration rules.
  {
    TileConfig c = config({{16, 64}});
    c.palette = 2;
    expect_fault("palette 2", [&] { Ops::config(&c); });
    c = config({{17, 64}});
    expect_fault("17 rows", [&] { Ops::config(&c); });
    c = config({{16, 65}});
    expect_fault("65 bytes per row", [&] { Ops::config(&c); });
    c = config({{16, 64}});
    c.rows[8] = 1;
    c.colsb[8] = 4;
    expect_fault("tile 8 in palette 1", [&] { Ops::config(&c); });
    c = config({{16, 64}});
    c.reserved[3] = 1;
    expect_fault("a reserved byte set", [&] { Ops::config(&c); });
    c = config({{1, 0}});
    expect_fault("rows without colsb", [&] { Ops::config(&c); });
    expect_fault("tilezero before ldtilecfg", [] { Ops::zero<0>(); });
    c = config({{16, 64}, {16, 64}});
    Ops::config(&c);
    Ops::release();
    expect_fault("tilezero after tilerelease", [] { Ops::zero<0>(); });
    expect_fault_after("an unconfigured tile", c, [] { Ops::zero<2>(); });
    const auto dot = [] { Ops::dpbssd<0, 1, 2>(); };
    expect_fault_after("tdpbssd with b.rows != a.colsb / 4", config({{2, 8}, {2, 8}, {3, 8}}), dot);
    expect_fault_after("tdpbssd with a repeated tile", config({{2, 8}, {2, 8}, {2, 8}}), [] { Ops::dpbssd<0, 0, 2>(); });
    expect_fault_after("tdpbssd with c.rows != a.rows", config({{2, 8}, {3, 8}, {2, 8}}), dot);
    expect_fault_after("tdpbssd with c.colsb != b.colsb", config({{2, 4}, {2, 8}, {2, 8}}), dot);
    check(myelin::amx_emu::configured_threads().load() == 0, "no tile state left configured after release");
  }
  // tileloadd / tilestored: rows x colsb bytes at the stride, the rest of the tile zero.
  {
    uint8_t src[3][16], dst[3][16];
    for (int r = 0; r < 3; ++r)
      for (int b = 0; b < 16; ++b) src[r][b] = static_cast<uint8_t>(1 + 16 * r + b);
    std::memset(dst, 0xee, sizeof dst);
    const TileConfig c = config({{2, 8}});
    Ops::config(&c);
    myelin::amx_emu::state().t[0].data[0][10] = 5;  // stale bytes past colsb
    myelin::amx_emu::state().t[0].data[3][0] = 5;   // and past rows
    Ops::load<0>(src, 16);
    Ops::store<0>(dst, 16);
    bool ok = true;
    for (int r = 0; r < 3; ++r)
      for (int b = 0; b < 16; ++b) ok = ok && dst[r][b] == (r < 2 && b < 8 ? 1 + 16 * r + b : 0xee);
    check(ok, "tileloadd + tilestored copy 2 rows x 8 bytes at stride 16 and nothing else");
    check(myelin::amx_emu::state().t[0].data[0][10] == 0 && myelin::amx_emu::state().t[0].data[3][0] == 0,
          "tileloadd zeroes the bytes past colsb and the rows past rows");
    Ops::release();
  }
  // tdpbssd: 2 x 2 int32 sums over 2 groups of 4 signed bytes, added to C.
  {
    const int8_t A[2][8] = {{1, 2, 3, 4, -1, -2, -3, -4}, {-127, -127, -127, -127, 127, 127, 127, 127}};
    // B row g: column 0's 4 bytes, column 1's 4 bytes (k group g).
    const int8_t B[2][8] = {{1, 1, 1, 1, 1, -1, 1, -1}, {2, 0, 0, 0, 0, 0, 0, -5}};
    int32_t C[2][2] = {{100, 100}, {100, 100}};
    const TileConfig c = config({{2, 8}, {2, 8}, {2, 8}});
    Ops::config(&c);
    Ops::load<0>(C, 8);
    Ops::load<1>(A, 8);
    Ops::load<2>(B, 8);
    Ops::dpbssd<0, 1, 2>();
    Ops::store<0>(C, 8);
    Ops::release();
    // 100 + (1+2+3+4) + (-1*2); 100 + (1-2+3-4) + (-4*-5); 100 - 4*127 + 2*127; 100 + 0 + 127*-5
    check(C[0][0] == 108 && C[0][1] == 118 && C[1][0] == -154 && C[1][1] == -535,
          "tdpbssd 2x2 hand case: got " + std::to_string(C[0][0]) + " " + std::to_string(C[0][1]) + " " +
              std::to_string(C[1][0]) + " " + std::to_string(C[1][1]) + ", want 108 118 -154 -535");
    const int8_t m128[4] = {-128, -128, -128, -128};
    int32_t one = 0;
    const TileConfig d = config({{1, 4}, {1, 4}, {1, 4}});
    Ops::config(&d);
    Ops::load<0>(&one, 4);
    Ops::load<1>(m128, 4);
    Ops::load<2>(m128, 4);
    Ops::dpbssd<0, 1, 2>();
    Ops::store<0>(&one, 4);
    check(one == 65536, "tdpbssd reads bytes as signed: 4 x (-128)^2 = 65536, got " + std::to_string(one));
    int32_t big = INT32_MAX;
    const int8_t unit[4] = {1, 0, 0, 0};
    Ops::load<0>(&big, 4);
    Ops::load<1>(unit, 4);
    Ops::load<2>(unit, 4);
    Ops::dpbssd<0, 1, 2>();
    Ops::store<0>(&big, 4);
    Ops::release();
    check(big == INT32_MIN, "tdpbssd wraps in int32");
  }
  // tdpbf16ps.
  {
    const uint16_t one5 = 0x3fc0, two = 0x4000, quarter = 0x3e80, tiny = 0x3980 /* 2^-12 */;
    float r = bf16_dot(0.0f, {one5, two}, {two, quarter});
    check(r == 3.5f, "tdpbf16ps 1.5*2 + 2*0.25 = 3.5, got " + std::to_string(r));
    // Order: even and odd products are separate sums added to C one after the other, each rounded:
    // (1 + 2^-24) rounds to 1 (tie to even), then + 2^-24 again: 1. Summing the products first would give 1 + 2^-23.
    r = bf16_dot(1.0f, {tiny, tiny}, {tiny, tiny});
    check(bits(r) == bits(1.0f), "tdpbf16ps adds the even then the odd sum to C: 1 + 2^-24 + 2^-24 = 1, got bits " + std::to_string(bits(r)));
    // Two k pairs: the even products 2^-24 + 2^-24 are summed first (exactly 2^-23), then added to C.
    r = bf16_dot(1.0f, {tiny, 0, tiny, 0}, {tiny, 0, tiny, 0});
    check(bits(r) == 0x3f800001u, "tdpbf16ps sums the even products over k before adding C: 1 + 2^-23, got bits " + std::to_string(bits(r)));
    // DAZ: a denormal bf16 (0x0001, 2^-133) times 2^127 reads as 0 times 2^127.
    r = bf16_dot(0.0f, {0x0001, 0}, {0x7f00, 0});
    check(bits(r) == 0, "tdpbf16ps reads denormal bf16 inputs as zero, got " + std::to_string(r));
    // FTZ: 2^-70 * 2^-70 = 2^-140 (a float32 denormal) is flushed to +0.
    r = bf16_dot(0.0f, {0x1c80, 0}, {0x1c80, 0});
    check(bits(r) == 0, "tdpbf16ps flushes denormal results to zero, got " + std::to_string(r));
    // A denormal C reads as zero.
    r = bf16_dot(f32(1u), {0, 0}, {0, 0});
    check(bits(r) == 0, "tdpbf16ps reads a denormal C as zero, got bits " + std::to_string(bits(r)));
    // Negative products and a sign: -1.5*2 + 2*0.25 = -2.5.
    r = bf16_dot(0.0f, {static_cast<uint16_t>(one5 | 0x8000), two}, {two, quarter});
    check(r == -2.5f, "tdpbf16ps -1.5*2 + 2*0.25 = -2.5, got " + std::to_string(r));
  }
}

// ---- 2. int8 ----------------------------------------------------------------------------------

bool g_avx512_epilogue = false;  // which epilogue the emulated rows use

void emu_i8_rows(const qk::I8Args& p) {
#if defined(__x86_64__) || defined(_M_X64)
  if (g_avx512_epilogue) return amx_tiles::i8_rows<Ops>(p, qk::i8_epilogue_avx512);
#endif
  amx_tiles::i8_rows<Ops>(p, qk::i8_epilogue_scalar);
}

void emu_bf16_rows(const qk::Bf16Args& p) {
#if defined(__x86_64__) || defined(_M_X64)
  if (g_avx512_epilogue) return amx_tiles::bf16_rows<Ops>(p, qk::bf16_epilogue_avx512);
#endif
  amx_tiles::bf16_rows<Ops>(p, qk::bf16_epilogue_scalar);
}

bool cpu_has_avx512() {
  myelin::set_simd_level(SimdLevel::Avx512);
  return myelin::gemm_simd_level() == SimdLevel::Avx512;
}

struct I8Problem {
  int M, N, K, act;
  float alpha;
  bool bias;
  std::vector<int8_t> A, W;
  std::vector<float> as, ws, b;
};

I8Problem make_i8(std::mt19937_64& rng, int M, int N, int K) {
  I8Problem p{M, N, K, 0, 0.1f, false, {}, {}, {}, {}, {}};
  std::uniform_int_distribution<int> byte(-128, 127), acts(0, 4);
  std::uniform_real_distribution<float> scale(1e-4f, 0.05f), bias(-3.0f, 3.0f);
  p.act = acts(rng);  // none, relu, leakyRelu (fused), sigmoid, tanh (after the kernel)
  p.bias = (rng() & 1) != 0;
  p.A.resize(static_cast<size_t>(M) * K);
  p.W.resize(static_cast<size_t>(N) * K);
  for (auto& v : p.A) v = static_cast<int8_t>(byte(rng));
  for (auto& v : p.W) v = static_cast<int8_t>(byte(rng));
  p.as.resize(M);
  p.ws.resize(N);
  p.b.resize(N);
  for (auto& v : p.as) v = scale(rng);
  for (auto& v : p.ws) v = scale(rng);
  for (auto& v : p.b) v = bias(rng);
  return p;
}

std::vector<float> run_i8(const I8Problem& p) {
  std::vector<float> out(static_cast<size_t>(p.M) * p.N, -7.0f);
  myelin::qgemm_i8(p.M, p.N, p.K, p.A.data(), p.as.data(), p.W.data(), p.ws.data(), p.bias ? p.b.data() : nullptr, p.act,
                   p.alpha, out.data());
  return out;
}

std::string shape(const I8Problem& p) {
  return std::to_string(p.M) + "x" + std::to_string(p.N) + "x" + std::to_string(p.K) + " act " + myelin::kActNames[p.act] +
         (p.bias ? " bias" : "");
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b, size_t* at) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (bits(a[i]) != bits(b[i])) {
      *at = i;
      return false;
    }
  }
  return true;
}

// The int8 result of `path` ("scalar", "avx512vnni", "amx" on the hardware, "amx-emulated") for p.
std::vector<float> i8_on(const std::string& path, const I8Problem& p, bool* ran) {
  qk::set_amx_rows_for_testing(nullptr, nullptr);
  myelin::set_amx_allowed(path == "amx");
  if (path == "scalar") myelin::set_simd_level(SimdLevel::Scalar);
  else if (path == "amx-emulated") {
    myelin::set_simd_level(g_avx512_epilogue ? SimdLevel::Avx512 : SimdLevel::Scalar);
    qk::set_amx_rows_for_testing(emu_i8_rows, emu_bf16_rows);
  } else {
    myelin::set_simd_level(SimdLevel::Avx512);
  }
  const std::string got = myelin::qgemm_i8_path();
  *ran = got == (path == "amx-emulated" ? std::string("amx") : path);
  std::vector<float> out;
  if (*ran) out = run_i8(p);
  qk::set_amx_rows_for_testing(nullptr, nullptr);
  return out;
}

void int8_kernel(std::mt19937_64& rng, const std::vector<std::string>& paths) {
  const int Ms[] = {1, 3, 16, 17, 33, 65, 257};
  const int Ns[] = {1, 3, 16, 17, 33, 65};
  const int Ks[] = {1, 3, 4, 17, 63, 64, 65, 257};
  std::vector<I8Problem> problems;
  for (int M : Ms)
    for (int N : Ns)
      for (int K : Ks) problems.push_back(make_i8(rng, M, N, K));
  problems.push_back(make_i8(rng, 100, 257, 784));  // the MLP's first layer shape, non-square
  problems.push_back(make_i8(rng, 64, 10, 128));
  problems.push_back(make_i8(rng, 0, 5, 7));
  problems.push_back(make_i8(rng, 5, 7, 0));
  long compared = 0;
  for (int threads : {1, 2}) {
    myelin::set_num_threads(threads);
    for (const auto& p : problems) {
      bool ran = false;
      // The portable path's sums and epilogue; sigmoid and tanh run after the kernel at the path's SIMD level
      // (their approximations differ between levels), so the reference applies them at that level too.
      const bool later = p.act != myelin::kActNone && p.act != myelin::kActRelu && p.act != myelin::kActLeakyRelu;
      I8Problem linear = p;
      if (later) linear.act = myelin::kActNone;
      const std::vector<float> dequantized = i8_on("scalar", linear, &ran);
      check(ran, "the scalar int8 path can be forced");
      for (const auto& path : paths) {
        for (bool avx512_epi : {false, true}) {
          if (path != "amx-emulated" && avx512_epi) continue;
          if (avx512_epi && !cpu_has_avx512()) continue;
          g_avx512_epilogue = avx512_epi;
          const std::vector<float> got = i8_on(path, p, &ran);
          if (!ran) {
            check(false, path + " was not chosen when forced");
            continue;
          }
          std::vector<float> want = dequantized;  // at the level i8_on left set
          if (later) myelin::activation_forward(p.act, static_cast<long>(want.size()), want.data(), want.data(), p.alpha);
          size_t at = 0;
          const bool ok = same_bits(got, want, &at);
          check(ok, path + (avx512_epi ? " (AVX-512 epilogue)" : "") + " vs scalar int8, " + shape(p) + ", threads " +
                        std::to_string(threads) + (ok ? "" : ": element " + std::to_string(at) + " got " +
                        std::to_string(got[at]) + " want " + std::to_string(want[at])));
          check(myelin::amx_emu::configured_threads().load() == 0, "every thread released its tiles after " + path);
          ++compared;
        }
      }
    }
  }
  std::printf("int8: %zu shapes x 2 thread counts, %ld comparisons bit for bit against the portable path (%s)\n",
              problems.size(), compared, [&] {
                std::string s;
                for (const auto& p : paths) s += (s.empty() ? "" : ", ") + p;
                return s;
              }().c_str());
}

// ---- 3. bf16 ----------------------------------------------------------------------------------

uint16_t bf16_of(float x) {
  uint16_t h;
  myelin::to_bf16(1, &x, &h);
  return h;
}

double of_bf16(uint16_t h) { return f32(static_cast<uint32_t>(h) << 16); }

void bf16_kernel(std::mt19937_64& rng, const std::vector<std::string>& paths) {
  const int Ms[] = {1, 3, 16, 17, 33, 65, 257};
  const int Ns[] = {1, 3, 17, 33};
  const int Ks[] = {1, 2, 3, 31, 32, 33, 65, 257, 784};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> expo(-6.0f, 6.0f);
  const double u = std::ldexp(1.0, -24);
  long compared = 0;
  double worst = 0;  // largest error / bound
  for (int threads : {1, 2}) {
    myelin::set_num_threads(threads);
    // First a product that leaves infinities in the A buffers: the k padding of the products after it must
    // not read them (infinity times a zero weight is NaN).
    for (const auto& path : paths) {
      qk::set_amx_rows_for_testing(nullptr, nullptr);
      myelin::set_amx_allowed(path == "amx");
      if (path == "amx-emulated") qk::set_amx_rows_for_testing(emu_i8_rows, emu_bf16_rows);
      const int M = 300, N = 3, K = 1000;
      std::vector<uint16_t> A(static_cast<size_t>(M) * K, 0x7f80 /* +inf */), W(static_cast<size_t>(N) * K, 0x3f80 /* 1 */);
      std::vector<float> out(static_cast<size_t>(M) * N);
      myelin::gemm_bf16(M, N, K, A.data(), W.data(), nullptr, myelin::kActNone, 0.0f, out.data());
      check(std::all_of(out.begin(), out.end(), [](float v) { return v == INFINITY; }), path + ": bf16 inf * 1 summed is inf");
      qk::set_amx_rows_for_testing(nullptr, nullptr);
    }
    for (int M : Ms)
      for (int N : Ns)
        for (int K : Ks) {
          // Values spread over 2^-6 .. 2^6 with both signs, some exact zeros.
          auto value = [&] { return (rng() % 16 == 0) ? 0.0f : normal(rng) * std::exp2(expo(rng)); };
          std::vector<uint16_t> A(static_cast<size_t>(M) * K), W(static_cast<size_t>(N) * K);
          for (auto& v : A) v = bf16_of(value());
          for (auto& v : W) v = bf16_of(value());
          std::vector<float> bias(N);
          for (auto& v : bias) v = value();
          const bool has_bias = (rng() & 1) != 0;
          const int act = static_cast<int>(rng() % 3);  // none, relu, leakyRelu
          const float alpha = 0.1f;
          // float64 reference and the bound of float32 summation of K + 1 terms (any order): gamma_K * sum |terms|,
          // plus FTZ's loss (< 2^-126 per operation), through the activation (1-Lipschitz for alpha <= 1) and its rounding.
          std::vector<double> ref(static_cast<size_t>(M) * N), tol(ref.size());
          const double gamma = K * u / (1 - K * u);
          for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j) {
              double s = 0, mag = 0;
              for (int k = 0; k < K; ++k) {
                const double t = of_bf16(A[static_cast<size_t>(i) * K + k]) * of_bf16(W[static_cast<size_t>(j) * K + k]);
                s += t;
                mag += std::fabs(t);
              }
              if (has_bias) {
                s += bias[j];
                mag += std::fabs(bias[j]);
              }
              double t = gamma * mag + (K + 2) * std::ldexp(1.0, -126);
              if (act == myelin::kActRelu) s = s > 0 ? s : 0;
              if (act == myelin::kActLeakyRelu) {
                if (s <= 0) t += u * std::fabs(alpha * s);
                s = s > 0 ? s : alpha * s;
              }
              ref[static_cast<size_t>(i) * N + j] = s;
              tol[static_cast<size_t>(i) * N + j] = t;
            }
          for (const auto& path : paths) {
            for (bool avx512_epi : {false, true}) {
              if (path != "amx-emulated" && avx512_epi) continue;
              if (avx512_epi && !cpu_has_avx512()) continue;
              g_avx512_epilogue = avx512_epi;
              qk::set_amx_rows_for_testing(nullptr, nullptr);
              myelin::set_amx_allowed(path == "amx");
              myelin::set_simd_level(path == "amx-emulated" && !avx512_epi ? SimdLevel::Scalar : SimdLevel::Avx512);
              if (path == "amx-emulated") qk::set_amx_rows_for_testing(emu_i8_rows, emu_bf16_rows);
              if (std::string(myelin::gemm_bf16_path()) != "amx") {
                check(false, path + ": the bf16 path is " + myelin::gemm_bf16_path() + ", not amx");
                continue;
              }
              std::vector<float> out(static_cast<size_t>(M) * N, -7.0f);
              myelin::gemm_bf16(M, N, K, A.data(), W.data(), has_bias ? bias.data() : nullptr, act, alpha, out.data());
              qk::set_amx_rows_for_testing(nullptr, nullptr);
              for (size_t e = 0; e < out.size(); ++e) {
                const double err = std::fabs(out[e] - ref[e]);
                worst = std::max(worst, tol[e] > 0 ? err / tol[e] : (err > 0 ? INFINITY : 0));
                if (!(err <= tol[e])) {
                  check(false, path + " bf16 " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + " act " +
                                   myelin::kActNames[act] + (has_bias ? " bias" : "") + ": element " + std::to_string(e) +
                                   " got " + std::to_string(out[e]) + " want " + std::to_string(ref[e]) + " (bound " +
                                   std::to_string(tol[e]) + ")");
                  break;
                }
              }
              check(true, "bf16 compared");
              check(myelin::amx_emu::configured_threads().load() == 0, "every thread released its tiles after bf16");
              ++compared;
            }
          }
        }
  }
  std::printf("bf16: %ld comparisons against the float64 reference, largest error %.3g of the bound\n", compared, worst);
}

// ---- 5. the encodings -------------------------------------------------------------------------

#ifdef MYELIN_AMX_ASM
// Never called (it needs AMX): its machine code is read.
__attribute__((noinline, used)) void hw_sample(const TileConfig* cfg, const void* a, void* c) {
  using H = myelin::qgemm_amx_hw::Ops;
  H::config(cfg);
  H::zero<3>();
  H::load<5>(a, 64);
  H::dpbssd<0, 4, 6>();
  H::dpbssd<3, 5, 7>();
  H::dpbf16ps<1, 4, 7>();
  H::store<2>(c, 128);
  H::release();
}

// Whether code[0 .. n) holds a VEX3 (C4) instruction of map 0F38 (and R = 0: tile registers 0-7) with the
// given third byte (W vvvv L pp), opcode, and ModRM accepted by `modrm`.
template <class F>
bool has_vex(const uint8_t* code, int n, uint8_t b2, uint8_t op, F modrm) {
  for (int i = 0; i + 4 < n; ++i) {
    if (code[i] == 0xc4 && (code[i + 1] & 0x9f) == 0x82 && code[i + 2] == b2 && code[i + 3] == op && modrm(code[i + 4])) return true;
  }
  return false;
}
#endif

void encodings() {
#ifdef MYELIN_AMX_ASM
  // VEX.128.0F38.W0 (SDM vol. 2): byte 2 = W(0) vvvv(inverted) L(0) pp (NP 00, 66 01, F3 10, F2 11);
  // ModRM 11:reg:rm for the register forms. tdpbssd (F2 5E) and tdpbf16ps (F3 5C): reg = the destination,
  // rm = the first source (A), vvvv = the second (B); GNU as's own tests encode tdpbssd tmm1,tmm2,tmm3 as
  // c4 e2 63 5e ca. tilezero (F2 49) 11:reg:000; tilerelease (NP 49) c0; tileloadd (F2 4B) and tilestored
  // (F3 4B) reg = the tile, rm = 100 (a SIB byte follows); ldtilecfg (NP 49) a memory operand with reg 000.
  const auto* code = reinterpret_cast<const uint8_t*>(&hw_sample);
  const int n = 512;
  auto reg = [](uint8_t v) { return [v](uint8_t m) { return m == v; }; };
  auto vvvv = [](int b, int pp) { return static_cast<uint8_t>(((~b & 15) << 3) | pp); };
  check(has_vex(code, n, vvvv(6, 3), 0x5e, reg(0xc4)), "tdpbssd tmm0, tmm4, tmm6 encodes as c4 e2 4b 5e c4 (C += A . B operand order)");
  check(has_vex(code, n, vvvv(7, 3), 0x5e, reg(0xdd)), "tdpbssd tmm3, tmm5, tmm7 encodes as c4 e2 43 5e dd");
  check(has_vex(code, n, vvvv(7, 2), 0x5c, reg(0xcc)), "tdpbf16ps tmm1, tmm4, tmm7 encodes as c4 e2 42 5c cc");
  check(has_vex(code, n, 0x7b, 0x49, reg(0xd8)), "tilezero tmm3 encodes as c4 e2 7b 49 d8");
  check(has_vex(code, n, 0x78, 0x49, reg(0xc0)), "tilerelease encodes as c4 e2 78 49 c0");
  auto mem = [](int r) { return [r](uint8_t m) { return (m >> 6) != 3 && ((m >> 3) & 7) == r && (m & 7) == 4; }; };
  check(has_vex(code, n, 0x7b, 0x4b, mem(5)), "tileloadd loads tmm5 through a SIB address");
  check(has_vex(code, n, 0x7a, 0x4b, mem(2)), "tilestored stores tmm2 through a SIB address");
  check(has_vex(code, n, 0x78, 0x49, [](uint8_t m) { return (m >> 6) != 3 && ((m >> 3) & 7) == 0; }),
        "ldtilecfg takes a memory operand");
  std::printf("encodings: the tile operations assemble to the SDM's encodings (read from code, not run)\n");
#else
  std::printf("encodings: not checked (this compiler builds no AMX instructions)\n");
#endif
}

// ---- 4. dispatch ------------------------------------------------------------------------------

bool cpuid_amx() {
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7 || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (d & (1u << 24)) != 0 && (d & (1u << 25)) != 0;  // AMX-TILE, AMX-INT8
#else
  return false;
#endif
}

// Returns whether the hardware AMX path runs here.
bool dispatch() {
  qk::set_amx_rows_for_testing(nullptr, nullptr);
  myelin::set_amx_allowed(true);
  const bool avx512 = cpu_has_avx512();
  myelin::set_simd_level(SimdLevel::Avx512);
  const std::string status = myelin::amx_status();
  const std::string i8 = myelin::qgemm_i8_path(), bf = myelin::gemm_bf16_path();
  std::printf("dispatch: CPUID AMX-TILE/INT8 %s; int8 path %s, bf16 path %s; amx: %s\n", cpuid_amx() ? "yes" : "no", i8.c_str(),
              bf.c_str(), status.c_str());
  bool hw = false;
  if (!cpuid_amx()) {
    check(i8 != "amx" && bf != "amx", "no AMX on this CPU: the AMX path is not chosen");
    check(status.rfind("unavailable: ", 0) == 0 && status.size() > 20, "the status says why AMX is unavailable: " + status);
    check(i8 == (avx512 ? std::string(myelin::qgemm_i8_vnni() ? "avx512vnni" : "avx2") : i8), "the next int8 path is chosen: " + i8);
  } else if (status.rfind("in use", 0) == 0) {
    check(i8 == "amx", "AMX in use: the int8 path is amx");
    hw = true;
  } else {
    check(i8 != "amx" && status.rfind("unavailable: ", 0) == 0, "AMX refused: not chosen, reason given: " + status);
  }
  // The lower levels can always be forced.
  myelin::set_amx_allowed(false);
  check(std::string(myelin::qgemm_i8_path()) != "amx" && std::string(myelin::gemm_bf16_path()) != "amx",
        "set_amx_allowed(false) (MYELIN_SIMD=avx512) keeps AMX off");
  if (hw) check(myelin::amx_status().rfind("off: ", 0) == 0, "the status says AMX is off: " + myelin::amx_status());
  myelin::set_amx_allowed(true);
  myelin::set_simd_level(SimdLevel::Scalar);
  check(std::string(myelin::qgemm_i8_path()) == "scalar", "MYELIN_SIMD=scalar forces the portable int8 path");
  // The test hook forces the AMX path whatever the CPU.
  qk::set_amx_rows_for_testing(emu_i8_rows, emu_bf16_rows);
  check(std::string(myelin::qgemm_i8_path()) == "amx" && std::string(myelin::gemm_bf16_path()) == "amx",
        "set_amx_rows_for_testing forces the amx path");
  qk::set_amx_rows_for_testing(nullptr, nullptr);
  myelin::set_simd_level(SimdLevel::Avx512);
  return hw;
}

}  // namespace

int main() {
  const char* env_seed = std::getenv("MYELIN_TEST_SEED");
  const unsigned long long seed = env_seed != nullptr ? std::strtoull(env_seed, nullptr, 10) : std::random_device{}();
  std::printf("amx_test seed=%llu (rerun with MYELIN_TEST_SEED=%llu)\n", seed, seed);
  std::mt19937_64 rng(seed);
  // The hand cases run with IEEE denormals (the emulator's own DAZ / FTZ are what they check); the kernels
  // as the addon runs them, flushing denormals (the pool's workers always do).
  emulator_cases();
  encodings();
  myelin::flush_denormals_on_this_thread();
  const bool hw = dispatch();
  std::vector<std::string> i8_paths = {"amx-emulated"};
  if (cpu_has_avx512() && myelin::qgemm_i8_vnni()) i8_paths.push_back("avx512vnni");
  if (hw) i8_paths.push_back("amx");
  int8_kernel(rng, i8_paths);
  std::vector<std::string> bf16_paths = {"amx-emulated"};
  if (hw && myelin::qgemm_amx::support().bf16) bf16_paths.push_back("amx");
  bf16_kernel(rng, bf16_paths);
  std::printf("amx_test: %ld checks, %d failures (seed=%llu)%s\n", g_checks, g_failures, seed,
              hw ? "" : "; the AMX instructions themselves did not run (no AMX here): emulated only");
  return g_failures == 0 ? 0 : 1;
}
