// GEMM property tests: gemm vs a float64 reference over shapes, transposes, alpha/beta, epilogues,
// SIMD levels, thread counts and concurrent callers. Seed: MYELIN_TEST_SEED or random (printed).
//
// Tolerance (per element, derived from the float32 error bound of a K-term dot product):
//   |got - ref| <= 2 * (K + 2) * eps * (|alpha| * max|A| * max|B| + |beta| * max|C0|) + 2 * eps * |ref|
// and, after an activation, 1.2 * that (|act'| <= 1.13) + 1e-6 * max(1, |act(ref)|).
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "native/kernels/gemm.h"
#include "native/runtime/cpu.h"
#include "native/runtime/threadpool.h"

using myelin::Epilogue;

namespace {

std::uint64_t g_seed = 0;
std::atomic<int> g_failures{0};
std::atomic<long> g_checks{0};
std::mt19937_64 g_rng;

constexpr int kGuard = 16;  // canary floats after C / preact to catch out-of-bounds writes
constexpr float kCanary = 12345.678f;

std::vector<float> random_vec(std::mt19937_64& rng, long n) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

double act_ref(int act, double z, double alpha) {
  switch (act) {
    case myelin::kActNone: return z;
    case myelin::kActRelu: return z > 0 ? z : 0.0;
    case myelin::kActLeakyRelu: return z > 0 ? z : alpha * z;
    case myelin::kActSigmoid: return 1.0 / (1.0 + std::exp(-z));
    case myelin::kActTanh: return std::tanh(z);
    case myelin::kActGelu: return 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
    case myelin::kActGeluTanh: {
      const double c = std::sqrt(2.0 / M_PI);
      return 0.5 * z * (1.0 + std::tanh(c * (z + 0.044715 * z * z * z)));
    }
  }
  return NAN;
}

const char* act_name(int act) {
  static const char* names[] = {"none", "relu", "leakyRelu", "sigmoid", "tanh", "gelu", "geluTanh"};
  return act >= 0 && act <= 6 ? names[act] : "?";
}

double max_abs(const std::vector<float>& v, long n) {
  double m = 0;
  for (long i = 0; i < n; ++i) m = std::fmax(m, std::fabs(v[i]));
  return m;
}

struct Case {
  bool tA, tB;
  int M, N, K;
  float alpha, beta;
  int act = -1;  // -1: no epilogue
  bool bias = false;
  bool preact = false;
};

std::string describe(const Case& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s%s M=%d N=%d K=%d alpha=%g beta=%g act=%s bias=%d preact=%d simd=%s threads=%d",
                c.tA ? "T" : "N", c.tB ? "T" : "N", c.M, c.N, c.K, c.alpha, c.beta,
                c.act < 0 ? "-" : act_name(c.act), c.bias, c.preact, myelin::gemm_simd_name(),
                myelin::num_threads());
  return buf;
}

void fail(const Case& c, const char* what, long idx, double got, double want, double tol) {
  if (g_failures < 20) {
    std::fprintf(stderr, "FAIL [seed=%llu] %s: %s at %ld: got %.9g want %.9g (tol %.3g)\n",
                 static_cast<unsigned long long>(g_seed), describe(c).c_str(), what, idx, got, want, tol);
  }
  ++g_failures;
}

