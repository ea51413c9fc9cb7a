// The inference-plan entry points: freezePlan (weights copied into C++ memory), forwardAsync (the
// pool's workers, or a libuv worker for small calls, over C++ copies of everything unless the
// caller hands its input over) and forwardDense (the whole stack in one
// synchronous call), all validating the layer list ({N, K, W, bias, act, alpha} objects) first.
#include "plan.h"

#include <atomic>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "call.h"
#include "codes.gen.h"
#include "dense_stack.h"
#include "gemm.h"
#include "threadpool.h"
#include <uv.h>

namespace myelin_binding {
namespace {


// Reads a property of a layer object into argv slot i of a Call (so the usual getters apply).
bool layer_prop(Call& c, napi_value layer, const char* key, size_t slot) {
  napi_value v;
  if (napi_get_named_property(c.env, layer, key, &v) != napi_ok) {
    throw_error(c.env, "%s: could not read layers[].%s", c.kernel, key);
    return false;
  }
  c.argv[slot] = v;
  return true;
}

#define CHECK_OR_FALSE(expr) \
  do {                       \
    if (!(expr)) return false; \
  } while (0)

// A validated layer list. W and bias point into JS memory: valid only during the current call.
struct ParsedLayers {
  std::vector<myelin::DenseLayer> layers;
  int64_t in_features = 0;   // layers[0].K
  int64_t out_features = 0;  // last N
};

// Validates the layers array in argv[slot] ({N, K, W, bias, act, alpha} objects, each K equal to
// the previous N); false with a pending exception naming the kernel and the offending layer.
// Uses argv slots 10..15 as scratch (the caller's arguments in them are overwritten).
bool parse_layers(Call& c, size_t slot, ParsedLayers* out) {
  napi_env env = c.env;
  napi_value layers_arr = c.argv[slot];
  bool is_array = false;
  napi_is_array(env, layers_arr, &is_array);
  if (!is_array) {
    throw_error(env, "%s: layers must be an Array, got %s", c.kernel, describe(env, layers_arr));
    return false;
  }
  uint32_t count = 0;
  napi_get_array_length(env, layers_arr, &count);
  if (count == 0) {
    throw_error(env, "%s: layers is empty", c.kernel);
    return false;
  }
  out->layers.reserve(count);
  std::vector<napi_value> values;  // each layer's W and bias
  values.reserve(2 * static_cast<size_t>(count));
  int64_t prev_n = -1;
  char what[64];
  for (uint32_t i = 0; i < count; ++i) {
    napi_value layer;
    napi_valuetype t;
    if (napi_get_element(env, layers_arr, i, &layer) != napi_ok ||
        napi_typeof(env, layer, &t) != napi_ok || t != napi_object) {
      throw_error(env, "%s: layers[%u] must be an object {N, K, W, bias, act, alpha}", c.kernel, i);
      return false;
    }
    CHECK_OR_FALSE(layer_prop(c, layer, "N", 10) && layer_prop(c, layer, "K", 11) &&
                   layer_prop(c, layer, "W", 12) && layer_prop(c, layer, "bias", 13) &&
                   layer_prop(c, layer, "act", 14) && layer_prop(c, layer, "alpha", 15));
    int64_t N, K;
    int act;
    double alpha;
    float *W, *bias;
    snprintf(what, sizeof what, "layers[%u].N", i);
    CHECK_OR_FALSE(c.size(10, what, 1, &N));
    snprintf(what, sizeof what, "layers[%u].K", i);
    CHECK_OR_FALSE(c.size(11, what, 1, &K));
    if (prev_n >= 0 && K != prev_n) {
      throw_error(env, "%s: layers[%u].K = %lld does not match layers[%u].N = %lld", c.kernel, i,
                  (long long)K, i - 1, (long long)prev_n);
      return false;
    }
    snprintf(what, sizeof what, "layers[%u].act", i);
    CHECK_OR_FALSE(c.code(14, what, myelin::kActCount - 1, &act));
    snprintf(what, sizeof what, "layers[%u].alpha", i);
    CHECK_OR_FALSE(c.number(15, what, true, &alpha));
    snprintf(what, sizeof what, "layers[%u].W", i);
    CHECK_OR_FALSE(c.mat(12, what, "N*K", "N", N, "K", K, &W));
    snprintf(what, sizeof what, "layers[%u].bias", i);
    CHECK_OR_FALSE(c.vec(13, what, "N", N, &bias, true));
    if (i == 0) out->in_features = K;
    prev_n = N;
    out->layers.push_back({(int)N, (int)K, act, (float)alpha, W, bias});
    values.push_back(c.argv[12]);
    values.push_back(c.argv[13]);
  }
  out->out_features = prev_n;
  // Reading a later layer's properties can run JavaScript (getters, proxies) that detaches or
  // shrinks an earlier layer's buffer: take every pointer again now that no JS can run.
  for (uint32_t i = 0; i < count; ++i) {
    myelin::DenseLayer& l = out->layers[i];
    c.argv[12] = values[2 * i];
    c.argv[13] = values[2 * i + 1];
    float *W, *bias;
    snprintf(what, sizeof what, "layers[%u].W", i);
    CHECK_OR_FALSE(c.mat(12, what, "N*K", "N", l.N, "K", l.K, &W));
    snprintf(what, sizeof what, "layers[%u].bias", i);
    CHECK_OR_FALSE(c.vec(13, what, "N", l.N, &bias, true));
    l.W = W;
    l.bias = bias;
  }
  return true;
}

// The arguments (M, layers, X, out, softmax) of forwardAsync and forwardDense: their count, M and softmax.
bool plan_call(Call& c, napi_callback_info info, int64_t* M, bool* softmax) {
  return c.start(info, 5, "M, layers, X, out, softmax") && c.size(0, "M", 1, M) &&
         c.boolean(4, "softmax", softmax);
}

// X (M x layers[0].K) and out (M x last N) of forwardAsync and forwardDense.
bool plan_io(Call& c, int64_t M, int64_t in_features, int64_t out_features, float** X, float** out) {
  return c.mat(2, "X", "M*layers[0].K", "M", M, "K", in_features, X) &&
         c.mat(3, "out", "M*last.N", "M", M, "N", out_features, out);
}

// A plan whose weights were copied out of JS memory into one C++ allocation: immutable once made,
// shared by every forwardAsync call that uses it. A call holds a reference until its worker is
// done, so neither garbage collection nor a detached/transferred weight buffer can free what a
// pool thread reads.
struct FrozenPlan {
  std::vector<myelin::DenseLayer> layers;  // W and bias point into storage, packed into packed
  std::unique_ptr<float[]> storage;
  std::vector<std::unique_ptr<myelin::PackedWeights>> packed;  // each layer's W packed for the GEMM
  size_t floats = 0;  // storage plus packed panels
  int in_features = 0;
  int out_features = 0;
};
using FrozenPlanRef = std::shared_ptr<const FrozenPlan>;

// Tags the externals freezePlan returns, so forwardAsync never mistakes another addon's external
// for a plan.
const napi_type_tag kFrozenPlanTag = {0x6d79656c696e2e66ULL, 0x726f7a656e2d706cULL};

// Copies the weights of validated layers (throws std::bad_alloc).
FrozenPlanRef freeze(const ParsedLayers& parsed) {
  auto plan = std::make_shared<FrozenPlan>();
  size_t total = 0;
  for (const auto& l : parsed.layers)
    total += static_cast<size_t>(l.N) * l.K + (l.bias != nullptr ? static_cast<size_t>(l.N) : 0);
  plan->storage.reset(new float[total]);
  plan->floats = total;
  plan->packed.reserve(parsed.layers.size());
  float* p = plan->storage.get();
  for (const auto& l : parsed.layers) {
    myelin::DenseLayer copy = l;
    const size_t w = static_cast<size_t>(l.N) * l.K;
    std::memcpy(p, l.W, w * sizeof(float));
    copy.W = p;
    p += w;
    // Packed once here, so every forward skips packing (and batch 1 skips the GEMV's transposes).
    plan->packed.push_back(std::make_unique<myelin::PackedWeights>(l.N, l.K, copy.W));
    copy.packed = plan->packed.back().get();
    plan->floats += static_cast<size_t>(plan->packed.back()->floats());
    if (l.bias != nullptr) {
      std::memcpy(p, l.bias, static_cast<size_t>(l.N) * sizeof(float));
      copy.bias = p;
      p += l.N;
    }
    plan->layers.push_back(copy);
  }
  plan->in_features = static_cast<int>(parsed.in_features);
  plan->out_features = static_cast<int>(parsed.out_features);
  return plan;
}

void finalize_frozen_plan(napi_env env, void* data, void* /*hint*/) {
  auto* ref = static_cast<FrozenPlanRef*>(data);
  int64_t ignored;
  napi_adjust_external_memory(env, -static_cast<int64_t>((*ref)->floats * sizeof(float)), &ignored);
  delete ref;
}

// The frozen plan behind argv[i] if it is a freezePlan handle, else null (no exception).
FrozenPlanRef frozen_plan_arg(Call& c, size_t i) {
  napi_valuetype t;
  bool tagged = false;
  void* data = nullptr;
  if (napi_typeof(c.env, c.argv[i], &t) != napi_ok || t != napi_external) return nullptr;
  if (napi_check_object_type_tag(c.env, c.argv[i], &kFrozenPlanTag, &tagged) != napi_ok || !tagged)
    return nullptr;
  if (napi_get_value_external(c.env, c.argv[i], &data) != napi_ok || data == nullptr) return nullptr;
  return *static_cast<FrozenPlanRef*>(data);
}

// One forwardAsync call. What the worker threads read and write is owned here (the plan's
// weights, the result buffer, and the input: a copy, or the caller's array when handed over, kept
// alive by a reference); the JS `out` array is written on the main thread when the call completes,
// if it is still attached.
struct ForwardJob {
  napi_async_work work = nullptr;  // the libuv path
  napi_deferred deferred = nullptr;
  napi_ref out_ref = nullptr;
  napi_ref x_ref = nullptr;  // the handed-over input array, or null when copied
  FrozenPlanRef plan;
  int M = 0;
  int blocks = 1;  // row blocks of the pool path (dense_stack_blocks)
  bool softmax = false;
  const float* x = nullptr;          // M x in_features: x_copy, or the handed-over array
  std::unique_ptr<float[]> x_copy;
  // The pool path's copy of the caller's rows (copy_block): each block's rows are copied by the
  // worker that runs the block, unless the JS thread took them first. Per block: 0 not taken,
  // 1 being copied, 2 copied. The caller's array (copy_src) is read only until every block is copied.
  const float* copy_src = nullptr;
  std::unique_ptr<std::atomic<int>[]> copy_state;
  std::atomic<int> copies_left{0};
  std::unique_ptr<float[]> y;        // M x out_features
  std::atomic<const char*> error{nullptr};  // set by a worker (static strings only)
};

void execute_forward(napi_env /*env*/, void* data) {
  auto* job = static_cast<ForwardJob*>(data);
  try {
    myelin::DenormalsFlushed flushed;  // a libuv thread: restore its mode for Node's other work
    const FrozenPlan& p = *job->plan;
    myelin::dense_stack_forward(job->M, static_cast<int>(p.layers.size()), p.layers.data(),
                                job->x, job->y.get(), job->softmax);
  } catch (const std::bad_alloc&) {
    job->error = "forwardAsync: out of memory allocating scratch buffers";
  } catch (...) {
    job->error = "forwardAsync: native error in the forward pass";
  }
}

// Settles a promise with undefined (message null) or an Error. Every failure is ignored: during
// worker_threads teardown (worker.terminate(), process.exit() in a worker) the environment can no
// longer run JavaScript, and the promise simply stays pending while the environment goes away.
void settle(napi_env env, napi_deferred deferred, const char* message) {
  napi_value value = nullptr;
  if (message == nullptr) {
    if (napi_get_undefined(env, &value) == napi_ok) napi_resolve_deferred(env, deferred, value);
    return;
  }
  napi_value text;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) == napi_ok &&
      napi_create_error(env, nullptr, text, &value) == napi_ok) {
    napi_reject_deferred(env, deferred, value);
  }
}

