// `strata run` under systemd's notify protocol without systemd: the test binds the datagram
// socket $NOTIFY_SOCKET names and reads what strata sends (READY=1 once serving, RELOADING=1
// with MONOTONIC_USEC on SIGHUP, READY=1 again after a good or a rejected reload with STATUS=
// the reason, STOPPING=1 on SIGTERM, WATCHDOG=1 while $WATCHDOG_USEC is set). Real memcached
// and redis-server; the node is front-only (no Kafka).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "servers.hpp"

namespace strata::cli_test {
namespace {

using strata::test::ServerProcess;

// The receiving end of $NOTIFY_SOCKET: every datagram strata sent, in order.
class NotifySocket {
 public:
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  bool bind(const std::string& path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) return false;
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    path_ = path;
    return true;
  }
  // Waits up to timeout_ms for a message containing `needle` (messages before it are kept in
  // seen()); returns it, or "" on timeout.
  std::string wait_for(const std::string& needle, int timeout_ms) {
    for (size_t i = checked_; i < seen_.size(); ++i)
      if (seen_[i].find(needle) != std::string::npos) return take(i);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      seen_.emplace_back(buf, static_cast<size_t>(n));
      if (seen_.back().find(needle) != std::string::npos) return take(seen_.size() - 1);
    }
    return "";
  }
  std::string all() const {
    std::string s;
    for (const auto& m : seen_) s += "[" + m + "]\n";
    return s;
  }

 private:
  std::string take(size_t i) {
    checked_ = i + 1;  // the next wait looks only at later messages
    return seen_[i];
  }
  int fd_ = -1;
  std::string path_;
  std::vector<std::string> seen_;
  size_t checked_ = 0;
};

class CliNotify : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("STRATA_MODULES_PATH", modules_dir().c_str(), 1); }
  void SetUp() override {
    dir_ = make_temp_dir();
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(redis_.start());
    ASSERT_TRUE(notify_.bind(dir_ + "/notify.sock"));
    path_ = dir_ + "/strata.toml";
  }
  void TearDown() override {
    strata_.stop(SIGKILL, 10000);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    std::string err = read_file(dir_ + "/strata.err");
    EXPECT_EQ(err.find("Sanitizer"), std::string::npos);
    EXPECT_EQ(err.find("runtime error:"), std::string::npos);
    if (::testing::Test::HasFailure())
      std::fprintf(stderr, "--- strata stderr ---\n%s\n--- notifications ---\n%s", err.c_str(),
                   notify_.all().c_str());
    remove_tree(dir_);
  }
  std::string config(const std::string& l1_extra = "") const {
    return "[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" + memcached_.address() + "\"]\n" +
           l1_extra + "\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" + redis_.address() +
           "\"\n\n[fronts.mc]\nmodule = \"memcached_front\"\nport = " +
           std::to_string(front_port_) + "\ntiers = [\"l1\", \"l2\"]\n";
  }
  bool start_strata() {
    ::setenv("NOTIFY_SOCKET", (dir_ + "/notify.sock").c_str(), 1);
    return strata_.start({strata_bin(), "run", "-c", path_}, dir_ + "/strata.out",
                         dir_ + "/strata.err");
  }

  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  NotifySocket notify_;
  Background strata_;
  std::string dir_, path_;
  int front_port_ = strata::test::free_port();
};

TEST_F(CliNotify, ReadyReloadingRejectedReloadAndStopping) {
  write_file(path_, config());
  ASSERT_TRUE(start_strata());
  std::string ready = notify_.wait_for("READY=1", 30000);
  ASSERT_FALSE(ready.empty()) << "no READY=1";
  EXPECT_NE(ready.find("STATUS=running 0 pipeline(s), 1 front(s) from " + path_), std::string::npos)
      << ready;
  // READY=1 comes once the front serves: a memcached client gets an answer right away.
  EXPECT_EQ(memcached_command(front_port_, "get nothing"), "END\r\n");

  // A rejected reload: RELOADING=1 with the monotonic clock, then READY=1 with the reason.
  std::string bad = config("sevrers = [\"x:1\"]\n");
  write_file(path_, bad);
  timespec before{};
  clock_gettime(CLOCK_MONOTONIC, &before);
  strata_.signal(SIGHUP);
  std::string reloading = notify_.wait_for("RELOADING=1", 20000);
  ASSERT_FALSE(reloading.empty()) << "no RELOADING=1";
  size_t at = reloading.find("MONOTONIC_USEC=");
  ASSERT_NE(at, std::string::npos) << reloading;
  long long usec = std::stoll(reloading.substr(at + 15));
  EXPECT_GE(usec, static_cast<long long>(before.tv_sec) * 1000000) << reloading;
  std::string rejected = notify_.wait_for("READY=1", 20000);
  ASSERT_FALSE(rejected.empty()) << "no READY=1 after a rejected reload";
  EXPECT_NE(rejected.find("STATUS=reload rejected, the running configuration stays: " + path_ +
                          ":" + line_col(bad, "sevrers") + ": tiers.l1.sevrers: unknown option"),
            std::string::npos)
      << rejected;
  EXPECT_EQ(rejected.find('\n', rejected.find("STATUS=")), std::string::npos)
      << "STATUS= must be one line: " << rejected;

  // A good reload: RELOADING=1, then READY=1 with the running status.
  write_file(path_, config());
  strata_.signal(SIGHUP);
  ASSERT_FALSE(notify_.wait_for("RELOADING=1", 20000).empty());
  std::string again = notify_.wait_for("READY=1", 30000);
  EXPECT_NE(again.find("STATUS=running 0 pipeline(s), 1 front(s)"), std::string::npos) << again;

  strata_.signal(SIGTERM);
  std::string stopping = notify_.wait_for("STOPPING=1", 20000);
  EXPECT_NE(stopping.find("STATUS=stopping"), std::string::npos) << stopping;
  EXPECT_EQ(strata_.wait(30000), 0);
  EXPECT_EQ(notify_.all().find("WATCHDOG=1"), std::string::npos) << "watchdog pings unasked";
}

TEST_F(CliNotify, WatchdogKeepAlivesWhenWatchdogUsecIsSet) {
  write_file(path_, config());
  ::setenv("WATCHDOG_USEC", "1000000", 1);  // 1 s: a keep-alive every 0.5 s
  ASSERT_TRUE(start_strata());
  ASSERT_FALSE(notify_.wait_for("READY=1", 30000).empty());
  // Several in a row (loaded machine: a generous bound, and no rate asserted).
  for (int i = 0; i < 3; ++i)
    ASSERT_FALSE(notify_.wait_for("WATCHDOG=1", 20000).empty()) << "keep-alive " << i;
  EXPECT_EQ(strata_.stop(SIGTERM, 30000), 0);
}

// Outside systemd nothing changes: no NOTIFY_SOCKET, no error, a clean run and stop.
TEST_F(CliNotify, WithoutNotifySocketRunsAsBefore) {
  write_file(path_, config());
  ASSERT_TRUE(strata_.start({strata_bin(), "run", "-c", path_}, dir_ + "/strata.out",
                            dir_ + "/strata.err"));
  ASSERT_TRUE(
      wait_until([&] { return memcached_command(front_port_, "get x") == "END\r\n"; }, 30000));
  EXPECT_EQ(strata_.stop(SIGTERM, 30000), 0);
  EXPECT_EQ(read_file(dir_ + "/strata.err").find("sd_notify"), std::string::npos);
}

}  // namespace
}  // namespace strata::cli_test
