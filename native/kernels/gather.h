// Row gather and scatter-add over a [V, D] table: the embedding lookup and its gradient.
#pragma once
#include <cstdint>

namespace myelin {

// out[i] (D floats) = table[idx[i]] for i < n. Indices are checked by the binding (0 <= idx < V).
void gather_rows(long V, long D, long n, const float* table, const int32_t* idx, float* out);
// table[idx[i]] += src[i] (D floats) for i < n with idx[i] != skip, in index order (the same sums as the TS twin).
void scatter_add_rows(long V, long D, long n, float* table, const int32_t* idx, const float* src, long skip);

}  // namespace myelin