// The JS-thread end of a call (either path): copies the result into `out`, drops the references
// and settles the promise. Calls only the C Node-API and never throws, so nothing can escape into
// libuv even while the environment is being torn down.
void finish_forward(napi_env env, std::unique_ptr<ForwardJob> job, const char* error) {
  if (error == nullptr) {
    const size_t need = static_cast<size_t>(job->M) * job->plan->out_features;
    napi_value out = nullptr;
    size_t length = 0;
    void* dst = nullptr;
    napi_typedarray_type type;
    if (napi_get_reference_value(env, job->out_ref, &out) == napi_ok && out != nullptr &&
        napi_get_typedarray_info(env, out, &type, &length, &dst, nullptr, nullptr) == napi_ok &&
        length >= need && dst != nullptr) {
      std::memcpy(dst, job->y.get(), need * sizeof(float));
    } else {
      error = "forwardAsync: out was detached (its ArrayBuffer transferred) before the result was ready";
    }
  }
  napi_delete_reference(env, job->out_ref);
  if (job->x_ref != nullptr) napi_delete_reference(env, job->x_ref);
  settle(env, job->deferred, error);
}

// Runs on the JS thread after execute_forward (or when the work was cancelled).
void complete_forward(napi_env env, napi_status status, void* data) {
  std::unique_ptr<ForwardJob> job(static_cast<ForwardJob*>(data));
  napi_delete_async_work(env, job->work);
  const char* error = status == napi_cancelled ? "forwardAsync: the call was cancelled" : job->error.load();
  finish_forward(env, std::move(job), error);
}

