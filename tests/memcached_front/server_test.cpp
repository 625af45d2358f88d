// The front's server logic (epoll loops, pipelining, ordering, back-pressure, bounded stop)
// over a fake tier chain that counts submits and completes them inline, on its own thread, or
// only when the test lets it. The chain semantics are the host's (tests of the real thing with
// memcached and redis-server are in front_integration_test.cpp).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "front_client.hpp"
#include "server.hpp"

using strata::test::McClient;

namespace {

// A map behind the chain ops; GET SET ADD DELETE and INCR, enough for the server's logic.
class FakeChain : public mcfront::ChainPort {
 public:
  enum class Mode { Inline, Thread, Held };
  explicit FakeChain(Mode mode) : mode_(mode) {
    if (mode_ != Mode::Inline) worker_ = std::thread([this] { work(); });
  }
  ~FakeChain() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      quit_ = true;
      held_ = false;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }
  strata_status submit(strata_chain_op* ops, size_t n, strata_chain_done_fn done,
                       void* user) override {
    ++submits;
    if (mode_ == Mode::Inline) {
      apply(ops, n);
      done(user, ops, n);
      return STRATA_OK;
    }
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back({ops, n, done, user});
    cv_.notify_all();
    return STRATA_OK;
  }
  void release(strata_chain_op* ops, size_t n) override {
    for (size_t i = 0; i < n; ++i) delete[] ops[i].result_value.data;
    ++releases;
  }
  int64_t now_unix_ms() override { return 1'800'000'000'000; }
  uint64_t monotonic_ns() override {
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  void let_go() {
    std::lock_guard<std::mutex> l(mu_);
    held_ = false;
    cv_.notify_all();
  }
  std::atomic<int> submits{0}, releases{0};

 private:
  struct Job {
    strata_chain_op* ops;
    size_t n;
    strata_chain_done_fn done;
    void* user;
  };
  void work() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return quit_ || (!queue_.empty() && !(mode_ == Mode::Held && held_)); });
      if (queue_.empty()) return;
      Job j = queue_.front();
      queue_.pop_front();
      l.unlock();
      apply(j.ops, j.n);
      j.done(j.user, j.ops, j.n);
      l.lock();
    }
  }
  void apply(strata_chain_op* ops, size_t n) {
    std::lock_guard<std::mutex> l(data_mu_);
    for (size_t i = 0; i < n; ++i) apply_one(ops[i]);
  }
  void set_result(strata_chain_op& op, const std::string& v) {
    char* p = new char[v.size() + 1];
    std::memcpy(p, v.data(), v.size());
    op.result_value = {p, v.size()};
  }
  void apply_one(strata_chain_op& op) {
    std::string key(op.key.data, op.key.len), value(op.value.data, op.value.len);
    auto it = data_.find(key);
    op.status = STRATA_OK;
    switch (op.kind) {
      case STRATA_CHAIN_GET:
        if (it == data_.end()) op.status = STRATA_NOT_FOUND;
        else set_result(op, it->second), op.result_tier = "tiers.fake";
        break;
      case STRATA_CHAIN_SET: data_[key] = value; break;
      case STRATA_CHAIN_ADD:
        if (it != data_.end()) op.status = STRATA_NOT_STORED;
        else data_[key] = value;
        break;
      case STRATA_CHAIN_DELETE:
        if (it == data_.end()) op.status = STRATA_NOT_FOUND;
        else data_.erase(it);
        break;
      case STRATA_CHAIN_INCR:
        if (it == data_.end()) op.status = STRATA_NOT_FOUND;
        else it->second = std::to_string(std::stoull(it->second) + op.cas), set_result(op, it->second);
        break;
      default:
        op.status = STRATA_ERR_UNAVAILABLE;
        std::snprintf(op.error, sizeof op.error, "fake: not implemented");
    }
  }

  Mode mode_;
  std::mutex mu_, data_mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool held_ = true, quit_ = false;
  std::thread worker_;
  std::map<std::string, std::string> data_;
};

mcfront::FrontConfig test_config() {
  mcfront::FrontConfig c;
  c.port = 0;
  c.threads = 2;
  c.stop_timeout_ms = 2000;
  return c;
}

struct Front {
  explicit Front(FakeChain::Mode mode, mcfront::FrontConfig cfg = test_config())
      : chain(mode), server(cfg, chain, metrics) {
    server.start();
  }
  ~Front() {
    server.stop();
    chain.let_go();
    EXPECT_TRUE(server.wait_idle(5000));
  }
  FakeChain chain;
  mcfront::FrontMetrics metrics;
  mcfront::Server server;
};

