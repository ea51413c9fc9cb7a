// myelin_gloo: the optional collectives addon over Gloo (Debian libgloo-dev). Built only where Gloo is
// installed (native/collectives/binding.gyp, scripts/build-collectives.js); the main addon never links it.
// One process-wide context: connect() meets the other ranks through Gloo's file or Redis store and
// builds a TCP full mesh; every collective then runs, in order, on one communication thread, so
// allreduces started during backward (start) proceed while JavaScript keeps computing, and wait()
// blocks until they are done. When a collective fails, the error names the ranks whose connections
// closed (read from Gloo's TCP pairs).
#include "job-queue.h"

#include <gloo/allreduce.h>
#include <gloo/alltoall.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/rendezvous/redis_store.h>
#include <gloo/transport/tcp/address.h>
#include <gloo/transport/tcp/device.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <cstdint>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace tcp = gloo::transport::tcp;
using myelin_collectives::guarded;
using myelin_collectives::Job;

class Comm : public myelin_collectives::JobQueue {
 public:
  // peers[r]: the addresses Gloo's errors may print for rank r. store: the rendezvous store (kept to
  // tell the other ranks which peers this one lost).
  Comm(std::shared_ptr<gloo::rendezvous::Context> ctx, std::vector<std::vector<std::string>> peers, std::chrono::milliseconds timeout,
       std::unique_ptr<gloo::rendezvous::Store> base, const std::string& prefix)
      : ctx_(std::move(ctx)), timeout_(timeout), peers_(std::move(peers)), base_(std::move(base)), store_(prefix, *base_),
        worker_([this] { run(); }) {}
  // Drops the queued collectives; one already running finishes (or times out) before the thread ends.
  ~Comm() {
    stop();
    worker_.join();
  }
  int rank() const { return ctx_->rank; }
  int size() const { return ctx_->size; }


 private:
  // The communication thread: runs the queued collectives in order (none after a failure).
  void run() {
    Job job;
    while (next(job)) {
      std::string failed = failure();
      if (failed.empty()) {
        try {
          execute(job);
        } catch (const std::exception& e) {
          failed = describe(e.what());
        }
      }
      finished(failed);
    }
  }

  void execute(const Job& job) {
    const uint32_t tag = tag_++;
    switch (job.kind) {
      case Job::kAllreduce: {
        gloo::AllreduceOptions opts(ctx_);
        opts.setOutput(job.data, job.n);
        opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
        opts.setTag(tag);
        opts.setTimeout(timeout_);
        gloo::allreduce(opts);
        break;
      }
      case Job::kBroadcast: {
        gloo::BroadcastOptions opts(ctx_);
        opts.setOutput(job.data, job.n);
        opts.setRoot(job.root);
        opts.setTag(tag);
        opts.setTimeout(timeout_);
        gloo::broadcast(opts);
        break;
      }
      case Job::kBarrier: {
        gloo::BarrierOptions opts(ctx_);
        opts.setTag(tag);
        opts.setTimeout(timeout_);
        gloo::barrier(opts);
        break;
      }
      case Job::kFinalize:
        break;
    }
  }

  // Gloo's message plus which ranks are gone (a dead process closes its sockets at once; a stuck one
  // shows up as a timeout).
  // True when text holds address not followed by another digit ("...:351" is not "...:3510").
  static bool mentions(const std::string& text, const std::string& address) {
    for (size_t at = text.find(address); at != std::string::npos; at = text.find(address, at + 1)) {
      const size_t end = at + address.size();
      if (end >= text.size() || !std::isdigit(static_cast<unsigned char>(text[end]))) return true;
    }
    return false;
  }

  static std::string lostKey(int rank) { return "myelin-lost-by-" + std::to_string(rank); }

  // Rank r's report of the ranks it lost ("" when it left none within a short wait: it failed silently).
  std::string reportOf(int r) {
    try {
      store_.wait({lostKey(r)}, std::chrono::milliseconds(500));
      std::vector<char> bytes = store_.get(lostKey(r));
      return std::string(bytes.begin(), bytes.end());
    } catch (const std::exception&) {
      return "";
    }
  }

