// Client flags through the whole chain (docs/redis_l2.md "Client flags"): a value set with
// flags through the front, then dropped from memcached, comes back from redis_l2 with its flags
// (and refills memcached with them). `strata run` with memcached and redis-server tiers.
#include <gtest/gtest.h>

#include <string>

#include "front_support.hpp"

using strata::test::McClient;
using strata::test::ServerProcess;
using strata::test::StrataFront;

namespace {

class FlagsThroughRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mc_.start());
    ASSERT_TRUE(redis_.start());
    ASSERT_TRUE(front_.start(mc_, redis_));
  }
  ServerProcess mc_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  StrataFront front_;
};

TEST_F(FlagsThroughRedis, FlagsSurviveAnEvictionFromMemcached) {
  McClient c(front_.port());
  McClient direct(mc_.port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(direct.ok());
  ASSERT_EQ(c.call("set typed 2 0 5\r\nhello\r\n"), "STORED\r\n");
  ASSERT_EQ(c.call("set plain 0 0 5\r\nworld\r\n"), "STORED\r\n");
  ASSERT_EQ(c.call("set maxf 4294967295 0 1\r\nm\r\n"), "STORED\r\n");
  for (const char* k : {"typed", "plain", "maxf"})
    ASSERT_EQ(direct.call(std::string("delete ") + k + "\r\n"), "DELETED\r\n") << k;

  EXPECT_EQ(c.call("get typed\r\n", "END\r\n"), "VALUE typed 2 5\r\nhello\r\nEND\r\n");
  EXPECT_EQ(c.call("get maxf\r\n", "END\r\n"), "VALUE maxf 4294967295 1\r\nm\r\nEND\r\n");
  EXPECT_EQ(c.call("get plain\r\n", "END\r\n"), "VALUE plain 0 5\r\nworld\r\nEND\r\n");
  // The refill of memcached carried the flags too.
  EXPECT_EQ(direct.call("get typed\r\n", "END\r\n"), "VALUE typed 2 5\r\nhello\r\nEND\r\n");
  // Flags 0: Redis holds the bytes alone, as plain clients expect.
  EXPECT_EQ(redis_.redis_cli("GET plain"), "world");
  EXPECT_EQ(redis_.redis_cli("STRLEN typed"), "17");  // 12-byte envelope + 5
}

TEST_F(FlagsThroughRedis, CasTokenFromRedisWorksAndStoresTheNewFlags) {
  McClient c(front_.port());
  McClient direct(mc_.port());
  ASSERT_EQ(c.call("set k 1 0 2\r\nv1\r\n"), "STORED\r\n");
  ASSERT_EQ(direct.call("delete k\r\n"), "DELETED\r\n");
  std::string got = c.call("gets k\r\n", "END\r\n");  // served by redis_l2
  ASSERT_EQ(got.rfind("VALUE k 1 2 ", 0), 0u) << got;
  std::string cas = got.substr(12, got.find("\r\n") - 12);
  ASSERT_EQ(c.call("cas k 3 0 2 " + cas + "\r\nv2\r\n"), "STORED\r\n");
  std::string del = direct.call("delete k\r\n");  // the chain may have dropped it from L1
  ASSERT_TRUE(del == "DELETED\r\n" || del == "NOT_FOUND\r\n") << del;
  EXPECT_EQ(c.call("get k\r\n", "END\r\n"), "VALUE k 3 2\r\nv2\r\nEND\r\n");
}

}  // namespace