// Runs one case with a given RNG; returns false on failure (and reports it).
bool run_case(const Case& c, std::mt19937_64& rng) {
  const long M = c.M, N = c.N, K = c.K;
  std::vector<float> A = random_vec(rng, M * K);
  std::vector<float> B = random_vec(rng, K * N);
  std::vector<float> C0 = random_vec(rng, M * N);
  std::vector<float> bias = random_vec(rng, N);
  std::vector<float> C(M * N + kGuard, kCanary);
  std::vector<float> pre(M * N + kGuard, kCanary);
  if (c.beta == 0.0f) {
    for (long i = 0; i < M * N; ++i) C[i] = std::numeric_limits<float>::quiet_NaN();
  } else {
    for (long i = 0; i < M * N; ++i) C[i] = C0[i];
  }

  Epilogue ep;
  ep.act = c.act < 0 ? myelin::kActNone : c.act;
  ep.alpha = 0.1f;
  ep.bias = c.bias ? bias.data() : nullptr;
  ep.preact = c.preact ? pre.data() : nullptr;
  myelin::gemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, A.data(), B.data(), c.beta, C.data(),
               (c.act < 0 && !c.bias && !c.preact) ? nullptr : &ep);

  // Double reference.
  const double eps = std::numeric_limits<float>::epsilon();
  const double scale = std::fabs(c.alpha) * max_abs(A, M * K) * max_abs(B, K * N) +
                       std::fabs(c.beta) * max_abs(C0, M * N);
  const double tol_base = 2.0 * (K + 2) * eps * scale;
  bool ok = true;
  for (long i = 0; i < M && ok; ++i) {
    for (long j = 0; j < N; ++j) {
      double s = 0;
      for (long k = 0; k < K; ++k) {
        const double a = c.tA ? A[k * M + i] : A[i * K + k];
        const double b = c.tB ? B[j * K + k] : B[k * N + j];
        s += a * b;
      }
      double z = c.alpha * s + (c.beta != 0.0f ? c.beta * static_cast<double>(C0[i * N + j]) : 0.0);
      if (c.bias) z += bias[j];
      const double tol_z = tol_base + 2 * eps * std::fabs(z) + (c.bias ? 2 * eps : 0.0);
      const long idx = i * N + j;
      ++g_checks;
      if (c.preact) {
        if (!(std::fabs(pre[idx] - z) <= tol_z)) {
          fail(c, "preact", idx, pre[idx], z, tol_z);
          ok = false;
          break;
        }
      }
      const int act = c.act < 0 ? myelin::kActNone : c.act;
      const double y = act_ref(act, z, 0.1);
      const double tol = act == myelin::kActNone ? tol_z : 1.2 * tol_z + 1e-6 * std::fmax(1.0, std::fabs(y));
      if (!(std::fabs(C[idx] - y) <= tol)) {
        fail(c, "C", idx, C[idx], y, tol);
        ok = false;
        break;
      }
    }
  }
  for (int g = 0; g < kGuard; ++g) {
    if (C[M * N + g] != kCanary) {
      fail(c, "write past end of C", M * N + g, C[M * N + g], kCanary, 0);
      ok = false;
      break;
    }
    if (pre[M * N + g] != kCanary) {
      fail(c, "write past end of preact", M * N + g, pre[M * N + g], kCanary, 0);
      ok = false;
      break;
    }
  }
  if (!c.preact) {
    for (long i = 0; i < M * N; ++i) {
      if (pre[i] != kCanary) {
        fail(c, "preact written although null", i, pre[i], kCanary, 0);
        ok = false;
        break;
      }
    }
  }
  return ok;
}

// gemm_reference itself against the inline double loop (it is what other C++ tests trust).
void check_reference(std::mt19937_64& rng) {
  for (int t = 0; t < 4; ++t) {
    const bool tA = t & 1, tB = t & 2;
    const int M = 5, N = 7, K = 9;
    std::vector<float> A = random_vec(rng, M * K), B = random_vec(rng, K * N);
    std::vector<float> C(M * N, std::numeric_limits<float>::quiet_NaN());
    myelin::gemm_reference(tA, tB, M, N, K, 2.0f, A.data(), B.data(), 0.0f, C.data());
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += double(tA ? A[k * M + i] : A[i * K + k]) * (tB ? B[j * K + k] : B[k * N + j]);
        ++g_checks;
        if (!(std::fabs(C[i * N + j] - 2.0 * s) <= 1e-6)) {
          Case c{tA, tB, M, N, K, 2.0f, 0.0f};
          fail(c, "gemm_reference", i * N + j, C[i * N + j], 2.0 * s, 1e-6);
        }
      }
  }
}