  // Gloo's message, led by the ranks it names (a dead process closes its sockets at once: Gloo reports
  // the peer's address, which connect() mapped to its rank) or by the timeout (a stuck rank).
  std::string describe(const std::string& what) {
    const std::string me = "rank " + std::to_string(ctx_->rank);
    std::string lost;
    std::vector<bool> named(ctx_->size, false);
    for (int r = 0; r < ctx_->size; r++) {
      bool mentioned = false;
      for (const std::string& a : peers_[r]) mentioned = mentioned || mentions(what, a);
      if (!mentioned) continue;
      named[r] = true;
      lost += (lost.empty() ? "" : ",") + std::to_string(r);
    }
    if (lost.empty() && what.find("imed out") != std::string::npos) {
      return me + " timed out after " + std::to_string(timeout_.count()) +
             " ms waiting for the other ranks (one is stuck or slow, or the ranks ran different collectives); Gloo: " + what;
    }
    if (lost.empty() && what.find("losed") == std::string::npos && what.find("eset") == std::string::npos) {
      return me + ": a collective failed; Gloo: " + what;
    }
    // A rank that fails exits, which closes its other connections too, so the connection this rank lost
    // may lead to a bystander. Every rank that sees a failure leaves a report in the store; the rank
    // that failed first is one that the reports name and that left none.
    try {
      const std::string report = lost.empty() ? "?" : lost;
      store_.set(lostKey(ctx_->rank), std::vector<char>(report.begin(), report.end()));
    } catch (const std::exception&) {
    }
    std::vector<bool> reported(ctx_->size, false);
    for (int r = 0; r < ctx_->size; r++) {
      if (r == ctx_->rank) continue;
      const std::string theirs = reportOf(r);
      reported[r] = !theirs.empty();
      size_t start = 0;
      while (start < theirs.size()) {
        size_t end = theirs.find(',', start);
        if (end == std::string::npos) end = theirs.size();
        const std::string item = theirs.substr(start, end - start);
        if (!item.empty() && std::isdigit(static_cast<unsigned char>(item[0]))) {
          const int n = std::stoi(item);
          if (n >= 0 && n < ctx_->size) named[n] = true;
        }
        start = end + 1;
      }
    }
    std::string first;
    bool anyNamed = false;
    for (int r = 0; r < ctx_->size; r++) {
      anyNamed = anyNamed || named[r];
      if (r != ctx_->rank && named[r] && !reported[r]) first += (first.empty() ? "" : ",") + std::to_string(r);
    }
    // No survivor could map its broken connection to a rank (Gloo's error named an ephemeral port, or
    // no address): every survivor still left a report, so the ranks that left none are the ones that failed.
    if (!anyNamed) {
      for (int r = 0; r < ctx_->size; r++) {
        if (r != ctx_->rank && !reported[r]) first += (first.empty() ? "" : ",") + std::to_string(r);
      }
    }
    std::string msg = me + " lost its connection to " + (lost.empty() ? std::string("another rank") : "rank " + lost);
    if (!first.empty()) msg += ": rank " + first + " failed first (that process exited, was killed, or its network went down)";
    return msg + "; Gloo: " + what;
  }

  std::shared_ptr<gloo::rendezvous::Context> ctx_;
  std::chrono::milliseconds timeout_;
  std::vector<std::vector<std::string>> peers_;
  std::unique_ptr<gloo::rendezvous::Store> base_;
  gloo::rendezvous::PrefixStore store_;
  uint32_t tag_ = 0;
  std::thread worker_;
};

std::unique_ptr<Comm> comm;

