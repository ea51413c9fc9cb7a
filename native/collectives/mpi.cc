// myelin_mpi: the optional collectives addon over MPI (Debian libopenmpi-dev; any MPI whose mpicc wrapper
// reports its flags). Built only where mpicc and mpi.h are installed (native/collectives/binding.gyp,
// scripts/build-collectives.js); the main addon never links MPI.
//
// Threads: every MPI call, MPI_Init_thread and MPI_Finalize included, runs on one communication thread.
// MPI calls the thread that initialised it the main thread, so MPI_THREAD_FUNNELED is all this needs
// (Open MPI gives it on every build). Allreduces started during backward (start) run there while
// JavaScript keeps computing; wait() blocks until they are done. MPI is initialised once per process
// (the standard forbids a second MPI_Init): destroy() leaves the communicator in place and a later init()
// reuses it; MPI_Finalize runs at process exit. MPI collectives have no timeout and cannot be cancelled,
// so wait() gives up after timeoutMs without progress and marks the communicator broken: the process then
// exits without MPI_Finalize, and mpirun stops the other ranks.
#include "job-queue.h"

#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

using myelin_collectives::guarded;
using myelin_collectives::Job;

std::string mpiError(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, len);
}

class Comm : public myelin_collectives::JobQueue {
 public:
  // Starts the communication thread, which initialises MPI (see awaitInit).
  explicit Comm(std::chrono::milliseconds timeout) : timeout_(timeout) { worker_ = new std::thread([this] { run(); }); }
  // Waits for MPI_Init_thread (which waits for every rank mpirun started); "" when it succeeded, else the
  // reason (the communicator is then failed for good).
  std::string awaitInit() {
    std::unique_lock<std::mutex> lock(m_);
    if (!done_.wait_for(lock, timeout_, [this] { return started_; })) {
      error_ = "MPI_Init_thread did not return within " + std::to_string(timeout_.count()) +
               " ms (the other ranks mpirun started did not all call distributed.init)";
    }
    return error_;
  }
  int rank() const { return rank_; }
  int size() const { return size_; }
  void setTimeout(std::chrono::milliseconds t) {
    std::lock_guard<std::mutex> lock(m_);
    timeout_ = t;
  }

  // Blocks until every queued job has run; throws the first failure, or a timeout once no job has
  // finished for timeoutMs (a rank is stuck, slow, or ran different collectives).
  void wait() {
    JobQueue::wait(timeout_, [this] {
      return "rank " + std::to_string(rank_) + " timed out after " + std::to_string(timeout_.count()) +
             " ms waiting for the other ranks (one is stuck or slow, or the ranks ran different collectives); " +
             "MPI collectives cannot be cancelled: exit this process and mpirun stops the others";
    });
  }

  // At process exit: MPI_Finalize on the communication thread when the process exits with code 0 and the
  // thread is idle and healthy. Otherwise (a failing exit, a thread stuck in a collective, MPI failed) it
  // leaves MPI unfinalised: MPI_Finalize waits for every rank, and the others may be waiting in a
  // collective for this one; mpirun sees the exit without MPI_Finalize and stops the job.
  void finalize(bool success) {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (finalized_) return;
      finalized_ = true;
      if (!success || !error_.empty() || pending_ > 0 || !started_) {
        worker_->detach();
        return;
      }
      queue_.push_back(Job{Job::kFinalize, nullptr, 0, 0});
      pending_++;
      cv_.notify_all();
    }
    worker_->join();
  }

 private:
  void run() {
    int provided = 0;
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    std::string failed;
    if (rc != MPI_SUCCESS) {
      failed = "MPI_Init_thread failed: " + mpiError(rc);
    } else if (provided < MPI_THREAD_FUNNELED) {
      failed = "MPI_Init_thread gave thread level " + std::to_string(provided) + ", below MPI_THREAD_FUNNELED";
    } else {
      // A communicator of our own, whose errors return (MPI_COMM_WORLD's abort the job by default).
      rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
      if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
      if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(comm_, &rank_);
      if (rc == MPI_SUCCESS) rc = MPI_Comm_size(comm_, &size_);
      if (rc != MPI_SUCCESS) failed = "setting up the MPI communicator failed: " + mpiError(rc);
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      started_ = true;
      if (error_.empty()) error_ = failed;
      done_.notify_all();
      if (!error_.empty()) return;
    }
    Job job;
    while (next(job)) {
      if (job.kind == Job::kFinalize) {
        MPI_Comm_free(&comm_);
        MPI_Finalize();
        finished("");
        return;
      }
      const std::string before = failure();
      finished(before.empty() ? execute(job) : before);
    }
  }

  // Runs one collective; "" on success, else the error naming this rank and the MPI call.
  std::string execute(const Job& job) {
    int rc = MPI_SUCCESS;
    const char* call = "";
    const int n = static_cast<int>(job.n);  // at most INT_MAX (exportCollectives checks)
    switch (job.kind) {
      case Job::kAllreduce:
        call = "MPI_Allreduce";
        rc = MPI_Allreduce(MPI_IN_PLACE, job.data, n, MPI_FLOAT, MPI_SUM, comm_);
        break;
      case Job::kBroadcast:
        call = "MPI_Bcast";
        rc = MPI_Bcast(job.data, n, MPI_FLOAT, job.root, comm_);
        break;
      case Job::kBarrier:
        call = "MPI_Barrier";
        rc = MPI_Barrier(comm_);
        break;
      case Job::kFinalize:
        break;
    }
    if (rc == MPI_SUCCESS) return "";
    return "rank " + std::to_string(rank_) + ": " + call + " failed (another rank exited or its connection broke): " + mpiError(rc);
  }

  std::chrono::milliseconds timeout_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = -1, size_ = 0;
  bool started_ = false, finalized_ = false;
  // Never deleted: at exit it is joined after MPI_Finalize, or detached when stuck in a collective.
  std::thread* worker_ = nullptr;
};

