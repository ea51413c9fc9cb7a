// Normalisation kernels (portable C++): per-channel sums in double over [N, C, S], split across the pool by rows.
#include "norm.h"

#include <math.h>

#include <algorithm>
#include <vector>

#include "isa.h"
#if defined(__x86_64__) || defined(_M_X64)
#include "norm_spans.h"  // the AVX2 span loops (norm_avx2.cc); other CPUs get inline stubs below
#endif
#include "../runtime/cpu.h"
#include "../runtime/threadpool.h"

namespace myelin {
namespace {

// A row is one (n, c) span of S values at x + (n * C + c) * S; rows are numbered n * C + c.

// Sum of S floats in four double lanes (vectorisable without reassociating a single chain).
inline double span_sum_scalar(const float* p, long S) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  long j = 0;
  for (; j + 4 <= S; j += 4) {
    a0 += p[j];
    a1 += p[j + 1];
    a2 += p[j + 2];
    a3 += p[j + 3];
  }
  for (; j < S; ++j) a0 += p[j];
  return (a0 + a1) + (a2 + a3);
}

// Sum of (p - m)^2 over S floats.
inline double span_sq_dev_scalar(const float* p, long S, double m) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  long j = 0;
  for (; j + 4 <= S; j += 4) {
    double d0 = p[j] - m, d1 = p[j + 1] - m, d2 = p[j + 2] - m, d3 = p[j + 3] - m;
    a0 += d0 * d0;
    a1 += d1 * d1;
    a2 += d2 * d2;
    a3 += d3 * d3;
  }
  for (; j < S; ++j) {
    double d = p[j] - m;
    a0 += d * d;
  }
  return (a0 + a1) + (a2 + a3);
}

// Sums of dy and of dy * (x - m) over S values.
inline void span_grad_sums_scalar(const float* x, const float* dy, long S, double m, double* s_dy, double* s_dyx) {
  double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
  long j = 0;
  for (; j + 2 <= S; j += 2) {
    a0 += dy[j];
    a1 += dy[j + 1];
    b0 += dy[j] * (x[j] - m);
    b1 += dy[j + 1] * (x[j + 1] - m);
  }
  for (; j < S; ++j) {
    a0 += dy[j];
    b0 += dy[j] * (x[j] - m);
  }
  *s_dy += a0 + a1;
  *s_dyx += b0 + b1;
}

#if defined(__x86_64__) || defined(_M_X64)
// Spans of at least this many values take the AVX2 loops (when the CPU has them).
constexpr long kAvx2MinSpan = 16;
inline bool avx2_spans(long S) { return S >= kAvx2MinSpan && simd_level() == SimdLevel::Avx2; }
#else
inline bool avx2_spans(long) { return false; }
namespace norm_avx2 {  // never called off x86-64 (avx2_spans is false); keeps the calls below compiling
inline double span_sum(const float*, long) { return 0; }
inline double span_sq_dev(const float*, long, double) { return 0; }
inline void span_grad_sums(const float*, const float*, long, double, double*, double*) {}
inline void span_normalise(const float*, long, float, float, float, float*) {}
inline void span_dx(const float*, const float*, long, float, float, float, float, float*) {}
}  // namespace norm_avx2
#endif

inline double span_sum(const float* p, long S, bool v) { return v ? norm_avx2::span_sum(p, S) : span_sum_scalar(p, S); }
inline double span_sq_dev(const float* p, long S, double m, bool v) {
  return v ? norm_avx2::span_sq_dev(p, S, m) : span_sq_dev_scalar(p, S, m);
}
inline void span_grad_sums(const float* x, const float* dy, long S, double m, double* s_dy, double* s_dyx, bool v) {
  if (v) norm_avx2::span_grad_sums(x, dy, S, m, s_dy, s_dyx);
  else span_grad_sums_scalar(x, dy, S, m, s_dy, s_dyx);
}

// Calls f(n, c0, c1) for the rows [r0, r1) as runs of channels within one sample.
template <class F>
inline void for_segments(long r0, long r1, long C, const F& f) {
  long r = r0;
  while (r < r1) {
    const long n = r / C, c0 = r % C;
    const long c1 = std::min(C, c0 + (r1 - r));
    f(n, c0, c1);
    r += c1 - c0;
  }
}

// How many row ranges to split N*C rows of S values into (1 below the parallel threshold).
int tasks_for(long N, long C, long S) {
  const long rows = N * C;
  const int threads = num_threads();
  if (rows * S < kParallelThreshold || threads <= 1 || rows < 2) return 1;
  return static_cast<int>(std::min<long>(rows, 4L * threads));
}

