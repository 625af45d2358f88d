// Component tests of the write_back policy (issue 7 item 6): L1 first for freshness, L2 after,
// commits still waiting for L2, and no replay able to roll L1 back. A fake source feeds a
// Runtime whose real memcached_l1 / redis_l2 modules write to real servers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pipeline_support.hpp"

namespace strata::test {
namespace {

using Sections = Harness::Sections;

Sections write_back(Sections s = {}) {
  s.pipeline += "policy = \"wb\"\n";
  s.more += "[policies.wb]\nmodule = \"write_back\"\n";
  return s;
}

// L2 is down: the new value is already readable from L1 (fresh at once), yet nothing is acked
// until L2 has it.
TEST(WriteBack, Issue7L1IsFreshAtOnceWhileTheCommitWaitsForL2) {
  Harness h;
  REQUIRE_HARNESS(h);
  FakeSource src;
  h.redis.stop();
  Sections s = write_back();
  s.l2 = "connect_timeout = \"100ms\"\ncommand_timeout = \"200ms\"\n";
  s.pipeline += "retry_backoff = \"10ms\"\nretry_backoff_max = \"50ms\"\n";
  auto rt = h.build(h.config_text({record_line("t", 0, 0, "k", "fresh")}, s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(rt->start());
  MemcachedClient mc(h.memcached.port());
  EXPECT_TRUE(wait_until([&] { return mc.get("k") == "fresh"; })) << "L1 was not written first";
  EXPECT_TRUE(wait_until([&] { return stats_of(*rt).durable_retries.load() >= 2; }));
  EXPECT_TRUE(src.acks().empty()) << "acked before the durable tier had the write";
  ASSERT_TRUE(h.redis.start());
  EXPECT_TRUE(wait_until([&] { return src.has_event("ack t 0 1"); }));
  rt->stop();
  RedisClient redis(h.redis.port());
  EXPECT_EQ(redis.get("k"), "fresh");
  EXPECT_EQ(mc.get("k"), "fresh");
}

// A second process replays older positions: L1 is never written with the older value (the
// pipeline reads the partition's watermark before its first L1 write of that partition).
TEST(WriteBack, Issue7AReplayNeverRollsL1Back) {
  Harness h;
  REQUIRE_HARNESS(h);
  MemcachedClient mc(h.memcached.port());
  RedisClient redis(h.redis.port());
  {
    FakeSource src;
    auto rt = h.build(h.config_text({record_line("t", 0, 10, "k", "new")}, write_back()));
    ASSERT_TRUE(rt);
    ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 11"));
  }
  ASSERT_EQ(mc.get("k"), "new");
  FakeSource src;
  auto rt = h.build(h.config_text(
      {record_line("t", 0, 3, "k", "old"), record_line("t", 0, 11, "j", "fresh")}, write_back()));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 12"));
  EXPECT_EQ(mc.get("k"), "new");
  EXPECT_EQ(redis.get("k"), "new");
  EXPECT_EQ(mc.get("j"), "fresh");
  EXPECT_EQ(stats_of(*rt).stale_skipped, 1u);
  EXPECT_EQ(stats_of(*rt).l1_written, 1u);  // only j: the replay of k never reached L1
}

// Per-key versions: an older version reaches L1 first (nothing can tell it is older before L2
// answers), L2 refuses it, and the copy is dropped again: L1 ends with no older value.
TEST(WriteBack, Issue7AnOlderVersionRefusedByL2IsDroppedFromL1) {
  Harness h;
  REQUIRE_HARNESS(h);
  Sections s = write_back();
  s.pipeline += "order = \"version\"\n";
  s.script =
      "function key(r) return r.key end\n"
      "function version(r) return tonumber(string.match(r.value, '%d+')) end\n";
  FakeSource src;
  auto rt = h.build(
      h.config_text({record_line("t", 1, 0, "k", "v9"), record_line("t", 0, 0, "k2", "v1")}, s));
  ASSERT_TRUE(rt);
  ASSERT_TRUE(h.run_until_ack(*rt, src, "ack t 0 1"));
  FakeSource src2;
  auto rt2 = h.build(h.config_text({record_line("t", 0, 1, "k", "v5")}, s));
  ASSERT_TRUE(rt2);
  ASSERT_TRUE(h.run_until_ack(*rt2, src2, "ack t 0 2"));
  RedisClient redis(h.redis.port());
  MemcachedClient mc(h.memcached.port());
  EXPECT_EQ(redis.get("k"), "v9");
  EXPECT_NE(mc.get("k"), std::optional<std::string>("v5")) << "L1 kept the refused older value";
}

}  // namespace
}  // namespace strata::test
