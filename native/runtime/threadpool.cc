// Persistent thread pool: workers spin briefly then sleep; the caller of parallel_for takes tasks too,
// the caller of parallel_for_detached hands every task to the workers and returns.
#include "threadpool.h"

#include "denormals.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MYELIN_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define MYELIN_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define MYELIN_CPU_RELAX() ((void)0)
#endif

namespace myelin {
namespace {

constexpr int kMaxThreads = 256;
// Spin iterations (each a pause, ~10-40 ns) before a worker or the caller falls back to blocking.
constexpr int kSpinIterations = 20000;
// How long an idle worker keeps spinning for the next job before it sleeps. A sleeping worker
// needs ~0.1-0.3 ms to wake here (longer on a virtual machine), which is as long as a whole
// MLP-sized GEMM: the caller then runs both halves itself. 20000 pauses lasted only ~0.4 ms on
// Zen 5, so a training loop with a little JS between GEMMs kept finding the worker asleep. The
// spin yields the core every 256 steps, so other runnable threads are not starved.
constexpr auto kWorkerSpin = std::chrono::milliseconds(2);

// One parallel_for call: on the caller's stack until every worker has checked out, or (detached,
// parallel_for_detached) on the heap until the last reference to it goes.
struct Job {
  const std::function<void(int)>* fn;
  int ntasks;
  int max_workers;  // workers with index >= max_workers do not join (set_num_threads shrank us)
  alignas(64) std::atomic<int> next{0};
  // Detached calls only.
  bool detached = false;
  std::function<void(int)> own_fn;  // fn points here
  std::function<void()> done;       // run once by the worker that finishes the last task
  std::atomic<int> left{0};         // tasks not finished yet
  std::atomic<int> refs{0};         // 1 until the last task is done, plus one per worker inside
};

// A worker's sleeping place: the caller wakes only the workers a call can use, so a worker that a
// detached call made (they use one more worker than parallel_for) does not wake for every kernel.
struct alignas(64) Slot {
  std::atomic<bool> sleeping{false};
  std::condition_variable cv;
};

thread_local bool t_inside_task = false;

// One spin-wait step: a pause, and every 256th step a yield so that on an oversubscribed machine
// a waiting thread hands its core to the one it waits for.
inline void relax(int spin) {
  if ((spin & 255) == 255) {
    std::this_thread::yield();
  } else {
    MYELIN_CPU_RELAX();
  }
}

int threads_from_env() {
  const char* s = std::getenv("MYELIN_NUM_THREADS");
  if (s != nullptr && *s != '\0') {
    char* end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (end != s && *end == '\0' && v >= 1) return v > kMaxThreads ? kMaxThreads : static_cast<int>(v);
  }
  unsigned hc = std::thread::hardware_concurrency();
  if (hc == 0) return 1;
  return hc > static_cast<unsigned>(kMaxThreads) ? kMaxThreads : static_cast<int>(hc);
}

void run_tasks(Job* job) {
  const bool was_inside = t_inside_task;
  t_inside_task = true;
  for (;;) {
    int t = job->next.fetch_add(1, std::memory_order_relaxed);
    if (t >= job->ntasks) break;
    (*job->fn)(t);
  }
  t_inside_task = was_inside;
}

class Pool {
 public:
  Pool() : wanted_(threads_from_env()) {}

  int wanted() const { return wanted_.load(std::memory_order_relaxed); }
  void set_wanted(int n) {
    if (n < 1) n = 1;
    if (n > kMaxThreads) n = kMaxThreads;
    wanted_.store(n, std::memory_order_relaxed);
  }

  void parallel_for(int ntasks, const std::function<void(int)>& fn, int max_threads) {
    if (ntasks <= 0) return;
    const int threads = max_threads < wanted() ? max_threads : wanted();
    bool expected = false;
    if (ntasks == 1 || threads <= 1 || t_inside_task ||
        !busy_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      run_serially(ntasks, fn);
      return;
    }
    const int workers = (threads - 1 < ntasks - 1) ? threads - 1 : ntasks - 1;
    ensure_workers(workers);

    Job job;
    job.fn = &fn;
    job.ntasks = ntasks;
    job.max_workers = workers;
    publish(&job);

    run_tasks(&job);

    // Detach the job so late wakers see nothing, then wait for workers still inside it.
    {
      std::unique_lock<std::mutex> lock(mu_);
      current_ = nullptr;
    }
    for (int spin = 0; active_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < kSpinIterations) {
        relax(spin);
      } else {
        std::unique_lock<std::mutex> lock(mu_);
        done_cv_.wait(lock, [this] { return active_.load(std::memory_order_acquire) == 0; });
        break;
      }
    }
    busy_.store(false, std::memory_order_release);
  }

