// test_front: a tiny front module for the host's tests, built only for them (never installed,
// never in build/modules). It submits chain ops from threads of its own, as a real front does:
//  - the test hands it ops through the extern "C" test_front_* functions below (dlsym), and its
//    submitter thread submits them;
//  - with `port` set, it also serves a one-line protocol on loopback ("get KEY\r\n" ->
//    "VALUE <bytes>\r\n" | "MISS\r\n" | "ERROR <message>\r\n"), for `strata run` tests.
// Every submit's done callbacks are counted in globals that outlive the instance, so a test can
// check "exactly once" after the runtime is gone.
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strata/sdk.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// Counters across instances, for the life of the .so.
std::mutex g_mu;
std::condition_variable g_cv;
long g_accepted = 0;    // submits that returned STRATA_OK
long g_refused = 0;     // submits that returned an error (no done is owed)
long g_done = 0;        // done calls
long g_duplicates = 0;  // done calls for a submit that already had one
long g_inline = 0;      // done calls made on the submitting thread, inside submit
bool g_hold_next = false;  // the next done blocks until test_front_release_held()
bool g_holding = false;    // a done is blocked now
const strata_host_api* g_api = nullptr;  // the host table: valid for the whole process

// One submit: its done count, and whether a waiter wants to know.
struct Pending {
  std::thread::id submitter;
  std::atomic<bool> submitting{true};
  int dones = 0;  // under g_mu
};

void on_done(void* user, strata_chain_op*, size_t) {
  auto* p = static_cast<Pending*>(user);
  std::unique_lock lock(g_mu);
  if (++p->dones > 1) ++g_duplicates;
  ++g_done;
  if (p->submitting.load() && std::this_thread::get_id() == p->submitter) ++g_inline;
  if (g_hold_next) {
    g_hold_next = false;
    g_holding = true;
    g_cv.notify_all();
    g_cv.wait(lock, [] { return !g_holding; });
  }
  g_cv.notify_all();
}

class TestFront : public strata::FrontModule {
 public:
  TestFront(strata::Host host, const strata::Options& o)
      : host_(host), chain_(host.front_chain()), port_(static_cast<int>(o.integer("port"))) {
    if (!chain_) throw strata::Error(STRATA_ERR_INVALID, "the host handed no tier chain");
    g_api = host.api();
  }

  void start() override {
    submitter_ = std::thread([this] { submit_loop(); });
    if (port_ > 0) {
      listen_fd_ = open_listener(port_);
      if (listen_fd_ < 0) throw strata::Error(STRATA_ERR_UNAVAILABLE, "cannot listen");
      listener_ = std::thread([this] { serve(); });
    }
  }

  // Bounded: joins its threads without waiting for outstanding dones (the host answers those,
  // also at shutdown).
  void stop(bool) override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (submitter_.joinable()) submitter_.join();
    if (listener_.joinable()) listener_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }

  // Submits from the submitter thread; returns the submit's status once it returned.
  int submit(strata_chain_op* ops, size_t count, Pending* p) {
    auto req = std::make_shared<Request>();
    req->ops = ops;
    req->count = count;
    req->pending = p;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return -2;
      requests_.push_back(req);
    }
    cv_.notify_all();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return req->submitted; });
    return req->rc;
  }

 private:
  struct Request {
    strata_chain_op* ops = nullptr;
    size_t count = 0;
    Pending* pending = nullptr;
    bool submitted = false;
    int rc = 0;
  };

  void submit_loop() {
    for (;;) {
      std::shared_ptr<Request> req;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !requests_.empty(); });
        if (requests_.empty()) return;
        req = requests_.front();
        requests_.pop_front();
      }
      int rc = submit_now(req->ops, req->count, req->pending);
      {
        std::lock_guard lock(mu_);
        req->rc = rc;
        req->submitted = true;
      }
      cv_.notify_all();
    }
  }

  int submit_now(strata_chain_op* ops, size_t count, Pending* p) {
    p->submitter = std::this_thread::get_id();
    int rc = host_.submit(chain_, ops, count, on_done, p);
    p->submitting = false;
    std::lock_guard lock(g_mu);
    if (rc == STRATA_OK)
      ++g_accepted;
    else
      ++g_refused;
    return rc;
  }

  static int open_listener(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, 16) != 0) {
      if (fd >= 0) ::close(fd);
      return -1;
    }
    return fd;
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  // One connection at a time; polls so that stop() is seen within 100 ms.
  void serve() {
    while (!stopping()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      serve_connection(c);
      ::close(c);
    }
  }

  void serve_connection(int c) {
    std::string in;
    char buf[512];
    while (!stopping()) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      for (size_t eol; (eol = in.find("\r\n")) != std::string::npos;) {
        std::string line = in.substr(0, eol);
        in.erase(0, eol + 2);
        std::string reply = answer(line);
        if (::write(c, reply.data(), reply.size()) < 0) return;
      }
    }
  }

  std::string answer(const std::string& line) {
    if (line.rfind("get ", 0) != 0) return "ERROR unknown command\r\n";
    std::string key = line.substr(4);
    strata_chain_op op = strata::chain_op(STRATA_CHAIN_GET, key);
    Pending* p = new Pending();  // kept: a late duplicate done must find it
    {
      std::lock_guard lock(mu_);
      kept_.emplace_back(p);
    }
    if (submit_now(&op, 1, p) != STRATA_OK) return "ERROR refused\r\n";
    {
      std::unique_lock lock(g_mu);
      g_cv.wait(lock, [&] { return p->dones > 0; });
    }
    std::string reply = op.status == STRATA_OK
                            ? "VALUE " + std::string(strata::result_value(op)) + "\r\n"
                        : op.status == STRATA_NOT_FOUND
                            ? std::string("MISS\r\n")
                            : "ERROR " + std::string(strata::result_error(op)) + "\r\n";
    host_.release(&op, 1);
    return reply;
  }

  strata::Host host_;
  strata_chain* chain_;
  const int port_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Request>> requests_;
  std::vector<std::unique_ptr<Pending>> kept_;
  bool stopping_ = false;
  std::thread submitter_;
  std::thread listener_;
  int listen_fd_ = -1;
};

