// `strata run` with a front: a read-only node (tiers and a front, no source, no pipeline) serves
// reads through its chain, /healthz and /metrics keep working, SIGHUP recreates the front, and
// SIGTERM stops it first and exits 0. The test front answers "get KEY" on its loopback port.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "cli_support.hpp"
#include "files.hpp"
#include "servers.hpp"

namespace strata::front_test {
namespace {

// One line-protocol request; the reply line ("" when there was none in time).
std::string ask(int port, const std::string& line) {
  int fd = test::connect_loopback(port, 10000);
  if (fd < 0) return "";
  std::string req = line + "\r\n", reply;
  if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
    char buf[256];
    ssize_t n;
    while (reply.find("\r\n") == std::string::npos && (n = ::read(fd, buf, sizeof buf)) > 0)
      reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

class FrontRun : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(redis_.start());
    dir_ = test::make_temp_dir("strata-front-run");
    front_port_ = test::free_port();
    admin_port_ = test::free_port();
  }
  void TearDown() override {
    if (strata_.running()) strata_.stop(SIGKILL, 10000);
    test::remove_tree(dir_);
  }
  std::string config(const std::string& label) const {
    return "[admin]\nport = " + std::to_string(admin_port_) +
           "\n\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" + memcached_.address() +
           "\"]\n\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" + redis_.address() +
           "\"\n\n[fronts.t]\nmodule = \"test_front\"\ntiers = [\"l1\", \"l2\"]\nport = " +
           std::to_string(front_port_) + "\nlabel = \"" + label + "\"\n";
  }
  bool log_has(const std::string& text, int timeout_ms) {
    return cli_test::wait_until(
        [&] { return test::read_file(err_).find(text) != std::string::npos; }, timeout_ms);
  }

  test::ServerProcess memcached_{test::ServerProcess::Kind::Memcached};
  test::ServerProcess redis_{test::ServerProcess::Kind::Redis};
  cli_test::Background strata_;
  std::string dir_, err_;
  int front_port_ = 0, admin_port_ = 0;
};

TEST_F(FrontRun, ReadOnlyNodeServesReloadsAndStopsCleanly) {
  const std::string path = dir_ + "/node.toml";
  test::write_file(path, config("first"));
  err_ = dir_ + "/err.log";
  ASSERT_TRUE(strata_.start({cli_test::strata_bin(), "run", "-c", path, "--modules-dir",
                             STRATA_TEST_FRONT_DIR},
                            dir_ + "/out.log", err_));
  ASSERT_TRUE(log_has("strata running", 20000)) << test::read_file(err_);
  ASSERT_TRUE(test::wait_for_port(front_port_, 10000));

  ASSERT_EQ(redis_.redis_cli("SET user:7 seven"), "OK");
  EXPECT_EQ(ask(front_port_, "get user:7"), "VALUE seven\r\n");
  EXPECT_EQ(cli_test::memcached_command(memcached_.port(), "get user:7").find("VALUE user:7"), 0u);
  EXPECT_EQ(ask(front_port_, "get nobody"), "MISS\r\n");

  auto health = cli_test::http_get(admin_port_, "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_NE(health.body.find("front fronts.t running"), std::string::npos) << health.body;
  auto metrics = cli_test::http_get(admin_port_, "/metrics");
  EXPECT_NE(metrics.body.find("strata_front_chain_ops_total{front=\"fronts.t\"} 2"),
            std::string::npos)
      << metrics.body;

  // SIGHUP with a changed front: it is recreated and serves again on its port.
  test::write_file(path, config("second"));
  strata_.signal(SIGHUP);
  ASSERT_TRUE(log_has("configuration reloaded", 20000)) << test::read_file(err_);
  ASSERT_TRUE(test::wait_for_port(front_port_, 10000));
  ASSERT_EQ(redis_.redis_cli("SET user:8 eight"), "OK");
  EXPECT_EQ(ask(front_port_, "get user:8"), "VALUE eight\r\n");

  EXPECT_EQ(strata_.stop(SIGTERM, 30000), 0) << test::read_file(err_);
  std::string log = test::read_file(err_);
  EXPECT_NE(log.find("front started"), std::string::npos) << log;
}

TEST_F(FrontRun, RedisDownAtStartStillServesL1AndAnswersMisses) {
  const std::string path = dir_ + "/node.toml";
  test::write_file(path, config("x"));
  err_ = dir_ + "/err.log";
  ASSERT_EQ(cli_test::memcached_command(memcached_.port(), "set warm 0 0 1\r\nw"), "STORED\r\n");
  redis_.stop();
  ASSERT_TRUE(strata_.start({cli_test::strata_bin(), "run", "-c", path, "--modules-dir",
                             STRATA_TEST_FRONT_DIR},
                            dir_ + "/out.log", err_));
  ASSERT_TRUE(test::wait_for_port(front_port_, 20000)) << test::read_file(err_);
  EXPECT_EQ(ask(front_port_, "get warm"), "VALUE w\r\n");
  std::string miss = ask(front_port_, "get cold");
  EXPECT_EQ(miss.rfind("ERROR tiers.l2", 0), 0u) << miss;
  EXPECT_EQ(strata_.stop(SIGTERM, 30000), 0) << test::read_file(err_);
}

}  // namespace
}  // namespace strata::front_test
