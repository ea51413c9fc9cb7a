// Row gather (memcpy per row) and scatter-add (a vectorisable add per row), single-threaded: rows may repeat
// in a scatter-add, and a lookup moves n*D floats, bound by memory rather than arithmetic.
#include "gather.h"

#include <cstring>

namespace myelin {

void gather_rows(long V, long D, long n, const float* table, const int32_t* idx, float* out) {
  (void)V;
  const size_t bytes = static_cast<size_t>(D) * sizeof(float);
  for (long i = 0; i < n; i++) {
    std::memcpy(out + i * D, table + static_cast<long>(idx[i]) * D, bytes);
  }
}

void scatter_add_rows(long V, long D, long n, float* table, const int32_t* idx, const float* src, long skip) {
  (void)V;
  for (long i = 0; i < n; i++) {
    const long r = idx[i];
    if (r == skip) continue;
    float* __restrict dst = table + r * D;
    const float* __restrict s = src + i * D;
    for (long k = 0; k < D; k++) dst[k] += s[k];
  }
}

}  // namespace myelin