// Runs body(t, r0, r1) for each of `tasks` row ranges of [0, rows).
template <class Body>
void run_split(int tasks, long rows, const Body& body) {
  if (tasks <= 1) {
    body(0, 0L, rows);
    return;
  }
  const long per = (rows + tasks - 1) / tasks;
  parallel_for(tasks, [&](int t) {
    const long r0 = t * per, r1 = std::min(rows, r0 + per);
    if (r0 < r1) body(t, r0, r1);
  });
}

// Per-call partial sums, reused across calls on the calling thread (no steady-state allocation).
double* partials(size_t n) {
  thread_local std::vector<double> buf;
  if (buf.size() < n) buf.resize(n);
  std::fill(buf.begin(), buf.begin() + static_cast<long>(n), 0.0);
  return buf.data();
}

// acc[c] (double[C]) = sum over tasks of part[t * C + c].
void reduce_parts(int tasks, long C, const double* part, double* acc) {
  for (long c = 0; c < C; ++c) acc[c] = part[c];
  for (int t = 1; t < tasks; ++t)
    for (long c = 0; c < C; ++c) acc[c] += part[t * C + c];
}

// out rows [r0, r1) = x * a[c] + b[c].
void affine_rows(long r0, long r1, long C, long S, const float* x, const float* a, const float* b, float* out) {
  for_segments(r0, r1, C, [&](long n, long c0, long c1) {
    if (S == 1) {
      const float* xr = x + n * C;
      float* orow = out + n * C;
      if (b != nullptr)
        for (long c = c0; c < c1; ++c) orow[c] = xr[c] * a[c] + b[c];
      else
        for (long c = c0; c < c1; ++c) orow[c] = xr[c] * a[c];
      return;
    }
    for (long c = c0; c < c1; ++c) {
      const float* p = x + (n * C + c) * S;
      float* q = out + (n * C + c) * S;
      const float sa = a[c], sb = b != nullptr ? b[c] : 0.0f;
      for (long j = 0; j < S; ++j) q[j] = p[j] * sa + sb;
    }
  });
}

}  // namespace

void batch_norm_forward(long N, long C, long S, const float* x, const float* weight, const float* bias,
                        float eps, float* out, float* mean, float* var, float* invstd) {
  const long rows = N * C;
  const int tasks = tasks_for(N, C, S);
  const bool v = avx2_spans(S);
  double* part = partials(static_cast<size_t>(tasks) * C + 2 * C);
  double* acc = part + static_cast<size_t>(tasks) * C;
  double* mean_d = acc + C;
  const double count = static_cast<double>(N) * static_cast<double>(S);
  // Pass 1: the mean.
  run_split(tasks, rows, [&](int t, long r0, long r1) {
    double* p = part + t * C;
    for_segments(r0, r1, C, [&](long n, long c0, long c1) {
      if (S == 1)
        for (long c = c0; c < c1; ++c) p[c] += x[n * C + c];
      else
        for (long c = c0; c < c1; ++c) p[c] += span_sum(x + (n * C + c) * S, S, v);
    });
  });
  reduce_parts(tasks, C, part, acc);
  for (long c = 0; c < C; ++c) mean_d[c] = acc[c] / count;
  // Pass 2: squared deviations from it (two passes: no cancellation for large means).
  std::fill(part, part + static_cast<size_t>(tasks) * C, 0.0);
  run_split(tasks, rows, [&](int t, long r0, long r1) {
    double* p = part + t * C;
    for_segments(r0, r1, C, [&](long n, long c0, long c1) {
      if (S == 1)
        for (long c = c0; c < c1; ++c) {
          const double d = x[n * C + c] - mean_d[c];
          p[c] += d * d;
        }
      else
        for (long c = c0; c < c1; ++c) p[c] += span_sq_dev(x + (n * C + c) * S, S, mean_d[c], v);
    });
  });
  reduce_parts(tasks, C, part, acc);
  thread_local std::vector<float> coef;
  if (coef.size() < static_cast<size_t>(2 * C)) coef.resize(2 * C);
  float* a = coef.data();  // weight * invstd
  float* b = a + C;        // bias
  for (long c = 0; c < C; ++c) {
    const float v = static_cast<float>(acc[c] / count);
    const float is = 1.0f / sqrtf(v + eps);
    mean[c] = static_cast<float>(mean_d[c]);
    var[c] = v;
    invstd[c] = is;
    a[c] = (weight != nullptr ? weight[c] : 1.0f) * is;
    b[c] = bias != nullptr ? bias[c] : 0.0f;
  }
  // Pass 3: out = (x - mean) * (invstd * weight) + bias (centred first: no cancellation for large means).
  run_split(tasks, rows, [&](int, long r0, long r1) {
    for_segments(r0, r1, C, [&](long n, long c0, long c1) {
      if (S == 1) {
        const long o = n * C;
        for (long c = c0; c < c1; ++c) out[o + c] = (x[o + c] - mean[c]) * a[c] + b[c];
        return;
      }
      for (long c = c0; c < c1; ++c) {
        const long o = (n * C + c) * S;
        const float m = mean[c], ca = a[c], cb = b[c];
        if (v) {
          norm_avx2::span_normalise(x + o, S, m, ca, cb, out + o);
          continue;
        }
        for (long j = 0; j < S; ++j) out[o + j] = (x[o + j] - m) * ca + cb;
      }
    });
  });
}

