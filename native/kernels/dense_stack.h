// Inference forward pass of a whole stack of dense layers, split by rows across the thread pool.
#pragma once

namespace myelin {

class PackedWeights;

struct DenseLayer {
  int N, K, act;
  float alpha;
  const float* W;     // N x K (out x in)
  const float* bias;  // N, or nullptr
  const PackedWeights* packed = nullptr;  // W packed for the GEMM (frozen plans), or nullptr
};

// out[M, last.N] = the stack applied to X[M, layers[0].K] (then a row softmax if softmax).
// Large batches are split into row blocks, one per pool thread, each running every layer on its
// rows (the per-layer products then run single-threaded inside the block): no barrier between
// layers, intermediates stay in the core's own caches, and narrow last layers (N = 10) do not
// pay for a thread hand-off. Small batches run layer by layer, each product using the pool.
// Scratch for the intermediates belongs to the calling thread and is kept for its next call, so
// concurrent calls from different threads never share it; throws std::bad_alloc.
void dense_stack_forward(int M, int nlayers, const DenseLayer* layers, const float* X, float* out,
                         bool softmax);

// The row blocks dense_stack_forward splits M rows into at the current thread count (1: the
// stack runs layer by layer, each product on the pool).
int dense_stack_blocks(int M, int nlayers, const DenseLayer* layers);

// The rows [*r0, *r1) that row block `block` of `blocks` covers (empty when r0 == r1).
void dense_stack_block_rows(int block, int blocks, int M, int* r0, int* r1);

// Row block `block` of `blocks` (the rows dense_stack_forward gives that block), every layer, on
// the calling thread with its own scratch: the tasks of a detached pool call (forwardAsync), one
// per block, compute exactly what dense_stack_forward computes for those rows. Throws std::bad_alloc.
void dense_stack_forward_block(int block, int blocks, int M, int nlayers, const DenseLayer* layers,
                               const float* X, float* out, bool softmax);

}  // namespace myelin
