// The real-server harness itself: a server we start is ours only if it holds its port.
#include <gtest/gtest.h>

#include "servers.hpp"

#include <unistd.h>

#include <fstream>
#include <set>

namespace strata::test {
namespace {

// CI, 2026-12-04: a parallel test's memcached held the port picked for a redis-server; it
// answered the PING probe ("ERROR") while redis-server was still failing to bind, and the test
// then talked Redis to memcached. Here the port is taken on purpose.
TEST(ServerProcess, AServerThatCannotBindIsNotMistakenForTheOneHoldingItsPort) {
  ServerProcess memcached(ServerProcess::Kind::Memcached);
  ASSERT_TRUE(memcached.start());
  EXPECT_TRUE(listens_on(memcached.pid(), memcached.port()));
  ServerProcess redis(ServerProcess::Kind::Redis, memcached.port());  // a fixed port: no retry
  EXPECT_FALSE(redis.start()) << "redis-server 'started' on a port memcached holds";
  EXPECT_TRUE(listens_on(memcached.pid(), memcached.port()));
}

TEST(ServerProcess, ListensOnIsFalseForAProcessWithoutTheSocket) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  EXPECT_TRUE(listens_on(redis.pid(), redis.port()));
  EXPECT_FALSE(listens_on(::getpid(), redis.port()));
  EXPECT_FALSE(listens_on(redis.pid(), redis.port() == 65535 ? 1 : redis.port() + 1));
}

TEST(FreePort, PortsAreDistinctBindableAndOutsideTheEphemeralRange) {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0, hi = 0;
  in >> lo >> hi;
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    int port = free_port();
    ASSERT_GT(port, 0);
    EXPECT_TRUE(seen.insert(port).second) << "handed out twice: " << port;
    if (lo > 13024) {
      EXPECT_LT(port, lo) << "in the ephemeral range " << lo << "-" << hi;
    }
  }
  // Each one can be listened on (a server started on it binds it).
  ServerProcess memcached(ServerProcess::Kind::Memcached, free_port());
  ASSERT_TRUE(memcached.start());
  EXPECT_TRUE(listens_on(memcached.pid(), memcached.port()));
}

}  // namespace
}  // namespace strata::test