// The pool path's way back to the JavaScript thread: a libuv async handle on the environment's
// loop, signalled by the worker that finishes the last block. A thread-safe function cannot be used
// here: when a worker_thread's environment is torn down (worker.terminate()), Node deletes it
// whatever threads still hold it, and the pool would then signal freed memory. The async cleanup
// hook holds the teardown until the pool is done with the call, and the handle is closed by us.
struct PoolReport {
  uv_async_t async;
  napi_env env = nullptr;
  napi_async_context context = nullptr;  // the promise's continuation runs in this async context
  napi_async_cleanup_hook_handle hook = nullptr;
  bool closing = false;  // the environment is being torn down (JS thread only)
  std::unique_ptr<ForwardJob> job;
};

void close_report(PoolReport* report) {
  napi_remove_async_cleanup_hook(report->hook);
  uv_close(reinterpret_cast<uv_handle_t*>(&report->async),
           [](uv_handle_t* h) { delete static_cast<PoolReport*>(h->data); });
}

// The JS thread, after the last block: settles the promise in a callback scope (so its
// continuations run now), or, during teardown, only frees the C++ memory (the environment frees
// its references).
void on_pool_report(uv_async_t* handle) {
  auto* report = static_cast<PoolReport*>(handle->data);
  napi_env env = report->env;
  if (!report->closing) {
    napi_handle_scope hs;
    napi_value resource;
    napi_callback_scope scope;
    if (napi_open_handle_scope(env, &hs) == napi_ok) {
      const bool scoped = napi_create_object(env, &resource) == napi_ok &&
                          napi_open_callback_scope(env, resource, report->context, &scope) == napi_ok;
      const char* error = report->job->error.load();
      finish_forward(env, std::move(report->job), error);
      if (scoped) napi_close_callback_scope(env, scope);
      napi_close_handle_scope(env, hs);
    }
    napi_async_destroy(env, report->context);
  }
  report->job.reset();
  close_report(report);
}