// The process's communicator (MPI is initialised at most once per process); never deleted, finalised at
// exit. connected: between connect() and close().
Comm* comm = nullptr;
bool connected = false;

// The fallback when JavaScript's exit hook (finalize(code)) did not run.
void finalizeAtExit() {
  if (comm != nullptr) comm->finalize(true);
}

Comm& current(const char* op) {
  if (comm == nullptr || !connected) throw std::runtime_error(std::string("distributed.") + op + ": not connected (call distributed.init first)");
  return *comm;
}

// connect({ timeoutMs }) -> { rank, size } from MPI_Comm_rank / MPI_Comm_size.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (connected) throw std::runtime_error("distributed.init: already connected (call distributed.destroy first)");
    if (info.Length() < 1 || !info[0].IsObject()) throw std::invalid_argument("distributed.init: expected an options object");
    Napi::Value t = info[0].As<Napi::Object>().Get("timeoutMs");
    const auto timeout = std::chrono::milliseconds(t.IsNumber() ? t.As<Napi::Number>().Int64Value() : 60000);
    if (comm == nullptr) {
      int already = 0;
      MPI_Initialized(&already);
      if (already) throw std::runtime_error("distributed.init: MPI was already initialised in this process by other code");
      // Registered before MPI starts, so that it runs at exit whatever happens next.
      static bool registered = (std::atexit(finalizeAtExit), true);
      (void)registered;
      // Kept even when MPI fails to start (its thread may still be inside MPI_Init_thread).
      comm = new Comm(timeout);
      const std::string failed = comm->awaitInit();
      if (!failed.empty()) throw std::runtime_error(failed);
    } else if (comm->failed()) {
      throw std::runtime_error("distributed.init: MPI failed earlier in this process and cannot be initialised again (MPI allows one MPI_Init per process)");
    }
    comm->setTimeout(timeout);
    connected = true;
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("rank", comm->rank());
    out.Set("size", comm->size());
    return out;
  });
}

// close(): leaves the group; MPI stays initialised (finalised at exit), so init() may be called again.
Napi::Value Close(const Napi::CallbackInfo& info) {
  if (comm != nullptr && connected && !comm->failed()) {
    try {
      comm->wait();
    } catch (const std::exception&) {
    }
  }
  connected = false;
  return info.Env().Undefined();
}

// finalize(exitCode): called from process.on('exit'); MPI_Finalize when exitCode is 0 (see Comm::finalize).
Napi::Value Finalize(const Napi::CallbackInfo& info) {
  const bool success = info.Length() > 0 && info[0].IsNumber() && info[0].As<Napi::Number>().Int32Value() == 0;
  if (comm != nullptr) comm->finalize(success);
  connected = false;
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("connect", Napi::Function::New(env, Connect));
  myelin_collectives::exportCollectives<Comm, current, static_cast<size_t>(INT_MAX)>(env, exports);
  exports.Set("close", Napi::Function::New(env, Close));
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  std::string v(version, len);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\0' || v.back() == ' ')) v.pop_back();
  exports.Set("mpiVersion", Napi::String::New(env, v));
  return exports;
}

}  // namespace

NODE_API_MODULE(myelin_mpi, Init)
