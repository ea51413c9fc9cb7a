// GEMM benchmark: myelin vs OpenBLAS and BLIS (loaded with dlopen when present), interleaved in one run.
//
// Usage: gemm_bench [--reps N] [--threads 1,2] [--quick] [--cpu-clock] [--filter TEXT[,TEXT...]] [--json out.json]
//                   [--openblas PATH] [--blis PATH] [--openblas-coretype NAME]
// --openblas-coretype sets OPENBLAS_CORETYPE before OpenBLAS loads (e.g. SkylakeX for its AVX-512
// kernels, Haswell/Zen for AVX2); MYELIN_SIMD=avx2|scalar caps our kernels.
// --cpu-clock times with process CPU time instead of wall time: on a machine shared with other
// work it removes time-slicing noise, but it is only meaningful with --threads 1 (idle spinning
// threads of a multi-threaded run would count).
// For every shape and thread count each repetition times ours, OpenBLAS and BLIS back to back,
// in rotating order and with a pause between libraries (so clock changes hit all three alike) and reports the median GFLOP/s over the repetitions,
// the fraction of the measured FMA peak and ours / best(reference).
#include <dlfcn.h>
#include <time.h>
#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "native/kernels/gemm.h"
#include "native/runtime/cpu.h"
#include "native/runtime/threadpool.h"

#ifndef MYELIN_OPENBLAS_PATH
#define MYELIN_OPENBLAS_PATH "libopenblas.so.0"
#endif
#ifndef MYELIN_BLIS_PATH
#define MYELIN_BLIS_PATH "libblis.so.4"
#endif

