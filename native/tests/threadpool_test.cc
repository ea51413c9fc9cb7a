// Thread pool tests: every task runs exactly once, under nesting, concurrent callers and resizing.
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

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

  std::printf("threadpool_test: %d failures\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