// The environment is being torn down while the pool runs the call: the report above then only
// frees memory, and removing the hook lets the teardown finish.
void on_env_teardown(napi_async_cleanup_hook_handle /*handle*/, void* data) {
  static_cast<PoolReport*>(data)->closing = true;
}

// Row blocks of at least this many multiply-adds run on the pool's workers directly (the pool
// path); smaller calls go through a libuv worker, whose products still use the pool.
bool pool_path(const FrozenPlan& plan, int M, int* blocks) {
  *blocks = myelin::dense_stack_blocks(M, static_cast<int>(plan.layers.size()), plan.layers.data());
  return *blocks >= 2;
}

// Copies row block `block` of the caller's input into the job unless another thread has taken it
// (it may still be copying it): false then.
bool take_block(ForwardJob* job, int block) {
  std::atomic<int>& state = job->copy_state[block];
  int expected = 0;
  if (!state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return false;
  int r0, r1;
  myelin::dense_stack_block_rows(block, job->blocks, job->M, &r0, &r1);
  const size_t K = static_cast<size_t>(job->plan->in_features);
  if (r0 < r1) std::memcpy(job->x_copy.get() + r0 * K, job->copy_src + r0 * K, (r1 - r0) * K * sizeof(float));
  state.store(2, std::memory_order_release);
  job->copies_left.fetch_sub(1, std::memory_order_acq_rel);
  return true;
}

// Spin-waits until `done()`, pausing; after `patience` it also yields now and then, for a thread
// it waits for that needs this core (descheduled on a busy machine).
template <typename Done>
void spin_until(std::chrono::microseconds patience, Done done) {
  const auto start = std::chrono::steady_clock::now();
  for (int spin = 1; !done(); ++spin) {
#if defined(__x86_64__)
    _mm_pause();
#endif
    if (spin % 256 == 0 && std::chrono::steady_clock::now() - start >= patience) std::this_thread::yield();
  }
}

// A worker's start of a block: its rows copied, by this worker or by the JS thread.
void copy_block(ForwardJob* job, int block) {
  if (take_block(job, block)) return;
  // The JS thread is copying it, maybe on this core: yield from the start.
  spin_until(std::chrono::microseconds(0), [&] { return job->copy_state[block].load(std::memory_order_acquire) == 2; });
}

// The JS thread's share of the copy, right after the workers were handed the call: it copies every
// block no worker has taken yet, from the last one down (the workers take theirs from the first),
// then waits for the workers' copies in progress, so predictAsync returns only when X is no longer
// read. It spins rather than sleeps: those copies are running, and a sleeping JS thread waits for
// a core the workers hold (under SCHED_FIFO, until the whole call is done).
void wait_for_copies(ForwardJob* job) {
  for (int b = job->blocks - 1; b >= 0; --b) take_block(job, b);
  spin_until(std::chrono::microseconds(1000), [job] { return job->copies_left.load(std::memory_order_acquire) == 0; });
}

// Hands a validated job to the pool's workers (one task per row block; the worker that finishes
// the last one signals the JS thread). False when the pool is busy (another call holds it) or the
// report could not be set up: the caller then queues it on libuv instead.
bool start_on_pool(napi_env env, napi_value resource_name, std::unique_ptr<ForwardJob>& job) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return false;
  auto report = std::make_unique<PoolReport>();
  report->env = env;
  napi_value resource;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_async_init(env, resource, resource_name, &report->context) != napi_ok) {
    return false;
  }
  if (uv_async_init(loop, &report->async, on_pool_report) != 0) {
    napi_async_destroy(env, report->context);
    return false;
  }
  report->async.data = report.get();
  PoolReport* raw = report.get();
  if (napi_add_async_cleanup_hook(env, on_env_teardown, raw, &raw->hook) != napi_ok) {
    napi_async_destroy(env, raw->context);
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->async),
             [](uv_handle_t* h) { delete static_cast<PoolReport*>(h->data); });
    report.release();
    return false;
  }
  raw->job = std::move(job);
  ForwardJob* work = raw->job.get();
  const bool started = myelin::parallel_for_detached(
      work->blocks,
      [work](int block) {
        if (work->copy_state != nullptr) copy_block(work, block);
        try {
          const FrozenPlan& p = *work->plan;
          myelin::dense_stack_forward_block(block, work->blocks, work->M, static_cast<int>(p.layers.size()),
                                            p.layers.data(), work->x, work->y.get(), work->softmax);
        } catch (const std::bad_alloc&) {
          work->error = "forwardAsync: out of memory allocating scratch buffers";
        } catch (...) {
          work->error = "forwardAsync: native error in the forward pass";
        }
      },
      myelin::num_threads(), [raw] { uv_async_send(&raw->async); });
  report.release();  // the handle's close callback frees it
  // The report cannot run (and free the job) before this JS thread returns to libuv.
  if (started && work->copy_state != nullptr) wait_for_copies(work);
  if (!started) {
    job = std::move(raw->job);  // back to the caller, for the libuv path
    napi_async_destroy(env, raw->context);
    close_report(raw);
    return false;
  }
  return true;
}