namespace {

bool g_cpu_clock = false;

double now_seconds(clockid_t cpu_clock = CLOCK_PROCESS_CPUTIME_ID) {
  timespec ts;
  clock_gettime(g_cpu_clock ? cpu_clock : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// CBLAS row-major sgemm, as exported by both OpenBLAS and BLIS (declared here, no headers needed).
using CblasSgemm = void (*)(int order, int transA, int transB, int M, int N, int K, float alpha,
                            const float* A, int lda, const float* B, int ldb, float beta, float* C,
                            int ldc);
using SetThreads = void (*)(int);
constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111, kCblasTrans = 112;

struct RefLib {
  std::string name;
  void* handle = nullptr;
  CblasSgemm sgemm = nullptr;
  SetThreads set_threads = nullptr;
};

// RTLD_LOCAL keeps the two libraries' identical BLAS symbols apart.
RefLib load_ref(const char* name, const char* path, const char* threads_symbol) {
  RefLib lib;
  lib.name = name;
  lib.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib.handle == nullptr) {
    std::printf("# %s: not loaded (%s)\n", name, dlerror());
    return lib;
  }
  lib.sgemm = reinterpret_cast<CblasSgemm>(dlsym(lib.handle, "cblas_sgemm"));
  lib.set_threads = reinterpret_cast<SetThreads>(dlsym(lib.handle, threads_symbol));
  if (lib.sgemm == nullptr) {
    std::printf("# %s: no cblas_sgemm in %s\n", name, path);
    lib.handle = nullptr;
  } else {
    std::printf("# %s: %s%s\n", name, path, lib.set_threads ? "" : " (no thread control!)");
  }
  return lib;
}

// FMA throughput: 10 independent chains of 8-wide FMAs (latency 4 x 2 ports needs >= 8).
__attribute__((target("avx2,fma"), noinline)) double fma_peak_loop(long iters) {
  __m256 a0 = _mm256_set1_ps(0.0f), a1 = _mm256_set1_ps(0.1f), a2 = _mm256_set1_ps(0.2f);
  __m256 a3 = _mm256_set1_ps(0.3f), a4 = _mm256_set1_ps(0.4f), a5 = _mm256_set1_ps(0.5f);
  __m256 a6 = _mm256_set1_ps(0.6f), a7 = _mm256_set1_ps(0.7f), a8 = _mm256_set1_ps(0.8f);
  __m256 a9 = _mm256_set1_ps(0.9f);
  const __m256 x = _mm256_set1_ps(0.999999f);
  const __m256 y = _mm256_set1_ps(1e-7f);
  const double t0 = now_seconds(CLOCK_THREAD_CPUTIME_ID);
  for (long it = 0; it < iters; ++it) {
    a0 = _mm256_fmadd_ps(a0, x, y);
    a1 = _mm256_fmadd_ps(a1, x, y);
    a2 = _mm256_fmadd_ps(a2, x, y);
    a3 = _mm256_fmadd_ps(a3, x, y);
    a4 = _mm256_fmadd_ps(a4, x, y);
    a5 = _mm256_fmadd_ps(a5, x, y);
    a6 = _mm256_fmadd_ps(a6, x, y);
    a7 = _mm256_fmadd_ps(a7, x, y);
    a8 = _mm256_fmadd_ps(a8, x, y);
    a9 = _mm256_fmadd_ps(a9, x, y);
  }
  const double secs = now_seconds(CLOCK_THREAD_CPUTIME_ID) - t0;
  __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  sum = _mm256_add_ps(sum, _mm256_add_ps(a8, a9));
  if (_mm256_cvtss_f32(sum) == 12345.0f) std::printf(" ");
  return static_cast<double>(iters) * 10 * 16 / secs / 1e9;  // GFLOP/s
}

// The same with 16-wide (zmm) FMAs, for CPUs whose GEMM kernels run AVX-512.
__attribute__((target("avx512f"), noinline)) double fma_peak_loop_512(long iters) {
  __m512 acc[10];
  for (int i = 0; i < 10; ++i) acc[i] = _mm512_set1_ps(0.1f * i);
  const __m512 x = _mm512_set1_ps(0.999999f);
  const __m512 y = _mm512_set1_ps(1e-7f);
  const double t0 = now_seconds(CLOCK_THREAD_CPUTIME_ID);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 10
    for (int i = 0; i < 10; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  const double secs = now_seconds(CLOCK_THREAD_CPUTIME_ID) - t0;
  __m512 sum = acc[0];
  for (int i = 1; i < 10; ++i) sum = _mm512_add_ps(sum, acc[i]);
  if (_mm512_reduce_add_ps(sum) == 12345.0f) std::printf(" ");
  return static_cast<double>(iters) * 10 * 32 / secs / 1e9;  // GFLOP/s
}

bool g_peak_512 = false;  // measure the peak with zmm FMAs (our GEMM runs AVX-512)

// Peak GFLOP/s summed over `threads` threads running the loop at once; median of reps.
double measure_peak(int threads, int reps) {
  const long iters = 20000000;
  std::vector<double> totals;
  for (int r = 0; r < reps; ++r) {
    std::vector<double> per(threads);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] { per[t] = g_peak_512 ? fma_peak_loop_512(iters) : fma_peak_loop(iters); });
    }
    for (auto& t : ts) t.join();
    double sum = 0;
    for (double v : per) sum += v;
    totals.push_back(sum);
  }
  std::sort(totals.begin(), totals.end());
  return totals[totals.size() / 2];
}

struct Shape {
  std::string label;
  bool tA, tB;
  int M, N, K;
};