void run_suite(const char* label) {
  const int dims[] = {1, 3, 17, 65};
  const float alphas[] = {1.0f, 0.5f, -2.0f, 0.0f};
  const float betas[] = {0.0f, 1.0f, 0.5f, -2.0f};
  int n = 0;
  // Every transpose on a grid of small/awkward dims, cycling through alpha/beta.
  for (int M : dims)
    for (int N : dims)
      for (int K : dims)
        for (int t = 0; t < 4; ++t) {
          Case c{bool(t & 1), bool(t & 2), M, N, K, alphas[n % 4], betas[(n / 4) % 4]};
          ++n;
          run_case(c, g_rng);
        }
  // Larger and non-square shapes: cross MC/KC/NC block edges and the threading threshold.
  const int big[][3] = {{257, 65, 300}, {65, 257, 17}, {130, 257, 520}, {128, 256, 784},
                        {13, 4100, 3},  {300, 20, 257}, {7, 33, 1000},   {2, 2, 2}, {1, 257, 784},
                        {257, 1, 65},   {6, 16, 256},   {12, 32, 512},  {8, 32, 512},
                        {16, 64, 9},    {24, 784, 256}, {129, 97, 130}, {2056, 130, 24}};
  for (const auto& s : big)
    for (int t = 0; t < 4; ++t) {
      Case c{bool(t & 1), bool(t & 2), s[0], s[1], s[2], alphas[n % 4], betas[(n / 3) % 4]};
      ++n;
      run_case(c, g_rng);
    }
  // Epilogues: every activation, with bias and preact, on GEMV, small and multi-block shapes.
  const int epi_shapes[][3] = {{1, 40, 30}, {40, 1, 30}, {17, 33, 9}, {70, 50, 300}, {3, 200, 65},
                               {50, 3, 20}, {70, 200, 300}};
  for (int act = 0; act <= 6; ++act)
    for (const auto& s : epi_shapes) {
      const int t = (act + s[0]) % 4;
      Case c{bool(t & 1), bool(t & 2), s[0], s[1], s[2], 1.0f, (act % 2) ? 0.5f : 0.0f, act,
             (act % 3) != 1, act != 2};
      run_case(c, g_rng);
    }
  std::printf("  %s: simd=%s threads=%d done (%d failures so far)\n", label, myelin::gemm_simd_name(),
              myelin::num_threads(), g_failures.load());
}

void run_concurrent() {
  // Several std::threads calling gemm at once (the pool is shared: callers fall back to serial).
  const int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<int> bad(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &bad] {
      std::mt19937_64 rng(g_seed + 1000 + t);
      for (int rep = 0; rep < 4; ++rep) {
        Case c{bool((t + rep) & 1), bool((t + rep) & 2), 96 + 7 * t, 80 + 5 * rep, 300, 1.0f,
               rep % 2 ? 0.5f : 0.0f, rep % 3 == 0 ? myelin::kActTanh : -1, true, true};
        if (!run_case(c, rng)) bad[t] = 1;
      }
    });
  }
  for (auto& th : threads) th.join();
  int nbad = 0;
  for (int b : bad) nbad += b;
  std::printf("  concurrent callers: %d of %d threads saw failures\n", nbad, kThreads);
}

}  // namespace

int main() {
  const char* env_seed = std::getenv("MYELIN_TEST_SEED");
  g_seed = env_seed != nullptr ? std::strtoull(env_seed, nullptr, 10) : std::random_device{}();
  g_rng.seed(g_seed);
  std::printf("gemm_test seed=%llu (rerun with MYELIN_TEST_SEED=%llu)\n",
              static_cast<unsigned long long>(g_seed), static_cast<unsigned long long>(g_seed));

  check_reference(g_rng);
  const myelin::SimdLevel levels[] = {myelin::SimdLevel::Scalar, myelin::SimdLevel::Avx2,
                                       myelin::SimdLevel::Avx512};
  for (myelin::SimdLevel level : levels) {
    myelin::set_simd_level(level);
    if (myelin::gemm_simd_level() != level) {
      std::printf("  simd level %d not supported here: skipped\n", static_cast<int>(level));
      continue;
    }
    for (int threads : {1, 2}) {
      myelin::set_num_threads(threads);
      run_suite("suite");
    }
    myelin::set_num_threads(2);
    run_concurrent();
  }
  std::printf("gemm_test: %ld element checks, %d failures (seed=%llu)\n", g_checks.load(), g_failures.load(),
              static_cast<unsigned long long>(g_seed));
  return g_failures == 0 ? 0 : 1;
}