  bool parallel_for_detached(int ntasks, std::function<void(int)>& fn, int max_threads,
                             std::function<void()>& done) {
    if (ntasks <= 0 || t_inside_task) return false;
    int threads = max_threads < wanted() ? max_threads : wanted();
    if (threads < 1) threads = 1;
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true, std::memory_order_acquire)) return false;
    int workers = threads < ntasks ? threads : ntasks;
    ensure_workers(workers);
    if (static_cast<int>(count_) < workers) workers = static_cast<int>(count_);
    Job* job = workers > 0 ? new (std::nothrow) Job : nullptr;
    if (job == nullptr) {  // no worker could be started, or no memory: the caller runs it another way
      busy_.store(false, std::memory_order_release);
      return false;
    }
    job->own_fn = std::move(fn);
    job->fn = &job->own_fn;
    job->done = std::move(done);
    job->ntasks = ntasks;
    job->max_workers = workers;
    job->detached = true;
    job->left.store(ntasks, std::memory_order_relaxed);
    job->refs.store(1, std::memory_order_relaxed);
    publish(job);
    return true;
  }

 private:
  static void run_serially(int ntasks, const std::function<void(int)>& fn) {
    const bool was_inside = t_inside_task;
    t_inside_task = true;
    for (int t = 0; t < ntasks; ++t) fn(t);
    t_inside_task = was_inside;
  }

  // Makes `job` the current call (the caller holds busy_) and wakes the sleeping workers it can use.
  void publish(Job* job) {
    const int workers = job->max_workers;  // a detached job may be finished and freed once published
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = job;
      published_workers_ = workers;
      generation_.fetch_add(1, std::memory_order_release);
    }
    // A worker sets its flag under mu_ before it waits, so after the locked publish above either it
    // saw the new generation or its flag is visible here.
    for (int i = 0; i < workers; ++i)
      if (slots_[i].sleeping.load(std::memory_order_acquire)) slots_[i].cv.notify_one();
  }

  // The last task of a detached call is done: free the pool for the next call, then report.
  void finish_detached(Job* job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (current_ == job) current_ = nullptr;
    }
    busy_.store(false, std::memory_order_release);
    job->done();
    release(job);
  }

  static void release(Job* job) {
    if (job->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete job;
  }

  // Only called by the thread holding busy_, so no other thread grows the pool concurrently.
  void ensure_workers(int n) {
    while (static_cast<int>(count_) < n) {
      int index = static_cast<int>(count_);
      // The generation before the call that needs this worker is published: a thread that starts
      // late still sees that call as new (read at its start, it would miss it, and a detached call,
      // which only workers run, would never finish).
      const std::uint64_t seen = generation_.load(std::memory_order_acquire);
      try {
        std::thread(&Pool::worker_main, this, index, seen).detach();
      } catch (...) {
        return;  // cannot start more threads: the caller runs whatever the others do not take
      }
      ++count_;
    }
  }

  void worker_main(int index, std::uint64_t seen) {
    t_inside_task = true;  // anything a worker runs that calls parallel_for runs serially
    flush_denormals_on_this_thread();  // a worker only ever runs kernels (see denormals.h)
    Slot& slot = slots_[index];
    // Spin a while for the next call after each call this worker took part in, then sleep. A
    // call this worker may not join (a parallel_for using fewer threads) does not extend the spin.
    auto spin_end = std::chrono::steady_clock::now() + kWorkerSpin;
    for (;;) {
      for (int spin = 0; generation_.load(std::memory_order_acquire) == seen; ++spin) {
        if ((spin & 63) == 63 && std::chrono::steady_clock::now() >= spin_end) break;
        relax(spin);
      }
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (generation_.load(std::memory_order_acquire) == seen) {
          slot.sleeping.store(true, std::memory_order_release);
          slot.cv.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
          slot.sleeping.store(false, std::memory_order_relaxed);
        }
        seen = generation_.load(std::memory_order_acquire);
        // A call meant for this worker extends its spin even when the caller finished it alone (a short call
        // done before this worker woke): the next short calls then find it spinning instead of asleep.
        if (index < published_workers_) spin_end = std::chrono::steady_clock::now() + kWorkerSpin;
        job = current_;
        if (job != nullptr && index < job->max_workers) {
          active_.fetch_add(1, std::memory_order_acq_rel);
          if (job->detached) job->refs.fetch_add(1, std::memory_order_relaxed);
        } else {
          job = nullptr;
        }
      }
      if (job == nullptr) continue;
      // Read now: a caller's stack job may be gone as soon as this worker checks out below.
      const bool detached = job->detached;
      for (;;) {
        int t = job->next.fetch_add(1, std::memory_order_relaxed);
        if (t >= job->ntasks) break;
        (*job->fn)(t);
        if (detached && job->left.fetch_sub(1, std::memory_order_acq_rel) == 1) finish_detached(job);
      }
      if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // Last one out: the caller may be blocked on done_cv_ (take the lock so it cannot miss it).
        std::lock_guard<std::mutex> lock(mu_);
        done_cv_.notify_all();
      }
      if (detached) release(job);
      spin_end = std::chrono::steady_clock::now() + kWorkerSpin;
    }
  }

  std::atomic<int> wanted_;
  alignas(64) std::atomic<bool> busy_{false};
  alignas(64) std::atomic<std::uint64_t> generation_{0};
  alignas(64) std::atomic<int> active_{0};
  std::mutex mu_;
  std::condition_variable done_cv_;
  Job* current_ = nullptr;
  int published_workers_ = 0;  // the workers the last published call may use (guarded by mu_)
  unsigned count_ = 0;
  Slot slots_[kMaxThreads];
};

// Never destroyed: detached workers may still be parked on it while the process exits.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

int num_threads() { return pool().wanted(); }

void set_num_threads(int n) { pool().set_wanted(n); }

void parallel_for(int ntasks, const std::function<void(int)>& fn) {
  pool().parallel_for(ntasks, fn, kMaxThreads);
}

void parallel_for(int ntasks, const std::function<void(int)>& fn, int max_threads) {
  pool().parallel_for(ntasks, fn, max_threads);
}

bool parallel_for_detached(int ntasks, std::function<void(int)> fn, int max_threads,
                           std::function<void()> done) {
  return pool().parallel_for_detached(ntasks, fn, max_threads, done);
}

}  // namespace myelin