float* alloc_floats(long n) {
  float* p = static_cast<float*>(std::aligned_alloc(64, ((n * 4 + 63) / 64) * 64));
  return p;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

struct Result {
  std::string label;
  int threads;
  double ours, openblas, blis;
  double ours_spread;  // (max - min) / median of ours over the reps
  double max_rel_err;
};

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  bool quick = false;
  std::vector<int> thread_counts = {1, 2};
  std::string filter;  // run only shapes whose label contains one of these (comma-separated)
  std::string json_path, openblas_path = MYELIN_OPENBLAS_PATH, blis_path = MYELIN_BLIS_PATH;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gemm_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--reps") reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--quick") quick = true;
    else if (a == "--cpu-clock") g_cpu_clock = true;
    else if (a == "--filter") filter = next();
    else if (a == "--json") json_path = next();
    else if (a == "--openblas") openblas_path = next();
    else if (a == "--blis") blis_path = next();
    else if (a == "--openblas-coretype") setenv("OPENBLAS_CORETYPE", next().c_str(), 1);
    else if (a == "--threads") {
      thread_counts.clear();
      std::string s = next();
      for (size_t p = 0; p < s.size();) {
        size_t q = s.find(',', p);
        if (q == std::string::npos) q = s.size();
        thread_counts.push_back(std::max(1, std::atoi(s.substr(p, q - p).c_str())));
        p = q + 1;
      }
    } else {
      std::fprintf(stderr, "usage: gemm_bench [--reps N] [--threads 1,2] [--quick] [--cpu-clock] [--filter TEXT] [--json FILE] "
                           "[--openblas PATH] [--blis PATH] [--openblas-coretype NAME]\n");
      return 2;
    }
  }

  std::printf("# myelin gemm_bench: gemm simd=%s, hardware threads=%u, reps=%d (median), clock=%s\n",
              myelin::gemm_simd_name(), std::thread::hardware_concurrency(), reps,
              g_cpu_clock ? "process CPU time" : "wall");
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("# OPENBLAS_CORETYPE=%s\n", coretype != nullptr ? coretype : "(unset: auto-detect)");
  RefLib openblas = load_ref("OpenBLAS", openblas_path.c_str(), "openblas_set_num_threads");
  if (openblas.handle != nullptr) {
    using CoreName = char* (*)();
    auto core = reinterpret_cast<CoreName>(dlsym(openblas.handle, "openblas_get_corename"));
    if (core != nullptr) std::printf("# OpenBLAS core: %s\n", core());
  }
  // Debian's BLIS 0.9 does not recognise newer AMD cores and falls back to its slow "generic"
  // kernels; default to its zen3 (AVX2) sub-configuration, the ISA our kernels use.
  if (std::getenv("BLIS_ARCH_TYPE") == nullptr) setenv("BLIS_ARCH_TYPE", "6", 1);
  std::printf("# BLIS_ARCH_TYPE=%s (6 = zen3, AVX2)\n", std::getenv("BLIS_ARCH_TYPE"));
  RefLib blis = load_ref("BLIS", blis_path.c_str(), "bli_thread_set_num_threads");

  std::vector<Shape> shapes;
  const int squares_full[] = {64, 128, 256, 512, 1024, 2048};
  const int squares_quick[] = {64, 256, 1024};
  if (quick) {
    for (int n : squares_quick) shapes.push_back({std::to_string(n) + "^3 NN", false, false, n, n, n});
  } else {
    for (int n : squares_full) shapes.push_back({std::to_string(n) + "^3 NN", false, false, n, n, n});
  }
  shapes.push_back({"mlp fwd 128x256x784 NT", false, true, 128, 256, 784});
  shapes.push_back({"mlp dX 128x784x256 NN", false, false, 128, 784, 256});
  shapes.push_back({"mlp dW 256x784x128 TN", true, false, 256, 784, 128});
  shapes.push_back({"mlp fwd 128x256x128 NT", false, true, 128, 256, 128});
  shapes.push_back({"mlp dX 128x128x256 NN", false, false, 128, 128, 256});
  shapes.push_back({"mlp dW 256x128x128 TN", true, false, 256, 128, 128});
  shapes.push_back({"infer 1x256x784 NT", false, true, 1, 256, 784});

  if (!filter.empty()) {
    std::vector<Shape> kept;
    // Comma-separated alternatives: a shape is kept when its label contains any of them.
    std::vector<std::string> parts;
    for (size_t p = 0; p <= filter.size();) {
      size_t q = filter.find(',', p);
      if (q == std::string::npos) q = filter.size();
      if (q > p) parts.push_back(filter.substr(p, q - p));
      p = q + 1;
    }
    for (const Shape& sh : shapes) {
      for (const std::string& part : parts) {
        if (sh.label.find(part) != std::string::npos) {
          kept.push_back(sh);
          break;
        }
      }
    }
    shapes = kept;
  }
  const int max_threads = *std::max_element(thread_counts.begin(), thread_counts.end());
  std::vector<double> peaks(max_threads + 1, 0.0);
  g_peak_512 = myelin::gemm_simd_level() == myelin::SimdLevel::Avx512;
  peaks[1] = measure_peak(1, 5);
  std::printf("# FMA peak (%s, 10 chains): %.1f GFLOP/s on 1 thread", g_peak_512 ? "AVX-512" : "AVX2", peaks[1]);
  for (int t : thread_counts) {
    if (t <= 1) continue;
    peaks[t] = measure_peak(t, 5);
    std::printf(", %.1f GFLOP/s on %d threads", peaks[t], t);
  }
  std::printf("\n");

  std::vector<Result> results;
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::printf("%-26s %3s %9s %6s %9s %9s %7s %8s %9s\n", "shape", "thr", "ours GF/s", "%peak",
              "OpenBLAS", "BLIS", "ratio", "spread", "max err");
  for (int threads : thread_counts) {
    myelin::set_num_threads(threads);
    if (openblas.set_threads) openblas.set_threads(threads);
    if (blis.set_threads) blis.set_threads(threads);
    for (const Shape& s : shapes) {
      const long M = s.M, N = s.N, K = s.K;
      float* A = alloc_floats(M * K);
      float* B = alloc_floats(K * N);
      float* C = alloc_floats(M * N);
      float* Cref = alloc_floats(M * N);
      for (long i = 0; i < M * K; ++i) A[i] = dist(rng);
      for (long i = 0; i < K * N; ++i) B[i] = dist(rng);
      const double flops = 2.0 * M * N * K;
      // Enough calls per timing that one timing lasts >= ~20 ms (median over reps).
      const int inner = std::max(1, static_cast<int>(20e-3 * 60e9 * threads / flops));
      const int lda = s.tA ? s.M : s.K, ldb = s.tB ? s.K : s.N;

      auto run_ours = [&] { myelin::gemm(s.tA, s.tB, s.M, s.N, s.K, 1.0f, A, B, 0.0f, C); };
      auto run_ref = [&](const RefLib& lib) {
        lib.sgemm(kCblasRowMajor, s.tA ? kCblasTrans : kCblasNoTrans, s.tB ? kCblasTrans : kCblasNoTrans,
                  s.M, s.N, s.K, 1.0f, A, lda, B, ldb, 0.0f, Cref, s.N);
      };
      auto time_gf = [&](auto&& fn) {
        // Let the previous library's idle threads stop spinning (ours spin ~0.5 ms after a call,
        // OpenBLAS's and OpenMP's longer) so they do not steal the cores from this one.
        // (OpenBLAS's idle threads spin with sched_yield for ~0.1 s after a call.)
        std::this_thread::sleep_for(std::chrono::milliseconds(threads > 1 ? 150 : 1));
        // Warm up for as long as the timing lasts: packing buffers, page faults, and above all the
        // pool threads, which after the pause sleep on cores the OS (or hypervisor) has clocked
        // down; the first ~10 ms after waking run far below steady speed for every library.
        for (int r = 0; r < inner; ++r) fn();
        const double t0 = now_seconds();
        for (int r = 0; r < inner; ++r) fn();
        const double secs = now_seconds() - t0;
        return flops * inner / secs / 1e9;
      };
      std::vector<double> ours, ob, bl;
      for (int r = 0; r < reps; ++r) {
        // Rotate who goes first so no library always follows the same neighbour.
        for (int slot = 0; slot < 3; ++slot) {
          const int who = (slot + r) % 3;
          if (who == 0) ours.push_back(time_gf(run_ours));
          if (who == 1 && openblas.sgemm) ob.push_back(time_gf([&] { run_ref(openblas); }));
          if (who == 2 && blis.sgemm) bl.push_back(time_gf([&] { run_ref(blis); }));
        }
      }
      // Accuracy of ours against a reference library (relative to K * max|a| * max|b| = K).
      double max_err = -1.0;
      const RefLib* check = openblas.sgemm ? &openblas : (blis.sgemm ? &blis : nullptr);
      if (check != nullptr) {
        run_ours();
        run_ref(*check);
        max_err = 0;
        for (long i = 0; i < M * N; ++i) max_err = std::max(max_err, std::fabs(double(C[i]) - Cref[i]) / K);
      }
      Result res{s.label, threads, median(ours), median(ob), median(bl), 0.0, max_err};
      const double lo = *std::min_element(ours.begin(), ours.end());
      const double hi = *std::max_element(ours.begin(), ours.end());
      res.ours_spread = (hi - lo) / res.ours;
      const double best = std::max(res.openblas, res.blis);
      const double peak = peaks[threads];
      std::printf("%-26s %3d %9.1f %5.0f%% %9.1f %9.1f %7.2f %7.0f%% %9.1e\n", s.label.c_str(), threads,
                  res.ours, 100.0 * res.ours / peak, res.openblas, res.blis,
                  best > 0 ? res.ours / best : 0.0, 100.0 * res.ours_spread, res.max_rel_err);
      std::fflush(stdout);
      results.push_back(res);
      std::free(A);
      std::free(B);
      std::free(C);
      std::free(Cref);
    }
  }
  std::printf("# ratio = ours / best(OpenBLAS, BLIS) medians; spread = (max-min)/median of ours;"
              " max err = max|ours-ref|/K\n");

  // Thread scaling next to the FMA peak of the same run: per shape, ours on 1 thread and on the
  // largest thread count, each as a fraction of the peak measured at that thread count.
  if (max_threads > 1 && peaks[1] > 0) {
    std::printf("# thread scaling vs the FMA peak (%.1f GFLOP/s on 1 thread, %.1f on %d: x%.2f)\n",
                peaks[1], peaks[max_threads], max_threads, peaks[max_threads] / peaks[1]);
    std::printf("%-26s %9s %6s %9s %6s %8s\n", "shape", "1t GF/s", "%peak", "Nt GF/s", "%peak", "Nt/1t");
    for (const Result& one : results) {
      if (one.threads != 1) continue;
      for (const Result& many : results) {
        if (many.threads != max_threads || many.label != one.label) continue;
        std::printf("%-26s %9.1f %5.0f%% %9.1f %5.0f%% %8.2f\n", one.label.c_str(), one.ours,
                    100.0 * one.ours / peaks[1], many.ours, 100.0 * many.ours / peaks[max_threads],
                    one.ours > 0 ? many.ours / one.ours : 0.0);
      }
    }
  }

  if (!json_path.empty()) {
    std::string tmp = json_path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "gemm_bench: cannot write %s\n", tmp.c_str());
      return 1;
    }
    std::fprintf(f, "{\n  \"simd\": \"%s\",\n  \"reps\": %d,\n  \"clock\": \"%s\",\n  \"peak_gflops\": {",
                 myelin::gemm_simd_name(), reps, g_cpu_clock ? "cpu" : "wall");
    bool first = true;
    for (int t : thread_counts) {
      std::fprintf(f, "%s\"%d\": %.2f", first ? "" : ", ", t, peaks[t]);
      first = false;
    }
    std::fprintf(f, "},\n  \"results\": [\n");
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      const double best = std::max(r.openblas, r.blis);
      std::fprintf(f,
                   "    {\"shape\": \"%s\", \"threads\": %d, \"ours_gflops\": %.2f, \"openblas_gflops\": %.2f, "
                   "\"blis_gflops\": %.2f, \"ratio_vs_best\": %.3f, \"fraction_of_peak\": %.3f, \"ours_spread\": %.3f, \"max_rel_err\": %.3g}%s\n",
                   r.label.c_str(), r.threads, r.ours, r.openblas, r.blis, best > 0 ? r.ours / best : 0.0,
                   peaks[r.threads] > 0 ? r.ours / peaks[r.threads] : 0.0,
                   r.ours_spread, r.max_rel_err, i + 1 < results.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    std::fflush(f);
    fsync(fileno(f));
    std::fclose(f);
    if (std::rename(tmp.c_str(), json_path.c_str()) != 0) {
      std::fprintf(stderr, "gemm_bench: cannot rename %s\n", tmp.c_str());
      return 1;
    }
    std::printf("# wrote %s\n", json_path.c_str());
  }
  return 0;
}