// Validates (M, plan, X, out, softmax[, handOver]), takes or copies the input and starts the call:
// on the pool's workers when the rows split into blocks (no libuv hand-off: the workers that ran
// the previous call are usually still spinning), else on a libuv worker.
napi_value ForwardAsyncImpl(napi_env env, napi_callback_info info) {
  Call c(env, "forwardAsync");
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, nullptr, nullptr, nullptr);
  int64_t M;
  bool softmax, hand_over = false;
  CHECK(c.start(info, argc == 6 ? 6 : 5, "M, layers, X, out, softmax, handOver") && c.size(0, "M", 1, &M) &&
        c.boolean(4, "softmax", &softmax) && (argc != 6 || c.boolean(5, "handOver", &hand_over)));
  napi_value x_val = c.argv[2];
  napi_value out_val = c.argv[3];
  FrozenPlanRef plan = frozen_plan_arg(c, 1);
  if (plan == nullptr) {
    napi_valuetype t;
    if (napi_typeof(env, c.argv[1], &t) == napi_ok && t == napi_external) {
      throw_error(env, "forwardAsync: layers is an external that freezePlan did not make");
      return nullptr;
    }
    ParsedLayers parsed;
    CHECK(parse_layers(c, 1, &parsed));
    plan = freeze(parsed);  // a plan passed as layers is copied for this call only
  }
  float *X, *out;
  CHECK(plan_io(c, M, plan->in_features, plan->out_features, &X, &out));
  auto job = std::make_unique<ForwardJob>();
  job->plan = plan;
  job->M = static_cast<int>(M);
  job->softmax = softmax;
  const bool on_pool = pool_path(*plan, job->M, &job->blocks);
  const size_t in_count = static_cast<size_t>(M) * plan->in_features;
  if (hand_over) {
    // The caller promised not to touch X until the promise settles: read it in place, kept alive.
    if (napi_create_reference(env, x_val, 1, &job->x_ref) != napi_ok) {
      throw_error(env, "forwardAsync: could not reference X");
      return nullptr;
    }
    job->x = X;
  } else if (on_pool) {
    // Copied by block as the call starts (start_on_pool, wait_for_copies): each worker copies the
    // rows of its own block (memcpy: they stay in its caches for the block's products), the JS thread
    // the blocks no worker has taken yet, from the last down, and returns when all are copied.
    // Against one copy split across the JS thread and a worker before the workers start (non-temporal
    // stores, so the products read the copy from memory), reference MLP at batch 1024, two threads,
    // AMD EPYC Zen 4, chrt -f: 2430-2440 -> 2384 us per call, and the JS thread back 20-30 us sooner.
    job->x_copy.reset(new float[in_count]);
    job->x = job->x_copy.get();
    job->copy_src = X;
    job->copy_state.reset(new std::atomic<int>[job->blocks]);
    for (int b = 0; b < job->blocks; ++b) job->copy_state[b].store(0, std::memory_order_relaxed);
    job->copies_left.store(job->blocks, std::memory_order_relaxed);
  } else {
    job->x_copy.reset(new float[in_count]);
    std::memcpy(job->x_copy.get(), X, in_count * sizeof(float));
    job->x = job->x_copy.get();
  }
  job->y.reset(new float[static_cast<size_t>(M) * plan->out_features]);

  napi_value promise, resource_name;
  auto fail = [&](const char* message) {
    napi_delete_reference(env, job->out_ref);
    if (job->x_ref != nullptr) napi_delete_reference(env, job->x_ref);
    throw_error(env, "%s", message);
    return nullptr;
  };
  if (napi_create_reference(env, out_val, 1, &job->out_ref) != napi_ok) {
    if (job->x_ref != nullptr) napi_delete_reference(env, job->x_ref);
    throw_error(env, "forwardAsync: could not reference out");
    return nullptr;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "myelin.forwardAsync", NAPI_AUTO_LENGTH, &resource_name) != napi_ok) {
    return fail("forwardAsync: could not start the worker");
  }
  if (on_pool && start_on_pool(env, resource_name, job)) return promise;
  // The pool was busy: the libuv path, with the rows copied here.
  if (job->copy_state != nullptr) std::memcpy(job->x_copy.get(), X, in_count * sizeof(float));
  if (napi_create_async_work(env, nullptr, resource_name, execute_forward, complete_forward, job.get(),
                             &job->work) != napi_ok) {
    return fail("forwardAsync: could not start the worker");
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    return fail("forwardAsync: could not queue the worker");
  }
  job.release();  // complete_forward owns it now
  return promise;
}

}  // namespace

