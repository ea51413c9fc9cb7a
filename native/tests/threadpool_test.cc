// Thread pool tests: every task runs exactly once, under nesting, concurrent callers and resizing;
// workers flush denormals, DenormalsFlushed restores the caller's mode.
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "native/runtime/denormals.h"
#include "native/runtime/threadpool.h"

namespace {

int g_failures = 0;

void expect(bool ok, const char* what, int a, int b) {
  if (!ok) {
    std::fprintf(stderr, "FAIL %s (%d, %d)\n", what, a, b);
    ++g_failures;
  }
}

// Runs parallel_for(ntasks) and checks each task ran exactly once.
bool run_once_each(int ntasks) {
  std::vector<std::atomic<int>> hits(ntasks > 0 ? ntasks : 1);
  for (auto& h : hits) h.store(0);
  myelin::parallel_for(ntasks, [&](int t) { hits[t].fetch_add(1, std::memory_order_relaxed); });
  for (int t = 0; t < ntasks; ++t)
    if (hits[t].load() != 1) return false;
  return true;
}

}  // namespace

int main() {
  std::printf("threadpool_test: default threads=%d\n", myelin::num_threads());
  // First of all, on a pool without workers: a detached call creates them and they must see it (a
  // worker that read the call counter only once started missed it, and the call never finished).
  {
    myelin::set_num_threads(3);
    std::atomic<int> ran{0};
    std::atomic<bool> done{false};
    const bool started = myelin::parallel_for_detached(3, [&](int) { ran.fetch_add(1); }, 3, [&] { done.store(true); });
    for (int spin = 0; spin < 200000000 && !done.load(); ++spin) std::this_thread::yield();
    expect(started && done.load() && ran.load() == 3, "detached call on a fresh pool finishes", ran.load(), 3);
    myelin::set_num_threads(2);
  }
  expect(myelin::num_threads() >= 1, "num_threads >= 1", myelin::num_threads(), 1);

  // Plain coverage over thread counts (more threads than cores included) and task counts.
  for (int threads : {1, 2, 3, 8}) {
    myelin::set_num_threads(threads);
    expect(myelin::num_threads() == threads, "set_num_threads", myelin::num_threads(), threads);
    for (int ntasks : {0, 1, 2, 3, 7, 64, 1000})
      for (int rep = 0; rep < 20; ++rep) expect(run_once_each(ntasks), "each task once", threads, ntasks);
  }
  myelin::set_num_threads(0);
  expect(myelin::num_threads() == 1, "clamp low", myelin::num_threads(), 1);
  myelin::set_num_threads(100000);
  expect(myelin::num_threads() == 256, "clamp high", myelin::num_threads(), 256);

  // Several threads actually take part when asked (workers exist and pick up tasks).
  myelin::set_num_threads(2);
  {
    std::atomic<int> distinct{0};
    for (int rep = 0; rep < 200 && distinct.load() < 2; ++rep) {
      std::thread::id ids[2];
      std::atomic<int> at{0};
      myelin::parallel_for(2, [&](int t) {
        ids[t] = std::this_thread::get_id();
        at.fetch_add(1);
        // Give the other participant a chance to take the second task.
        for (int spin = 0; spin < 200000 && at.load() < 2; ++spin) std::this_thread::yield();
      });
      if (ids[0] != ids[1]) distinct.store(2);
    }
    expect(distinct.load() == 2, "two threads participated", distinct.load(), 2);
  }

  // max_threads caps one call: 1 runs every task on the caller, 2 uses at most two threads.
  myelin::set_num_threads(4);
  for (int cap : {1, 2}) {
    for (int rep = 0; rep < 50; ++rep) {
      std::vector<std::atomic<int>> hits(64);
      for (auto& h : hits) h.store(0);
      std::thread::id ids[64];
      myelin::parallel_for(64, [&](int t) {
        ids[t] = std::this_thread::get_id();
        hits[t].fetch_add(1);
        for (volatile int spin = 0; spin < 2000; ++spin) {
        }
      }, cap);
      std::vector<std::thread::id> seen;
      bool once = true;
      for (int t = 0; t < 64; ++t) {
        once = once && hits[t].load() == 1;
        bool known = false;
        for (auto& id : seen) known = known || id == ids[t];
        if (!known) seen.push_back(ids[t]);
      }
      expect(once, "max_threads: each task once", cap, rep);
      expect(static_cast<int>(seen.size()) <= cap, "max_threads caps the threads", static_cast<int>(seen.size()), cap);
      if (cap == 1) expect(ids[0] == std::this_thread::get_id(), "max_threads 1 runs on the caller", cap, rep);
    }
  }

  // Nested: a task calling parallel_for runs the inner loop serially and completes.
  myelin::set_num_threads(2);
  {
    const int outer = 8, inner = 50;
    std::vector<std::atomic<int>> hits(outer * inner);
    for (auto& h : hits) h.store(0);
    myelin::parallel_for(outer, [&](int o) {
      myelin::parallel_for(inner, [&](int i) { hits[o * inner + i].fetch_add(1); });
    });
    bool ok = true;
    for (auto& h : hits) ok = ok && h.load() == 1;
    expect(ok, "nested parallel_for", outer, inner);
  }

  // Concurrent callers from several std::threads, all correct (some fall back to serial).
  {
    const int callers = 4;
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int c = 0; c < callers; ++c) {
      threads.emplace_back([&, c] {
        for (int rep = 0; rep < 300; ++rep)
          if (!run_once_each(1 + (rep * 7 + c) % 97)) bad.fetch_add(1);
      });
    }
    // Resize while they run: must not break anything.
    for (int r = 0; r < 50; ++r) myelin::set_num_threads(1 + r % 3);
    for (auto& t : threads) t.join();
    expect(bad.load() == 0, "concurrent callers", bad.load(), 0);
  }

  // Detached calls: every task once, on workers only, done() once after the last task; the pool is
  // free again when done() runs; refused (nothing run) from inside a task or while the pool is busy.
  for (int threads : {1, 2, 3}) {
    myelin::set_num_threads(threads);
    for (int ntasks : {1, 2, 3, 7, 64}) {
      for (int rep = 0; rep < 20; ++rep) {
        std::vector<std::atomic<int>> hits(ntasks);
        for (auto& h : hits) h.store(0);
        std::atomic<int> done_calls{0}, on_caller{0}, finished_before_done{0};
        std::atomic<bool> free_in_done{false};
        const std::thread::id caller = std::this_thread::get_id();
        const bool started = myelin::parallel_for_detached(
            ntasks,
            [&](int t) {
              if (std::this_thread::get_id() == caller) on_caller.fetch_add(1);
              hits[t].fetch_add(1);
            },
            threads,
            [&] {
              int n = 0;
              for (auto& h : hits) n += h.load();
              finished_before_done.store(n);
              // The pool is free: a nested call from here runs (serially, inside a worker) at once.
              free_in_done.store(true);
              done_calls.fetch_add(1);
            });
        expect(started, "detached call started", threads, ntasks);
        for (int spin = 0; spin < 20000000 && done_calls.load() == 0; ++spin) std::this_thread::yield();
        bool once = true;
        for (auto& h : hits) once = once && h.load() == 1;
        expect(once, "detached: each task once", threads, ntasks);
        expect(done_calls.load() == 1, "detached: done once", done_calls.load(), 1);
        expect(finished_before_done.load() == ntasks, "detached: done after every task", finished_before_done.load(), ntasks);
        expect(on_caller.load() == 0, "detached: no task on the caller", on_caller.load(), 0);
        // A synchronous call right after done() is not refused and runs every task.
        expect(run_once_each(5), "parallel_for after a detached call", threads, ntasks);
      }
    }
  }
  {
    myelin::set_num_threads(2);
    std::atomic<int> refused{0}, ran{0};
    myelin::parallel_for(2, [&](int) {
      // Inside a task (caller or worker): refused, nothing run.
      if (!myelin::parallel_for_detached(1, [&](int) { ran.fetch_add(1); }, 2, [] {})) refused.fetch_add(1);
    });
    expect(refused.load() == 2 && ran.load() == 0, "detached refused inside a task", refused.load(), ran.load());
    // While a detached call holds the pool, a second one is refused and parallel_for runs serially.
    std::atomic<bool> release{false}, done{false};
    std::atomic<int> first_ran{0};
    const bool started = myelin::parallel_for_detached(
        1, [&](int) { first_ran.fetch_add(1); while (!release.load()) std::this_thread::yield(); }, 2,
        [&] { done.store(true); });
    expect(started, "detached call holding the pool", started, 1);
    for (int spin = 0; spin < 20000000 && first_ran.load() == 0; ++spin) std::this_thread::yield();
    expect(!myelin::parallel_for_detached(1, [](int) {}, 2, [] {}), "second detached call refused while busy", 0, 0);
    expect(run_once_each(8), "parallel_for while a detached call runs", 8, 0);
    release.store(true);
    for (int spin = 0; spin < 20000000 && !done.load(); ++spin) std::this_thread::yield();
    expect(done.load(), "detached call finished", done.load(), 1);
    expect(!myelin::parallel_for_detached(0, [](int) {}, 2, [] {}), "no tasks: refused", 0, 0);
  }
  // Detached calls from several threads at once, mixed with synchronous ones: each one that starts
  // runs its tasks once and reports once.
  {
    myelin::set_num_threads(3);
    std::atomic<int> bad{0}, started{0}, reported{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < 3; ++c) {
      threads.emplace_back([&, c] {
        for (int rep = 0; rep < 200; ++rep) {
          if (c == 0) {
            if (!run_once_each(1 + rep % 13)) bad.fetch_add(1);
            continue;
          }
          auto hits = std::make_shared<std::vector<std::atomic<int>>>(9);
          std::atomic<bool> finished{false};
          if (!myelin::parallel_for_detached(9, [hits](int t) { (*hits)[t].fetch_add(1); }, 3, [&, hits] {
                for (auto& h : *hits) if (h.load() != 1) bad.fetch_add(1);
                reported.fetch_add(1);
                finished.store(true);
              })) continue;
          started.fetch_add(1);
          while (!finished.load()) std::this_thread::yield();
        }
      });
    }
    for (auto& t : threads) t.join();
    expect(bad.load() == 0, "concurrent detached calls", bad.load(), 0);
    // (Under a slow tool such as TSan every attempt may find the pool busy: none started is allowed.)
    expect(started.load() == reported.load(), "each started detached call reported", started.load(), reported.load());
  }

  // Denormal handling: pool workers always flush; a caller flushes only inside DenormalsFlushed.
  if (myelin::kCanFlushDenormals) {
    const bool caller_before = myelin::denormals_flushed();
    expect(!caller_before, "the main thread starts with IEEE denormals", caller_before, 0);
    myelin::set_num_threads(2);
    std::atomic<int> worker_tasks{0}, worker_flushing{0};
    const std::thread::id caller = std::this_thread::get_id();
    for (int rep = 0; rep < 200 && worker_tasks.load() == 0; ++rep) {
      myelin::parallel_for(64, [&](int) {
        for (int spin = 0; spin < 1000; ++spin) std::this_thread::yield();
        if (std::this_thread::get_id() == caller) return;
        worker_tasks.fetch_add(1);
        if (myelin::denormals_flushed()) worker_flushing.fetch_add(1);
      });
    }
    expect(worker_tasks.load() > 0 && worker_tasks.load() == worker_flushing.load(),
           "pool workers flush denormals", worker_flushing.load(), worker_tasks.load());
    {
      myelin::DenormalsFlushed outer;
      expect(myelin::denormals_flushed(), "flushing inside DenormalsFlushed", 0, 1);
      volatile float tiny = 1e-39f, one = 1.0f;
      const float product = tiny * one;
      expect(product == 0.0f, "a denormal reads as zero inside DenormalsFlushed", 0, 0);
      {
        myelin::DenormalsFlushed inner;  // nested: already on, leaves it on
      }
      expect(myelin::denormals_flushed(), "still flushing after a nested scope", 0, 1);
    }
    expect(myelin::denormals_flushed() == caller_before, "the caller's mode is restored",
           myelin::denormals_flushed(), caller_before);
    volatile float tiny = 1e-39f, one = 1.0f;
    const float product = tiny * one;
    expect(product != 0.0f, "IEEE denormals again after the scope", 0, 0);
  }

  std::printf("threadpool_test: %d failures\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
