// Fused scaled-dot-product attention (FlashAttention-style): scores are computed a block of keys at a
// time with an online softmax, so memory is O(length * headDim), never length x length. Forward
// keeps each query row's log-sum-exp; backward recomputes the probabilities from it. One loop body
// (attention_loops.inc) compiled three times: portable, AVX2+FMA and AVX-512, picked at run time by
// gemm_simd_level(); heads and query-row chunks are spread over the thread pool.
#pragma once

namespace myelin {

// Shapes (BH = B * H heads; BH not a multiple of B throws std::invalid_argument):
// q [B*H, T, D], k and v [B*H, S, D], out [B*H, T, D], lse [B*H, T].
// score(i, j) = scale * q_i . k_j over the keys j that query i may see:
//   key_padding (nullable, [B, S]): a nonzero entry hides key j from every query of batch b;
//   causal: query i sees keys j <= i + (S - T) (the last query row sits at the last key: with
//   T == S the usual lower triangle, with T < S the rows are the newest positions of a cache).
// p(i, j) = softmax_j(score); out_i = sum_j p(i, j) * keep(i, j) / (1 - dropout) * v_j where
// keep is a counter-based hash of (seed, head, i, j) (attention_keep in attention_loops.inc); with
// dropout == 0 every key is kept. A row that sees no key gets out = 0 and lse = -inf.
struct AttentionShape {
  long B, H, T, S, D;
  const float* key_padding;
  bool causal;
  float scale;
  float dropout;
  unsigned seed;
  // Layout: head bh = (b, h) of q (and dq) starts at q + b * q_bs + h * q_hs, its rows q_rs apart;
  // likewise k, v, dk, dv (kv_*) and out, dout (o_*). lse is always [B*H, T].
  long q_bs, q_hs, q_rs, kv_bs, kv_hs, kv_rs, o_bs, o_hs, o_rs;
};

void attention_forward(long BH, long B, long T, long S, long D, const float* q, const float* k,
                       const float* v, const float* key_padding, bool causal, float scale,
                       float dropout, long seed, float* out, float* lse);

// Gradients from dout, the forward's out and lse (same arguments): dq, dk, dv are overwritten.
void attention_backward(long BH, long B, long T, long S, long D, const float* q, const float* k,
                        const float* v, const float* key_padding, bool causal, float scale,
                        float dropout, long seed, const float* out, const float* lse,
                        const float* dout, float* dq, float* dk, float* dv);

// The same attention over self-attention's packed projections: qkv [B, T, Q] with Q = 3 * E (each row
// the query, key and value of all heads, head h at columns h * D of each third, D = E / H), out
// [B, T, E] (the heads side by side: no permutes around the kernel), lse [B*H, T], key_padding
// [B, T]. Backward overwrites all of dqkv [B, T, Q]. E not a multiple of H, or Q != 3 * E, throws
// std::invalid_argument.
void attention_qkv_forward(long B, long T, long H, long E, long Q, const float* qkv,
                           const float* key_padding, bool causal, float scale, float dropout,
                           long seed, float* out, float* lse);
void attention_qkv_backward(long B, long T, long H, long E, long Q, const float* qkv,
                            const float* key_padding, bool causal, float scale, float dropout,
                            long seed, const float* out, const float* lse, const float* dout,
                            float* dqkv);

// Internal: the per-ISA loops over rows [t0, t1) of head bh (forward) or a whole head (backward).
// scratch holds attention_scratch_floats(S, D) floats: keys and values transposed (D x Sp each, Sp =
// S rounded up to kAttentionKeyPad), then row blocks and score tiles.
constexpr long kAttentionKeyPad = 64;
constexpr long attention_scratch_floats(long S, long D) {
  return 2 * D * ((S + kAttentionKeyPad - 1) / kAttentionKeyPad * kAttentionKeyPad) + 16 * D +
         8 * kAttentionKeyPad;
}
#define MYELIN_DECLARE_ATTENTION_LOOPS                                                            \
  void attention_forward_rows(const AttentionShape& a, long bh, long t0, long t1, const float* q, \
                              const float* k, const float* v, float* out, float* lse,           \
                              float* scratch);                                                    \
  void attention_backward_head(const AttentionShape& a, long bh, const float* q, const float* k,  \
                               const float* v, const float* out, const float* lse,                \
                               const float* dout, float* dq, float* dk, float* dv,                \
                               float* scratch);
namespace scalar { MYELIN_DECLARE_ATTENTION_LOOPS }
namespace avx2 { MYELIN_DECLARE_ATTENTION_LOOPS }
namespace avx512 { MYELIN_DECLARE_ATTENTION_LOOPS }
#undef MYELIN_DECLARE_ATTENTION_LOOPS

}  // namespace myelin