// freezePlan(layers) -> an opaque handle holding a copy of the layers' weights, for forwardAsync.
napi_value FreezePlan(napi_env env, napi_callback_info info) {
  Call c(env, "freezePlan");
  CHECK(c.start(info, 1, "layers"));
  ParsedLayers parsed;
  CHECK(parse_layers(c, 0, &parsed));
  auto* ref = new FrozenPlanRef(freeze(parsed));
  napi_value handle;
  if (napi_create_external(env, ref, finalize_frozen_plan, nullptr, &handle) != napi_ok) {
    delete ref;
    throw_error(env, "freezePlan: could not create the plan handle");
    return nullptr;
  }
  napi_type_tag_object(env, handle, &kFrozenPlanTag);
  int64_t ignored;
  napi_adjust_external_memory(env, static_cast<int64_t>((*ref)->floats * sizeof(float)), &ignored);
  return handle;
}

// forwardAsync never throws: invalid arguments (or no memory for the copies) give a rejected promise.
napi_value ForwardAsync(napi_env env, napi_callback_info info) {
  napi_value r = nullptr;
  try {
    r = ForwardAsyncImpl(env, info);
  } catch (const std::bad_alloc&) {
    throw_error(env, "forwardAsync: out of memory copying the plan and the input");
  }
  if (r != nullptr) return r;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) return nullptr;
  napi_value err;
  napi_get_and_clear_last_exception(env, &err);
  napi_deferred deferred;
  napi_value p;
  if (napi_create_promise(env, &deferred, &p) != napi_ok) {
    napi_throw(env, err);
    return nullptr;
  }
  napi_reject_deferred(env, deferred, err);
  return p;
}

