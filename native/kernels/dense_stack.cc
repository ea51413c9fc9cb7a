// Inference forward pass of a whole stack of dense layers, split by rows across the thread pool.
#include "dense_stack.h"

#include <algorithm>
#include <cstddef>
#include <memory>

#include "linear.h"
#include "softmax.h"
#include "../runtime/threadpool.h"

namespace myelin {

namespace {

// Below this many multiply-adds per row block, splitting rows does not pay for the hand-off.
constexpr double kMinWorkPerBlock = 4.0e6;
constexpr int kRowAlign = 8;  // row blocks in multiples of the GEMM microkernel's row tile

// Scratch owned by the calling thread, grown on demand and kept: fresh memory costs a page fault
// per 4 KiB (and a memset), which measured 5x slower than the whole forward pass in this VM. One
// call at a time runs per thread, so reuse is safe; concurrent calls come from different threads.
float* calling_thread_scratch(size_t floats) {
  thread_local std::unique_ptr<float[]> buffer;
  thread_local size_t capacity = 0;
  if (floats > capacity) {
    buffer.reset(new float[floats]);  // uninitialised: every element is written before it is read
    capacity = floats;
  }
  return buffer.get();
}

// Runs every layer on rows [r0, r1) with the given ping-pong scratch (each rows*maxN floats).
void run_rows(int r0, int r1, int nlayers, const DenseLayer* layers, const float* X, float* out,
              bool softmax, float* a, float* b) {
  const int rows = r1 - r0;
  const float* in = X + static_cast<size_t>(r0) * layers[0].K;
  float* last_out = out + static_cast<size_t>(r0) * layers[nlayers - 1].N;
  for (int i = 0; i < nlayers; ++i) {
    const DenseLayer& l = layers[i];
    float* dst = i + 1 == nlayers ? last_out : (i % 2 == 0 ? a : b);
    if (l.packed != nullptr) {
      linear_forward_packed(rows, *l.packed, in, l.bias, l.act, l.alpha, dst);
    } else {
      linear_forward(rows, l.N, l.K, in, l.W, l.bias, l.act, l.alpha, dst, nullptr);
    }
    in = dst;
  }
  if (softmax) myelin::softmax(rows, layers[nlayers - 1].N, last_out, last_out);
}

// Rows per block when M rows are split into `blocks` (a multiple of the microkernel's row tile).
int rows_per_block(int M, int blocks) {
  const int rows = (M + blocks - 1) / blocks;
  return (rows + kRowAlign - 1) / kRowAlign * kRowAlign;
}

// Intermediate floats per row (the two ping-pong buffers are rows x this each).
size_t scratch_per_row(int nlayers, const DenseLayer* layers) {
  int max_n = 0;
  for (int i = 0; i < nlayers; ++i) max_n = std::max(max_n, layers[i].N);
  return nlayers > 1 ? static_cast<size_t>(max_n) : 0;
}

}  // namespace

int dense_stack_blocks(int M, int nlayers, const DenseLayer* layers) {
  if (nlayers <= 0 || M <= 0) return 1;
  double work_per_row = 0;
  for (int i = 0; i < nlayers; ++i) work_per_row += static_cast<double>(layers[i].N) * layers[i].K;
  const int threads = num_threads();
  int blocks = 1;
  if (threads > 1 && M >= 2 * kRowAlign) {
    const double max_blocks = M * work_per_row / kMinWorkPerBlock;
    blocks = static_cast<int>(std::min<double>(threads, max_blocks));
    blocks = std::max(1, std::min(blocks, M / kRowAlign));
  }
  return blocks;
}

void dense_stack_block_rows(int block, int blocks, int M, int* r0, int* r1) {
  const int per = rows_per_block(M, blocks);
  *r0 = std::min(M, block * per);
  *r1 = std::min(M, *r0 + per);
}

void dense_stack_forward_block(int block, int blocks, int M, int nlayers, const DenseLayer* layers,
                               const float* X, float* out, bool softmax) {
  if (nlayers <= 0 || M <= 0 || blocks <= 0) return;
  int r0, r1;
  dense_stack_block_rows(block, blocks, M, &r0, &r1);
  if (r0 >= r1) return;
  const size_t half = static_cast<size_t>(r1 - r0) * scratch_per_row(nlayers, layers);
  float* a = calling_thread_scratch(nlayers > 2 ? 2 * half : half);
  run_rows(r0, r1, nlayers, layers, X, out, softmax, a, nlayers > 2 ? a + half : nullptr);
}

void dense_stack_forward(int M, int nlayers, const DenseLayer* layers, const float* X, float* out,
                         bool softmax) {
  if (nlayers <= 0 || M <= 0) return;
  const int blocks = dense_stack_blocks(M, nlayers, layers);
  const size_t per_row = scratch_per_row(nlayers, layers);
  const size_t half = static_cast<size_t>(M) * per_row;
  float* a = calling_thread_scratch(nlayers > 2 ? 2 * half : half);
  float* b = nlayers > 2 ? a + half : nullptr;
  if (blocks == 1) {
    run_rows(0, M, nlayers, layers, X, out, softmax, a, b);
    return;
  }
  const int per = rows_per_block(M, blocks);
  parallel_for(blocks, [&](int t) {
    const int r0 = std::min(M, t * per);
    const int r1 = std::min(M, r0 + per);
    if (r0 >= r1) return;
    const size_t off = static_cast<size_t>(r0) * per_row;
    run_rows(r0, r1, nlayers, layers, X, out, softmax, a + off, b == nullptr ? nullptr : b + off);
  });
}

}  // namespace myelin