void batch_norm_backward(long N, long C, long S, const float* x, const float* mean, const float* invstd,
                         const float* weight, const float* dy, bool training, float* dx, float* dweight,
                         float* dbias) {
  const long rows = N * C;
  const int tasks = tasks_for(N, C, S);
  const bool v = avx2_spans(S);
  const bool need_sums = training || dweight != nullptr || dbias != nullptr;
  thread_local std::vector<float> coef;
  if (coef.size() < static_cast<size_t>(3 * C)) coef.resize(3 * C);
  float* a = coef.data();  // dx = dy * a + (x - mean) * b + k, per channel
  float* b = a + C;
  float* k = b + C;
  if (need_sums) {
    // Sums of dy and dy * (x - mean) per channel, from per-task partials.
    double* part = partials(static_cast<size_t>(tasks) * 2 * C + 2 * C);
    double* s_dy = part + static_cast<size_t>(tasks) * 2 * C;
    double* s_dyx = s_dy + C;
    run_split(tasks, rows, [&](int t, long r0, long r1) {
      double* pd = part + t * 2 * C;
      double* px = pd + C;
      for_segments(r0, r1, C, [&](long n, long c0, long c1) {
        if (S == 1)
          for (long c = c0; c < c1; ++c) {
            const float g = dy[n * C + c];
            pd[c] += g;
            px[c] += static_cast<double>(g) * (static_cast<double>(x[n * C + c]) - mean[c]);
          }
        else
          for (long c = c0; c < c1; ++c) {
            const long o = (n * C + c) * S;
            span_grad_sums(x + o, dy + o, S, mean[c], pd + c, px + c, v);
          }
      });
    });
    for (long c = 0; c < C; ++c) {
      double sd = 0, sx = 0;
      for (int t = 0; t < tasks; ++t) {
        sd += part[t * 2 * C + c];
        sx += part[t * 2 * C + C + c];
      }
      s_dy[c] = sd;
      s_dyx[c] = sx * invstd[c];  // sum dy * xhat
    }
    if (dweight != nullptr)
      for (long c = 0; c < C; ++c) dweight[c] = static_cast<float>(s_dyx[c]);
    if (dbias != nullptr)
      for (long c = 0; c < C; ++c) dbias[c] = static_cast<float>(s_dy[c]);
    if (dx == nullptr) return;
    const double count = static_cast<double>(N) * static_cast<double>(S);
    for (long c = 0; c < C; ++c) {
      const double w = weight != nullptr ? weight[c] : 1.0;
      const double wi = w * invstd[c];
      a[c] = static_cast<float>(wi);
      if (training) {
        b[c] = static_cast<float>(-wi * invstd[c] * s_dyx[c] / count);
        k[c] = static_cast<float>(-wi * s_dy[c] / count);
      } else {
        b[c] = 0.0f;
        k[c] = 0.0f;
      }
    }
  } else {
    if (dx == nullptr) return;
    for (long c = 0; c < C; ++c) {
      a[c] = (weight != nullptr ? weight[c] : 1.0f) * invstd[c];
      b[c] = 0.0f;
      k[c] = 0.0f;
    }
  }
  if (!training) {
    run_split(tasks, rows, [&](int, long r0, long r1) { affine_rows(r0, r1, C, S, dy, a, nullptr, dx); });
    return;
  }
  run_split(tasks, rows, [&](int, long r0, long r1) {
    for_segments(r0, r1, C, [&](long n, long c0, long c1) {
      if (S == 1) {
        const long o = n * C;
        for (long c = c0; c < c1; ++c) dx[o + c] = dy[o + c] * a[c] + (x[o + c] - mean[c]) * b[c] + k[c];
        return;
      }
      for (long c = c0; c < c1; ++c) {
        const long o = (n * C + c) * S;
        const float ca = a[c], cb = b[c], ck = k[c], m = mean[c];
        if (v) {
          norm_avx2::span_dx(dy + o, x + o, S, ca, m, cb, ck, dx + o);
          continue;
        }
        for (long j = 0; j < S; ++j) dx[o + j] = dy[o + j] * ca + (x[o + j] - m) * cb + ck;
      }
    });
  });
}

void channel_affine(long N, long C, long S, const float* x, const float* scale, const float* shift, float* out) {
  run_split(tasks_for(N, C, S), N * C, [&](int, long r0, long r1) { affine_rows(r0, r1, C, S, x, scale, shift, out); });
}

}  // namespace myelin