const std::string kPipeline =
    "set k 0 0 2\r\nv1\r\nget k nope\r\nmn\r\nincr n 1\r\nadd k 0 0 1\r\nx\r\n"
    "mg k v k Oq1\r\nmg nope v q\r\ndelete k\r\nget k\r\nversion\r\n";
const std::string kReplies =
    "STORED\r\nVALUE k 0 2\r\nv1\r\nEND\r\nMN\r\nNOT_FOUND\r\nNOT_STORED\r\n"
    "VA 2 kk Oq1\r\nv1\r\nDELETED\r\nEND\r\nVERSION 1.6.0-strata\r\n";

}  // namespace

TEST(FrontServer, PipelinedRequestsAnswerInOrderWithInlineCompletions) {
  Front f(FakeChain::Mode::Inline);
  McClient c(f.server.port());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.call(kPipeline, "VERSION 1.6.0-strata\r\n"), kReplies);
}

TEST(FrontServer, PipelinedRequestsAnswerInOrderWithHostThreadCompletions) {
  Front f(FakeChain::Mode::Thread);
  McClient c(f.server.port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.call(kPipeline, "VERSION 1.6.0-strata\r\n"), kReplies);
  std::string one_by_one;
  for (char ch : kPipeline) ASSERT_TRUE(c.send(std::string(1, ch)));
  EXPECT_EQ(c.read_until("VERSION 1.6.0-strata\r\n"), kReplies);
}

TEST(FrontServer, HeldCompletionDelaysOnlyItsOwnClient) {
  Front f(FakeChain::Mode::Held);
  McClient a(f.server.port()), b(f.server.port());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a.send("get k\r\nversion\r\n"));  // the get waits on the chain...
  EXPECT_EQ(b.call("version\r\n"), "VERSION 1.6.0-strata\r\n");  // ...b does not wait with it
  f.chain.let_go();
  EXPECT_EQ(a.read_until("VERSION 1.6.0-strata\r\n"), "END\r\nVERSION 1.6.0-strata\r\n");
}

TEST(FrontServer, AClientThatDoesNotReadStallsNobodyElse) {
  mcfront::FrontConfig cfg = test_config();
  cfg.max_output = 64 * 1024;
  Front f(FakeChain::Mode::Thread, cfg);
  McClient slow(f.server.port()), other(f.server.port());
  ASSERT_TRUE(slow.ok() && other.ok());
  std::string big(100 * 1024, 'x');
  ASSERT_EQ(slow.call("set big 0 0 " + std::to_string(big.size()) + "\r\n" + big + "\r\n"),
            "STORED\r\n");
  // ~40 MB of replies owed and never read: the socket buffers fill, the front stops reading it.
  std::string gets;
  for (int i = 0; i < 400; ++i) gets += "get big\r\n";
  ::shutdown(slow.fd(), SHUT_RD);
  ASSERT_TRUE(slow.send(gets));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(other.call("mn\r\n"), "MN\r\n");
}

// Regression: requests read while the client was backlogged were parsed again only when more
// bytes came, so a pipeline whose replies exceed max_output stalled once the client read them.
TEST(FrontServer, APipelineWhoseRepliesExceedMaxOutputIsAnsweredInFull) {
  mcfront::FrontConfig cfg = test_config();
  cfg.max_output = 4096;
  cfg.max_pending = 2;
  Front f(FakeChain::Mode::Thread, cfg);
  McClient c(f.server.port());
  std::string big(100 * 1024, 'x');
  ASSERT_EQ(c.call("set big 0 0 " + std::to_string(big.size()) + "\r\n" + big + "\r\n"),
            "STORED\r\n");
  std::string gets, want;
  for (int i = 0; i < 300; ++i) {  // 30 MB: more than the socket buffers hold
    gets += "get big\r\n";
    want += "VALUE big 0 102400\r\n" + big + "\r\nEND\r\n";
  }
  ASSERT_TRUE(c.send(gets + "mn\r\n"));
  std::string got = c.read_n(want.size() + 4);
  EXPECT_EQ(got.size(), want.size() + 4);
  EXPECT_TRUE(got == want + "MN\r\n");
}

TEST(FrontServer, APipelineLongerThanMaxPendingIsAnsweredInFull) {
  mcfront::FrontConfig cfg = test_config();
  cfg.max_pending = 2;
  Front f(FakeChain::Mode::Thread, cfg);
  McClient c(f.server.port());
  std::string req, want;
  for (int i = 0; i < 3000; ++i) {
    req += i % 3 ? "mn\r\n" : "get k\r\n";
    want += i % 3 ? "MN\r\n" : "END\r\n";
  }
  ASSERT_TRUE(c.send(req));
  EXPECT_EQ(c.read_n(want.size()), want);
}