constexpr strata_option_def kOptions[] = {
    strata::option("port", STRATA_OPT_INT, "0", "loopback port of the line protocol; 0 = none")
        .range(0, 65535),
    strata::option("label", STRATA_OPT_STRING, "", "free text, unused"),
};

TestFront* self(void* inst) {
  return static_cast<TestFront*>(static_cast<strata::ModuleBase*>(inst));
}

}  // namespace

STRATA_MODULE(TestFront, "test_front", "0.0.1", "a front for the host's tests", kOptions)

extern "C" {

// A submit handle: one per submit, freed by test_front_forget() (after its done).
STRATA_EXPORT void* test_front_pending_new() { return new Pending(); }
STRATA_EXPORT void test_front_pending_free(void* p) { delete static_cast<Pending*>(p); }
STRATA_EXPORT int test_front_pending_dones(void* p) {
  std::lock_guard lock(g_mu);
  return static_cast<Pending*>(p)->dones;
}

// Submits `ops` from the front's submitter thread; returns the submit's status (-2 when the
// front is stopping). The ops must live until their done.
STRATA_EXPORT int test_front_submit(void* inst, strata_chain_op* ops, size_t count, void* p) {
  return self(inst)->submit(ops, count, static_cast<Pending*>(p));
}

// Waits up to timeout_ms until `p` has a done; 1 when it has.
STRATA_EXPORT int test_front_wait(void* p, int timeout_ms) {
  std::unique_lock lock(g_mu);
  return g_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                       [&] { return static_cast<Pending*>(p)->dones > 0; })
             ? 1
             : 0;
}

// Waits up to timeout_ms until at least `n` done calls were made in all; 1 when they were.
STRATA_EXPORT int test_front_wait_dones(long n, int timeout_ms) {
  std::unique_lock lock(g_mu);
  return g_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return g_done >= n; })
             ? 1
             : 0;
}

// chain_release through the host table (the instance may be gone: results outlive it).
STRATA_EXPORT void test_front_release(void*, strata_chain_op* ops, size_t count) {
  if (g_api) strata::Host(g_api, nullptr).release(ops, count);
}

// counts[0..4] = accepted, refused, done, duplicates, inline dones.
STRATA_EXPORT void test_front_counts(long* counts) {
  std::lock_guard lock(g_mu);
  counts[0] = g_accepted;
  counts[1] = g_refused;
  counts[2] = g_done;
  counts[3] = g_duplicates;
  counts[4] = g_inline;
}

// The next done call blocks (on the host's thread) until test_front_release_held().
STRATA_EXPORT void test_front_hold_next_done() {
  std::lock_guard lock(g_mu);
  g_hold_next = true;
}
// Waits up to timeout_ms until a done is held; 1 when it is.
STRATA_EXPORT int test_front_wait_held(int timeout_ms) {
  std::unique_lock lock(g_mu);
  return g_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [] { return g_holding; }) ? 1
                                                                                             : 0;
}
STRATA_EXPORT void test_front_release_held() {
  std::lock_guard lock(g_mu);
  g_holding = false;
  g_hold_next = false;
  g_cv.notify_all();
}

}  // extern "C"
