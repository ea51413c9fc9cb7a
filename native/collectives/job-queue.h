// What the two collectives addons (gloo.cc, mpi.cc) share: the queue of collectives that one
// communication thread runs in order (JobQueue), and the N-API functions over it (exportCollectives):
// allreduce, start (an allreduce that returns at once, as backward starts its buckets), wait, broadcast,
// barrier. Each addon supplies the thread, the library calls and connect/close.
#pragma once

#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>

namespace myelin_collectives {

struct Job {
  enum Kind { kAllreduce, kBroadcast, kBarrier, kFinalize } kind;
  float* data;
  size_t n;
  int root;
};

// The jobs JavaScript queued, taken in order by one communication thread. The first failure sticks: the
// thread skips the jobs after it and push() refuses new ones (the connection is then unusable).
class JobQueue {
 public:
  // Queues a job; throws the first failure once there is one.
  void push(const Job& job) {
    std::lock_guard<std::mutex> lock(m_);
    if (!error_.empty()) throw std::runtime_error(error_);
    queue_.push_back(job);
    pending_++;
    cv_.notify_all();
  }

  // Blocks until every queued job has run; throws the first failure. With a timeout, it gives up once no
  // job has finished for that long, failing the queue with onTimeout()'s message.
  void wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(0), const std::function<std::string()>& onTimeout = {}) {
    std::unique_lock<std::mutex> lock(m_);
    while (pending_ > 0 && error_.empty()) {
      const size_t seen = completed_;
      auto settled = [&] { return pending_ == 0 || !error_.empty() || completed_ != seen; };
      if (timeout.count() <= 0) {
        done_.wait(lock, settled);
      } else if (!done_.wait_for(lock, timeout, settled)) {
        error_ = onTimeout();
      }
    }
    if (!error_.empty()) throw std::runtime_error(error_);
  }

  // True once a job failed (or fail() was called).
  bool failed() {
    std::lock_guard<std::mutex> lock(m_);
    return !error_.empty();
  }

 protected:
  // For the communication thread: waits for the next job; false once stop() was called.
  bool next(Job& job) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return false;
    job = queue_.front();
    queue_.pop_front();
    return true;
  }
  // The first failure so far ("" when none): the thread skips jobs after one.
  std::string failure() {
    std::lock_guard<std::mutex> lock(m_);
    return error_;
  }
  // For the communication thread, after a job: failure is "" on success, else the message (the first sticks).
  void finished(const std::string& failure) {
    std::lock_guard<std::mutex> lock(m_);
    if (error_.empty()) error_ = failure;
    completed_++;
    pending_--;
    done_.notify_all();
  }
  // Fails the queue (when the message is the first failure).
  void fail(const std::string& message) {
    std::lock_guard<std::mutex> lock(m_);
    if (error_.empty()) error_ = message;
    done_.notify_all();
  }
  // Drops the queued jobs and makes next() return false.
  void stop() {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
    queue_.clear();
    cv_.notify_all();
  }

  std::mutex m_;
  std::condition_variable cv_, done_;
  std::deque<Job> queue_;
  size_t pending_ = 0, completed_ = 0;
  bool stop_ = false;
  std::string error_;
};

// Runs body, turning a C++ exception into a JavaScript Error with its message.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// Queues one collective on current(op) (the connected communicator: push, wait, size; throws when not
// connected) after checking its arguments; with wait, returns once it (and those before it) have run.
template <typename Comm, Comm& (*current)(const char*), size_t MaxCount>
Napi::Value queueJob(const Napi::CallbackInfo& info, Job::Kind kind, const char* op, bool wait) {
  return guarded(info, [&]() -> Napi::Value {
    Comm& c = current(op);
    Job job{kind, nullptr, 0, 0};
    if (kind != Job::kBarrier) {
      if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
        throw std::invalid_argument(std::string("distributed.") + op + ": argument 0 must be a Float32Array");
      }
      Napi::Float32Array a = info[0].As<Napi::Float32Array>();
      if (a.ElementLength() > MaxCount) {
        throw std::invalid_argument(std::string("distributed.") + op + ": " + std::to_string(a.ElementLength()) + " floats is more than the " +
                                    std::to_string(MaxCount) + " one collective takes; split the buffer");
      }
      job.data = a.Data();
      job.n = a.ElementLength();
    }
    if (kind == Job::kBroadcast) {
      job.root = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
      if (job.root < 0 || job.root >= c.size()) throw std::invalid_argument("distributed.broadcast: root " + std::to_string(job.root) + " is not a rank");
    }
    c.push(job);
    if (wait) c.wait();
    return info.Env().Undefined();
  });
}

// Sets exports.allreduce(a) (sums a over every rank, in place), start(a) (queues that sum and returns at
// once: a must stay alive and untouched until wait()), wait() (blocks until every started collective has
// finished; throws the first failure), broadcast(a, root) and barrier().
template <typename Comm, Comm& (*current)(const char*), size_t MaxCount>
void exportCollectives(Napi::Env env, Napi::Object exports) {
  using F = Napi::Value (*)(const Napi::CallbackInfo&);
  const F allreduce = [](const Napi::CallbackInfo& info) { return queueJob<Comm, current, MaxCount>(info, Job::kAllreduce, "allreduce", true); };
  const F start = [](const Napi::CallbackInfo& info) { return queueJob<Comm, current, MaxCount>(info, Job::kAllreduce, "allreduce", false); };
  const F broadcast = [](const Napi::CallbackInfo& info) { return queueJob<Comm, current, MaxCount>(info, Job::kBroadcast, "broadcast", true); };
  const F barrier = [](const Napi::CallbackInfo& info) { return queueJob<Comm, current, MaxCount>(info, Job::kBarrier, "barrier", true); };
  const F wait = [](const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      current("wait").wait();
      return info.Env().Undefined();
    });
  };
  exports.Set("allreduce", Napi::Function::New(env, allreduce));
  exports.Set("start", Napi::Function::New(env, start));
  exports.Set("wait", Napi::Function::New(env, wait));
  exports.Set("broadcast", Napi::Function::New(env, broadcast));
  exports.Set("barrier", Napi::Function::New(env, barrier));
}

}  // namespace myelin_collectives
