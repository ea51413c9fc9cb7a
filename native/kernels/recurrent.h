// The fused gate math of LSTM and GRU cells (one time step over a batch of B rows); the recurrence's
// matrix products run on the GEMM. Portable loops in recurrent.cc, AVX2+FMA in recurrent_avx2.cc,
// picked at run time by simd_level().
#pragma once

namespace myelin {

// LSTM step. gates [B, 4H] holds the pre-activations (x W_ih^T + b_ih + h W_hh^T + b_hh) in PyTorch's
// order i, f, g, o and is overwritten with the activations sigmoid(i), sigmoid(f), tanh(g), sigmoid(o).
//   c = f * c_prev + i * g;   h = o * tanh(c)
// Throws std::invalid_argument when G != 4 H.
void lstm_cell_forward(long B, long H, long G, float* gates, const float* c_prev, float* c, float* h);

// LSTM step backward from the activated gates, c_prev and c. dh: the gradient w.r.t. h; dc: on entry
// the gradient w.r.t. c from later steps, on return the gradient w.r.t. c_prev. dgates [B, 4H]
// receives the gradient w.r.t. the pre-activations.
void lstm_cell_backward(long B, long H, long G, const float* gates, const float* c_prev, const float* c,
                        const float* dh, float* dc, float* dgates);

// GRU step (PyTorch's form, the reset gate applied after the hidden product). gi [B, 3H] holds
// x W_ih^T + b_ih (order r, z, n) and is overwritten with r, z, n; gh [B, 3H] holds h_prev W_hh^T + b_hh.
//   r = sigmoid(gi_r + gh_r);  z = sigmoid(gi_z + gh_z);  n = tanh(gi_n + r * gh_n)
//   h = (1 - z) * n + z * h_prev
// Throws std::invalid_argument when G != 3 H.
void gru_cell_forward(long B, long H, long G, float* gi, const float* gh, const float* h_prev, float* h);

// GRU step backward from the activations (r, z, n in gates), gh and h_prev, given dh (the gradient
// w.r.t. h): dgi and dgh [B, 3H] receive the gradients w.r.t. the two pre-activation sums, dh_prev
// [B, H] the direct part dh * z (the path through W_hh is the caller's GEMM).
void gru_cell_backward(long B, long H, long G, const float* gates, const float* gh, const float* h_prev,
                       const float* dh, float* dgi, float* dgh, float* dh_prev);

// Internal: the per-ISA row loops (rows of one batch element each).
#define MYELIN_DECLARE_RECURRENT_LOOPS                                                            \
  void lstm_fwd_rows(long B, long H, float* gates, const float* c_prev, float* c, float* h);      \
  void lstm_bwd_rows(long B, long H, const float* gates, const float* c_prev, const float* c,     \
                     const float* dh, float* dc, float* dgates);                                 \
  void gru_fwd_rows(long B, long H, float* gi, const float* gh, const float* h_prev, float* h);   \
  void gru_bwd_rows(long B, long H, const float* gates, const float* gh, const float* h_prev,    \
                    const float* dh, float* dgi, float* dgh, float* dh_prev);
namespace scalar { MYELIN_DECLARE_RECURRENT_LOOPS }
namespace avx2 { MYELIN_DECLARE_RECURRENT_LOOPS }
#undef MYELIN_DECLARE_RECURRENT_LOOPS

}  // namespace myelin
