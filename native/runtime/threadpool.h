// A small persistent thread pool: the caller takes a share of the tasks, workers take the rest.
#pragma once
#include <functional>

namespace myelin {

// Threads the kernels may use: MYELIN_NUM_THREADS if set (>= 1), else the number of cores.
int num_threads();
// Changes the thread count (clamped to [1, 256]); takes effect for the next parallel_for.
void set_num_threads(int n);

// Runs fn(task) for every task in [0, ntasks), spread across the pool; the calling thread
// participates. Returns when all tasks are done. Calls made from inside a task, or while
// another parallel_for is running on the pool, run serially on the calling thread, so it is
// safe from any thread (including N-API async workers and worker_threads).
// fn must not throw. Pool workers flush denormals to zero (denormals.h); a caller that wants the
// same results on its own share of the tasks holds a DenormalsFlushed for the call.
void parallel_for(int ntasks, const std::function<void(int)>& fn);
// The same on at most max_threads threads (the caller included); max_threads <= 1 runs serially.
// Kernels pick max_threads from their work size (native/kernels/parallel_split.h: threads_for).
void parallel_for(int ntasks, const std::function<void(int)>& fn, int max_threads);

// Starts fn(task) for every task in [0, ntasks) on the pool's workers only, on at most
// max_threads of them (all threads counted, since the caller takes no task), and returns at once:
// the calling thread (a JavaScript thread handing off an inference call) goes on with its own work.
// When the last task has run, done() is called once, on the worker that ran it, after the pool is
// free for the next call. Workers that ran the previous call are usually still spinning, so the
// tasks start without waking a thread. Returns false, and runs nothing, when the pool is busy (another
// call on any thread holds it) or ntasks <= 0; the caller then runs the work another way.
// fn and done must not throw; both are moved into the pool and destroyed after done() returns.
bool parallel_for_detached(int ntasks, std::function<void(int)> fn, int max_threads,
                           std::function<void()> done);

}  // namespace myelin