TEST(FrontServer, QuitAndLineTooLongClose) {
  Front f(FakeChain::Mode::Inline);
  McClient q(f.server.port());
  EXPECT_EQ(q.call("version\r\nquit\r\nversion\r\n"), "VERSION 1.6.0-strata\r\n");
  EXPECT_TRUE(q.closed_by_peer());
  McClient l(f.server.port());
  EXPECT_EQ(l.call("set " + std::string(5000, 'k') + "\r\n"), "CLIENT_ERROR line too long\r\n");
  EXPECT_TRUE(l.closed_by_peer());
}

TEST(FrontServer, IdleTimeoutClosesAQuietClientOnly) {
  mcfront::FrontConfig cfg = test_config();
  cfg.idle_timeout_ms = 1000;
  Front f(FakeChain::Mode::Held, cfg);
  McClient waiting(f.server.port(), 30000);
  ASSERT_TRUE(waiting.send("get k\r\n"));  // held by the chain: in flight, so never idle
  while (f.chain.submits.load() == 0) std::this_thread::yield();  // bounded by the test timeout
  McClient quiet(f.server.port(), 30000);
  EXPECT_TRUE(quiet.closed_by_peer());  // after 1 s idle (the sweep runs about once a second)
  f.chain.let_go();
  EXPECT_EQ(waiting.read_until("END\r\n"), "END\r\n");
}

TEST(FrontServer, FlushAllIsRefusedUnlessAllowed) {
  Front f(FakeChain::Mode::Inline);
  McClient c(f.server.port());
  EXPECT_EQ(c.call("flush_all\r\n"),
            "SERVER_ERROR flush_all is disabled on this front (allow_flush_all)\r\n");
  EXPECT_EQ(c.call("flush_all noreply\r\nmn\r\n"), "MN\r\n");
}

TEST(FrontServer, MaxConnectionsRefusesTheNextClient) {
  mcfront::FrontConfig cfg = test_config();
  cfg.max_connections = 1;
  cfg.threads = 1;
  Front f(FakeChain::Mode::Inline, cfg);
  McClient a(f.server.port());
  EXPECT_EQ(a.call("mn\r\n"), "MN\r\n");
  McClient b(f.server.port());
  EXPECT_EQ(b.read_until("\r\n"), "ERROR Too many open connections\r\n");
}

TEST(FrontServer, StopIsBoundedWhileTheChainHoldsAnOp) {
  mcfront::FrontConfig cfg = test_config();
  cfg.stop_timeout_ms = 200;
  FakeChain chain(FakeChain::Mode::Held);
  mcfront::FrontMetrics metrics;
  auto server = std::make_unique<mcfront::Server>(cfg, chain, metrics);
  server->start();
  McClient c(server->port());
  ASSERT_TRUE(c.send("get k\r\n"));
  while (chain.submits.load() == 0) std::this_thread::yield();  // bounded by the test timeout
  server->stop();  // returns after ~stop_timeout although the op is still held
  EXPECT_FALSE(server->wait_idle(0));
  chain.let_go();
  EXPECT_TRUE(server->wait_idle(5000));
  server.reset();
  EXPECT_EQ(chain.releases.load(), 1);
}

// Issue 8 leftover: the front listens on IPv6 too ("::1", "[::1]"); anything else is refused
// with a sentence that says what is accepted.
TEST(FrontServer, Issue8ListensOnIPv6Loopback) {
  int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_loopback;
  bool have_v6 = probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0;
  if (probe >= 0) ::close(probe);
  if (!have_v6) GTEST_SKIP() << "no IPv6 loopback on this machine";
  for (const char* addr : {"::1", "[::1]"}) {
    mcfront::FrontConfig cfg = test_config();
    cfg.listen = addr;
    Front f(FakeChain::Mode::Thread, cfg);
    ASSERT_GT(f.server.port(), 0);
    int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_addr = in6addr_loopback;
    to.sin6_port = htons(static_cast<uint16_t>(f.server.port()));
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0) << addr;
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string req = "set k 0 0 1\r\nv\r\nget k\r\n", want = "STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    std::string got;
    char buf[256];
    for (int i = 0; i < 100 && got.size() < want.size(); ++i) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    EXPECT_EQ(got, want) << addr;
  }
}

TEST(FrontServer, Issue8ListenThatIsNoAddressIsRefused) {
  mcfront::FrontConfig cfg = test_config();
  cfg.listen = "not-an-address";
  FakeChain chain(FakeChain::Mode::Inline);
  mcfront::FrontMetrics metrics;
  mcfront::Server server(cfg, chain, metrics);
  try {
    server.start();
    ADD_FAILURE() << "started on " << cfg.listen;
    server.stop();
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "listen: 'not-an-address' is not an IPv4 or IPv6 address");
  }
}
