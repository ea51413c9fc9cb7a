// Accuracy sweep of the elementwise/activation/softmax kernels against double-precision references:
// prints each function's max relative error over a dense sample of the float range and fails if a
// bound is exceeded. Runs with whatever SIMD level is active (MYELIN_SIMD=scalar forces scalar).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "activation.h"
#include "cpu.h"
#include "elementwise.h"
#include "gemm.h"
#include "softmax.h"

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Every `stride`-th float in [lo, hi] (both signs handled by the caller).
std::vector<float> sample(float lo, float hi, uint32_t stride) {
  std::vector<float> v;
  for (uint64_t u = 0; u < 0x7f800000u; u += stride) {
    float f = from_bits(static_cast<uint32_t>(u));
    if (f >= lo && f <= hi) v.push_back(f);
    if (-f >= lo && -f <= hi) v.push_back(-f);
  }
  return v;
}

double rel_err(double got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : INFINITY;
  if (std::isinf(want)) return got == want ? 0 : INFINITY;
  double a = std::fabs(want);
  if (a < 1.1754943508222875e-38) return std::fabs(got - want) > 1.5e-45 ? std::fabs(got - want) / 1.1754943508222875e-38 : 0;
  return std::fabs(got - want) / a;
}

int failures = 0;

template <class Ref>
void check(const char* name, const std::vector<float>& x, const std::vector<float>& y, Ref ref,
           double bound) {
  double worst = 0;
  float at = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double e = rel_err(y[i], ref(static_cast<double>(x[i])));
    if (e > worst) {
      worst = e;
      at = x[i];
    }
  }
  std::printf("%-12s max rel err %.3g at x = %.9g  (%zu points, bound %.1g)%s\n", name, worst, at,
              x.size(), bound, worst <= bound ? "" : "  FAIL");
  if (!(worst <= bound)) ++failures;
}

double phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

int main() {
  using namespace myelin;
  std::printf("simd: %s\n", simd_name());
  const uint32_t stride = 97;
  {
    std::vector<float> x = sample(-87.33f, 88.72f, stride), y(x.size());
    unary(kExp, static_cast<long>(x.size()), x.data(), y.data());
    check("exp", x, y, [](double v) { return std::exp(v); }, 2e-7);
  }
  {
    std::vector<float> x = sample(-100.0f, 100.0f, stride), y(x.size());
    activation_forward(kActSigmoid, static_cast<long>(x.size()), x.data(), y.data(), 0);
    check("sigmoid", x, y, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, 5e-7);
    activation_forward(kActTanh, static_cast<long>(x.size()), x.data(), y.data(), 0);
    check("tanh", x, y, [](double v) { return std::tanh(v); }, 5e-7);
  }
  {
    // geluTanh's exponent 2k(x + 0.044715 x^3) is itself rounded to float: below x ~ -6 the
    // function's condition number (~|exponent|) exceeds 30, so the sweep stops there.
    std::vector<float> x = sample(-6.0f, 100.0f, stride), y(x.size());
    activation_forward(kActGeluTanh, static_cast<long>(x.size()), x.data(), y.data(), 0);
    check("geluTanh", x, y, [](double v) {
      return v / (1 + std::exp(-2 * std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    }, 5e-6);
  }
  {
    // gelu is x Phi(x): below x ~ -13 the result underflows float, compare where it is normal.
    std::vector<float> x = sample(-13.0f, 100.0f, stride), y(x.size());
    activation_forward(kActGelu, static_cast<long>(x.size()), x.data(), y.data(), 0);
    check("gelu", x, y, [](double v) { return v * phi(v); }, 1e-6);
    std::vector<float> dy(x.size(), 1.0f), dx(x.size());
    activation_backward(kActGelu, static_cast<long>(x.size()), x.data(), y.data(), dy.data(),
                        dx.data(), 0);
    // gelu' has a zero near x = -0.75: compare with an absolute floor of 1e-7.
    double worst = 0;
    float at = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double v = x[i], want = phi(v) + v * std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI);
      // Phi and x phi cancel near x = -0.75: measure against the size of the terms.
      double scale = phi(v) + std::fabs(v) * std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI);
      double e = std::fabs(dx[i] - want) / scale;
      if (e > worst) {
        worst = e;
        at = x[i];
      }
    }
    std::printf("%-12s max err %.3g at x = %.9g (relative to |Phi| + |x phi|)%s\n", "gelu'", worst, at, worst <= 2e-6 ? "" : "  FAIL");
    if (!(worst <= 2e-6)) ++failures;
  }
  {
    // Special values.
    float sp[8] = {INFINITY, -INFINITY, NAN, -200.0f, 200.0f, 0.0f, -0.0f, -104.0f}, out[8];
    unary(kExp, 8, sp, out);
    bool ok = std::isinf(out[0]) && out[0] > 0 && out[1] == 0 && std::isnan(out[2]) && out[3] == 0 &&
              std::isinf(out[4]) && out[5] == 1 && out[6] == 1 && out[7] == 0;
    std::printf("exp specials: %s\n", ok ? "ok" : "FAIL");
    if (!ok) ++failures;
    activation_forward(kActTanh, 8, sp, out, 0);
    ok = out[0] == 1 && out[1] == -1 && std::isnan(out[2]) && out[3] == -1 && out[4] == 1;
    activation_forward(kActSigmoid, 8, sp, out, 0);
    ok = ok && out[0] == 1 && out[1] == 0 && std::isnan(out[2]) && out[5] == 0.5f;
    std::printf("tanh/sigmoid specials: %s\n", ok ? "ok" : "FAIL");
    if (!ok) ++failures;
  }
  {
    // Softmax of logits around 1e4 stays finite and sums to 1.
    float x[4] = {10000.0f, 10001.0f, -10000.0f, 9999.0f}, y[4];
    softmax(1, 4, x, y);
    double s = y[0] + y[1] + y[2] + y[3];
    bool ok = std::fabs(s - 1) < 1e-6 && std::fabs(y[1] - 0.6652409557748219) < 1e-6;
    std::printf("softmax 1e4: %s\n", ok ? "ok" : "FAIL");
    if (!ok) ++failures;
  }
  std::printf("%s\n", failures ? "FAILED" : "all ok");
  return failures ? 1 : 0;
}