// Gloo's Redis store plus the one thing it lacks: deleting a run's keys. Gloo writes them with SETNX, so
// keys left by an earlier run with the same prefix would make the next run fail ("already set"); rank 0
// removes them once every rank has connected (nothing reads them after that), so the same MASTER_ADDR /
// MASTER_PORT / runId work again for the next run.
class RunRedisStore : public gloo::rendezvous::RedisStore {
 public:
  // timeout: how long one Redis command may wait for its reply (Gloo sets none, so a server that accepts
  // connections but never answers, e.g. a stopped process, would block init forever). Connecting has
  // Gloo's own limit of 2 s.
  RunRedisStore(const std::string& host, int port, std::chrono::milliseconds timeout) : RedisStore(host, port) {
    struct timeval tv;
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    if (redisSetTimeout(redis_, tv) != REDIS_OK) throw std::runtime_error("Redis: cannot set the reply timeout");
  }
  // Deletes these keys (those that exist).
  void removeKeys(const std::vector<std::string>& keys) {
    std::vector<const char*> argv{"DEL"};
    std::vector<size_t> lens{3};
    for (const std::string& k : keys) {
      argv.push_back(k.data());
      lens.push_back(k.size());
    }
    auto* del = static_cast<redisReply*>(redisCommandArgv(redis_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (del == nullptr) throw std::runtime_error(std::string("Redis DEL: ") + redis_->errstr);
    freeReplyObject(del);
  }
  // Deletes every key matching prefix + "/*" (the prefix's glob characters escaped); returns how many.
  long long removeRun(const std::string& prefix) {
    std::string pattern;
    for (const char c : prefix) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
      pattern += c;
    }
    pattern += "/*";
    long long removed = 0;
    std::string cursor = "0";
    do {
      auto* scan = static_cast<redisReply*>(redisCommand(redis_, "SCAN %s MATCH %b COUNT 1000", cursor.c_str(), pattern.data(), pattern.size()));
      if (scan == nullptr) throw std::runtime_error(std::string("Redis SCAN: ") + redis_->errstr);
      if (scan->type != REDIS_REPLY_ARRAY || scan->elements != 2) {
        freeReplyObject(scan);
        throw std::runtime_error("Redis SCAN: unexpected reply");
      }
      cursor.assign(scan->element[0]->str, scan->element[0]->len);
      const redisReply* keys = scan->element[1];
      if (keys->elements > 0) {
        std::vector<const char*> argv{"DEL"};
        std::vector<size_t> lens{3};
        for (size_t i = 0; i < keys->elements; i++) {
          argv.push_back(keys->element[i]->str);
          lens.push_back(keys->element[i]->len);
        }
        auto* del = static_cast<redisReply*>(redisCommandArgv(redis_, static_cast<int>(argv.size()), argv.data(), lens.data()));
        if (del != nullptr && del->type == REDIS_REPLY_INTEGER) removed += del->integer;
        if (del != nullptr) freeReplyObject(del);
      }
      freeReplyObject(scan);
    } while (cursor != "0");
    return removed;
  }
};

// "[ip]:port" as Gloo's Address::str() prints it. raw: the port as stored (network byte order), which is
// what this Gloo prints; else in host order (kept so that a Gloo that converts it matches too).
std::string addressText(const sockaddr_storage& ss, bool raw) {
  char ip[INET6_ADDRSTRLEN] = {0};
  unsigned port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    port = raw ? a->sin_port : ntohs(a->sin_port);
  } else {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    port = raw ? a->sin6_port : ntohs(a->sin6_port);
  }
  return "[" + std::string(ip) + "]:" + std::to_string(port);
}

Comm& current(const char* op) {
  if (!comm) throw std::runtime_error(std::string("distributed.") + op + ": not connected (call distributed.init first)");
  return *comm;
}

std::string str(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}
int integer(const Napi::Object& o, const char* key, int fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : fallback;
}

