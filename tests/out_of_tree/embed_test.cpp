// Issue 11 item 7: the embedding API from an install. build_embed.sh installs the sdk and
// modules components into a scratch prefix and builds examples/embed out of tree against
// strata::embed; this test then runs that binary against real memcached and redis-server: a
// write goes to Redis then memcached, and the reads come back from L1. The binary lives
// outside the build tree and STRATA_MODULES_PATH is unset, so it can only find the modules
// the library's own prefix holds.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "files.hpp"
#include "servers.hpp"

namespace {

using strata::test::ServerProcess;

TEST(OutOfTreeEmbed, ExampleBuiltAgainstTheInstallReadsAndWritesThroughTheChain) {
  ::unsetenv("STRATA_MODULES_PATH");
  const std::string work = strata::test::make_temp_dir("strata-oot-embed");
  const std::string prefix = work + "/prefix", out = work + "/embed";
  int status = -1;
  std::string log =
      strata::test::run_command(std::string(STRATA_OOT_BUILD_EMBED) + " " + STRATA_OOT_BUILD_DIR +
                                    " " + STRATA_OOT_EXAMPLES + " " + STRATA_OOT_CMAKE + " '" +
                                    STRATA_OOT_GENERATOR + "' " + prefix + " " + out + " 2>&1",
                                &status);
  ASSERT_EQ(status, 0) << log;

  ServerProcess memcached(ServerProcess::Kind::Memcached), redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(memcached.start());
  ASSERT_TRUE(redis.start());
  const std::string config = work + "/app.toml";
  strata::test::write_file(
      config, "[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" + memcached.address() +
                  "\"]\n\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" + redis.address() +
                  "\"\n\n[sources.events]\nmodule = \"kafka_source\"\ntopics = [\"users\"]\n"
                  "\n[pipelines.users]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\n");
  const std::string bin = out + "/strata_embed_example";

  std::string wrote =
      strata::test::run_command(bin + " " + config + " user:1 alice 2>" + work + "/err", &status);
  EXPECT_EQ(status, 0) << wrote << strata::test::read_file(work + "/err");
  EXPECT_EQ(wrote, "user:1 = alice (from tiers.l1)\nuser:1 = alice (from tiers.l1)\n");
  EXPECT_EQ(redis.redis_cli("GET user:1"), "alice") << "the write did not reach Redis";

  // Only in Redis: the first read misses L1, is answered by L2 and refills L1.
  redis.redis_cli("SET user:2 bob");
  std::string read =
      strata::test::run_command(bin + " " + config + " user:2 2>" + work + "/err", &status);
  EXPECT_EQ(status, 0) << read << strata::test::read_file(work + "/err");
  EXPECT_EQ(read, "user:2 = bob (from tiers.l2)\nuser:2 = bob (from tiers.l1)\n");

  // A config error comes back from Cache::open with its position.
  strata::test::write_file(config, "[tiers.l1]\nmodule = \"memcached_l1\"\nsevrers = []\n");
  std::string bad = strata::test::run_command(bin + " " + config + " k 2>&1", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(bad.find(config + ":3:1: tiers.l1.sevrers: unknown option"), std::string::npos) << bad;
  strata::test::remove_tree(work);
}

}  // namespace
