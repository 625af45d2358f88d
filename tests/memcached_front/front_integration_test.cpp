// The memcached front end to end (issue 8): `strata run` with tiers l1 (memcached) and l2
// (redis-server) and a [fronts.mc], real servers from tests/support, plain-socket clients.
#include <gtest/gtest.h>

#include <signal.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "front_support.hpp"

using strata::test::McClient;
using strata::test::metric_sample;
using strata::test::ServerProcess;
using strata::test::StrataFront;

namespace {

class FrontIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mc_.start());
    ASSERT_TRUE(redis_.start());
  }
  // Calls of one Redis command so far (INFO commandstats), 0 when it never ran.
  long redis_calls(const std::string& cmd) {
    std::string info = redis_.redis_cli("INFO commandstats");
    std::smatch m;
    if (std::regex_search(info, m, std::regex("cmdstat_" + cmd + ":calls=([0-9]+)")))
      return std::stol(m[1]);
    return 0;
  }
  ServerProcess mc_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  StrataFront front_;
};

// The same bytes to real memcached and to the front, where their meanings agree.
const std::string kMetaPipeline =
    "ms mk1 2 T0\r\nhi\r\n"
    "ms mk2 3 q\r\nabc\r\n"
    "mg mk1 v\r\n"
    "mg mk1 s v q\r\n"
    "mg nokey v q\r\n"
    "mg nokey v k Ox\r\n"
    "mg mk2 k v q Oo2\r\n"
    "ms mk2 1 ME q\r\nz\r\n"
    "ms mk3 1 ME q\r\nz\r\n"
    "md mk3 q\r\n"
    "md mk3 q\r\n"
    "md mk3\r\n"
    "ms cnt 1\r\n5\r\n"
    "ma cnt q\r\n"
    "ma cnt v\r\n"
    "ma cnt MD D10 v\r\n"
    "ma nocnt q\r\n"
    "mn\r\n"
    "mg mk1 v O1 q\r\nmg nokey2 v O2 q\r\nmg mk2 v O3 q k\r\nmn\r\n"
    "mg mk1 zz\r\n"
    "ms mk4 2 F7 T60 c q\r\nhi\r\n"
    "mg mk4 f v\r\n"
    "mn\r\n";

std::string run_pipeline(int port) {
  McClient c(port);
  if (!c.ok()) return "<no connection>";
  if (!c.send(kMetaPipeline)) return "<send failed>";
  return c.read_until("f7\r\nhi\r\nMN\r\n");  // the last reply of the pipeline
}

}  // namespace

TEST_F(FrontIntegration, KeyOnlyInRedisIsServedAndThenFoundInMemcached) {
  ASSERT_EQ(redis_.redis_cli("SET only:redis hello"), "OK");
  ASSERT_TRUE(front_.start(mc_, redis_));
  McClient c(front_.port());
  EXPECT_EQ(c.call("get only:redis\r\n", "END\r\n"), "VALUE only:redis 0 5\r\nhello\r\nEND\r\n");
  McClient direct(mc_.port());
  EXPECT_EQ(direct.call("get only:redis\r\n", "END\r\n"),
            "VALUE only:redis 0 5\r\nhello\r\nEND\r\n");  // the chain refilled L1 with add
  EXPECT_EQ(c.call("get only:redis\r\n", "END\r\n"), "VALUE only:redis 0 5\r\nhello\r\nEND\r\n");
  std::string m = front_.metrics();
  EXPECT_EQ(metric_sample(m, "strata_front_hits_total", "tier=\"tiers.l2\""), 1) << m;
  EXPECT_EQ(metric_sample(m, "strata_front_hits_total", "tier=\"tiers.l1\""), 1) << m;
  EXPECT_EQ(metric_sample(m, "strata_front_commands_total", "command=\"get\""), 2) << m;
}