// connect({ rank, size, store: 'file' | 'redis', path, host, port, prefix, hostname, iface, timeoutMs })
Napi::Value Connect(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (comm) throw std::runtime_error("distributed.init: already connected (call distributed.destroy first)");
    if (info.Length() < 1 || !info[0].IsObject()) throw std::invalid_argument("distributed.init: expected an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    const int rank = integer(o, "rank", -1), size = integer(o, "size", 0);
    if (size < 1 || rank < 0 || rank >= size) {
      throw std::invalid_argument("distributed.init: rank " + std::to_string(rank) + " is not in 0.." + std::to_string(size - 1));
    }
    const auto timeout = std::chrono::milliseconds(integer(o, "timeoutMs", 60000));
    tcp::attr attr;
    attr.hostname = str(o, "hostname");
    attr.iface = str(o, "iface");
    if (attr.hostname.empty() && attr.iface.empty()) attr.hostname = "127.0.0.1";
    auto device = tcp::CreateDevice(attr);
    std::unique_ptr<gloo::rendezvous::Store> base;
    if (str(o, "store") == "redis") {
      base.reset(new RunRedisStore(str(o, "host"), integer(o, "port", 6379), timeout));
    } else {
      base.reset(new gloo::rendezvous::FileStore(str(o, "path")));
    }
    const std::string prefix = str(o, "prefix");
    gloo::rendezvous::PrefixStore store(prefix, *base);
    auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, size);
    ctx->setTimeout(timeout);
    try {
      ctx->connectFullMesh(store, device);
    } catch (const std::exception& e) {
      // A rank that gives up on the Redis rendezvous (another rank did not come) takes its own keys back, so
      // they do not block the next run with this runId; keys that were already there (another run's) stay.
      if (str(o, "store") == "redis" && std::string(e.what()).find("already set") == std::string::npos) {
        try {
          const std::string r = std::to_string(rank);
          static_cast<RunRedisStore*>(base.get())->removeKeys({prefix + "/" + r, prefix + "/rank_" + r});
        } catch (const std::exception&) {
        }
      }
      throw;
    }
    // Each rank publishes its local address of every connection, so that an error naming a peer's
    // address can name the peer's rank.
    std::string mine;
    for (int r = 0; r < size; r++) mine += (r == rank ? std::string() : ctx->getPair(r)->address().str()) + "\n";
    store.set("myelin-addresses-" + std::to_string(rank), std::vector<char>(mine.begin(), mine.end()));
    // An error names the peer by the address of its end of the connection: rank r's listening address
    // when this rank connected to it, else the address r connected from (found among this process's
    // sockets: the one whose local end is this rank's listening address for r).
    std::vector<std::vector<std::string>> peers(size);
    std::vector<std::string> listening(size);
    for (int r = 0; r < size; r++) {
      if (r == rank) continue;
      listening[r] = ctx->getPair(r)->address().str();
      std::vector<char> bytes = store.get("myelin-addresses-" + std::to_string(r));
      std::string all(bytes.begin(), bytes.end());
      size_t start = 0;
      for (int i = 0; i < rank; i++) start = all.find('\n', start) + 1;
      peers[r].push_back(all.substr(start, all.find('\n', start) - start));
    }
    {
      // One message on every connection first, so that every accepted socket is open when we look.
      std::vector<float> in(size, 1.0f), out(size, 0.0f);
      gloo::AlltoallOptions opts(ctx);
      opts.setInput(in.data(), in.size());
      opts.setOutput(out.data(), out.size());
      opts.setTag(0xfffffff0u);
      opts.setTimeout(timeout);
      gloo::alltoall(opts);
    }
    // Rank 0's alltoall completing means every rank has read all it needs from the store: clear the run's
    // rendezvous keys (Redis only; a directory store is one run's by design).
    if (rank == 0 && str(o, "store") == "redis") static_cast<RunRedisStore*>(base.get())->removeRun(prefix);
    if (DIR* dir = opendir("/proc/self/fd")) {
      while (dirent* e = readdir(dir)) {
        const int fd = std::atoi(e->d_name);
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (fd <= 2 || getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
        if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) continue;
        struct sockaddr_storage own;
        socklen_t ownLen = sizeof(own);
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&own), &ownLen) != 0) continue;
        for (const bool raw : {true, false}) {
          const std::string local = addressText(own, raw);
          for (int r = 0; r < size; r++) {
            if (r != rank && local == listening[r]) peers[r].push_back(addressText(ss, raw));
          }
        }
      }
      closedir(dir);
    }
    comm.reset(new Comm(ctx, std::move(peers), timeout, std::move(base), prefix));
    return info.Env().Undefined();
  });
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  comm.reset();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("connect", Napi::Function::New(env, Connect));
  myelin_collectives::exportCollectives<Comm, current, SIZE_MAX>(env, exports);
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("rank", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return comm ? Napi::Number::New(info.Env(), comm->rank()) : info.Env().Null();
  }));
  exports.Set("glooVersion", Napi::Number::New(env, GLOO_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(myelin_gloo, Init)