// Synchronous twin of forwardAsync: the whole stack in one call on the calling thread's share of
// the pool, reading the layers in place (see dense_stack.h), or a frozen plan's copy.
napi_value ForwardDense(napi_env env, napi_callback_info info) {
  Call c(env, "forwardDense");
  int64_t M;
  bool softmax;
  CHECK(plan_call(c, info, &M, &softmax));
  float *X, *out;
  if (FrozenPlanRef plan = frozen_plan_arg(c, 1)) {
    // A frozen plan (freezePlan): its own weights, packed once, on the calling thread's share
    // of the pool; no layer objects to read, so a small batch costs little more than its products.
    CHECK(plan_io(c, M, plan->in_features, plan->out_features, &X, &out));
    FLUSHED(myelin::dense_stack_forward((int)M, static_cast<int>(plan->layers.size()),
                                        plan->layers.data(), X, out, softmax));
    return nullptr;
  }
  napi_valuetype t;
  if (napi_typeof(env, c.argv[1], &t) == napi_ok && t == napi_external) {
    throw_error(env, "forwardDense: layers is an external that freezePlan did not make");
    return nullptr;
  }
  ParsedLayers parsed;
  CHECK(parse_layers(c, 1, &parsed));
  CHECK(plan_io(c, M, parsed.in_features, parsed.out_features, &X, &out));
  FLUSHED(myelin::dense_stack_forward((int)M, static_cast<int>(parsed.layers.size()),
                                      parsed.layers.data(), X, out, softmax));
  return nullptr;
}

}  // namespace myelin_binding