TEST_F(FrontIntegration, TwoHundredConcurrentMissesOfOneKeySendOneRequestToRedis) {
  ASSERT_EQ(redis_.redis_cli("SET hot v"), "OK");
  ASSERT_TRUE(front_.start(mc_, redis_, "", "command_timeout = \"30s\"\n"));
  long before = redis_calls("get");
  ASSERT_TRUE(strata::test::stop_process(redis_.pid()));  // every read of `hot` must wait together
  std::vector<std::unique_ptr<McClient>> clients;
  for (int i = 0; i < 200; ++i) {
    clients.push_back(std::make_unique<McClient>(front_.port(), 30000));
    ASSERT_TRUE(clients.back()->ok());
    ASSERT_TRUE(clients.back()->send("get hot\r\n"));
  }
  bool all_parsed = false;
  for (int i = 0; i < 2000 && !all_parsed; ++i)  // the admin listener answers meanwhile
    all_parsed = metric_sample(front_.metrics(), "strata_front_commands_total",
                               "command=\"get\"") == 200;
  ::kill(redis_.pid(), SIGCONT);
  ASSERT_TRUE(all_parsed);
  for (auto& c : clients) EXPECT_EQ(c->read_until("END\r\n"), "VALUE hot 0 1\r\nv\r\nEND\r\n");
  EXPECT_EQ(redis_calls("get") - before, 1);
}

TEST_F(FrontIntegration, RedisStoppedL1HitsAreServedAndMissesFailFast) {
  ASSERT_TRUE(front_.start(mc_, redis_));
  McClient c(front_.port(), 10000);
  ASSERT_EQ(c.call("set warm 0 0 1\r\nw\r\n"), "STORED\r\n");
  redis_.stop();
  EXPECT_EQ(c.call("get warm\r\n", "END\r\n"), "VALUE warm 0 1\r\nw\r\nEND\r\n");
  for (int i = 0; i < 3; ++i) {  // bounded by the client's 10 s timeout: an empty read fails
    std::string miss = c.call("get cold\r\n");
    EXPECT_EQ(miss.rfind("SERVER_ERROR ", 0), 0u) << miss;
  }
  EXPECT_EQ(c.call("mg warm v\r\n", "w\r\n"), "VA 1\r\nw\r\n");
}

TEST_F(FrontIntegration, PipelinedMetaWithQuietAndNoopAnswerAsMemcached) {
  ServerProcess reference(ServerProcess::Kind::Memcached);
  ASSERT_TRUE(reference.start());
  ASSERT_TRUE(front_.start(mc_, redis_));
  std::string want = run_pipeline(reference.port());
  std::string got = run_pipeline(front_.port());
  EXPECT_EQ(want.substr(0, 16), "HD\r\nVA 2\r\nhi\r\nVA") << want;
  EXPECT_EQ(got, want);
}

// libmemcached's conformance tool, ascii tests only: memcached passes 27 of 27. The front fails
// the two flush tests (flush_all is refused: the chain has no flush, docs/memcached_front.md).
TEST_F(FrontIntegration, MemccapableAsciiPassesAllButFlush) {
  ASSERT_TRUE(front_.start(mc_, redis_));
  int status = 0;
  std::string out = strata::test::run_command(
      "memccapable -h 127.0.0.1 -p " + std::to_string(front_.port()) + " -a -t 5 2>&1", &status);
  int passed = 0, failed = 0;
  for (size_t p = 0; (p = out.find("[pass]", p)) != std::string::npos; ++p) ++passed;
  for (size_t p = 0; (p = out.find("[FAIL]", p)) != std::string::npos; ++p) ++failed;
  std::printf("memccapable -a against the front: %d passed, %d failed\n%s", passed, failed,
              out.c_str());
  EXPECT_GE(passed, 25) << out;
  EXPECT_EQ(passed + failed, 27) << out;
}

// examples/front_python: Debian's python3-memcache reading through the front.
TEST_F(FrontIntegration, PythonClientReadsThroughTheFront) {
  ASSERT_EQ(redis_.redis_cli("SET user:1:last clicked"), "OK");
  ASSERT_TRUE(front_.start(mc_, redis_));
  int status = -1;
  std::string out = strata::test::run_command(
      "/usr/bin/python3 " STRATA_FRONT_SOURCE_DIR "/examples/front_python/read_through.py "
      "127.0.0.1:" + std::to_string(front_.port()) + " user:1:last user:2:last", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "user:1:last = clicked\nuser:2:last missing\nmulti-get found 2 of 3 keys\n");
}
