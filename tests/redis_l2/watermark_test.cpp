// Integration tests of redis_l2's partition watermark guard (ABI 1.2, issue 7) and of per-op
// statuses inside one script call (issue 9 item 2), against real redis-server processes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "redis_l2_support.hpp"

namespace strata {
namespace {

// Its own suite: the fixture class of this file is not redis_l2_test.cpp's (anonymous namespace).
class RedisL2Watermark : public RedisL2Test {};

// Guarded writes of partition `name`: op i is the record at offsets[i].
void add_guarded(Batch& b, const std::string& name, strata_tier_op_kind kind,
                 const std::string& key, const std::string& value, int64_t offset,
                 int64_t ttl_ms = 0) {
  b.add(kind, key, value, 0, ttl_ms);
  b.guard(name, offset);
}

TEST_F(RedisL2Watermark, Issue7GuardedWritesMoveTheWatermarkAndSkipReplays) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis));
  ASSERT_TRUE(tier);
  const std::string p0 = "latest/orders/0", p1 = "latest/orders/1";
  Batch b;
  add_guarded(b, p0, STRATA_TIER_SET, "a", "a10", 10);
  add_guarded(b, p1, STRATA_TIER_SET, "b", "b3", 3);
  add_guarded(b, p0, STRATA_TIER_SET, "c", "c11", 11);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  for (auto& op : b.ops) EXPECT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(redis.redis_cli("GET strata:wm:latest/orders/0"), "12");
  EXPECT_EQ(redis.redis_cli("GET strata:wm:latest/orders/1"), "4");
  EXPECT_EQ(redis.redis_cli("DBSIZE"), "5");  // three values, two watermarks, no version keys

  // A replay of the same records, and one newer record.
  Batch again;
  add_guarded(again, p0, STRATA_TIER_SET, "a", "a10-replayed", 10);
  add_guarded(again, p0, STRATA_TIER_DELETE, "c", "", 11);
  add_guarded(again, p0, STRATA_TIER_SET, "d", "d12", 12);
  ASSERT_EQ(tier->run(again), STRATA_OK);
  EXPECT_EQ(again.ops[0].status, STRATA_NOT_STORED);
  EXPECT_NE(std::string(again.ops[0].error).find("already applied"), std::string::npos)
      << again.ops[0].error;
  EXPECT_EQ(again.ops[1].status, STRATA_NOT_STORED);
  EXPECT_EQ(again.ops[2].status, STRATA_OK) << again.ops[2].error;
  EXPECT_EQ(tier->get("a"), "a10");
  EXPECT_EQ(tier->get("c"), "c11");
  EXPECT_EQ(tier->get("d"), "d12");
  EXPECT_EQ(redis.redis_cli("GET strata:wm:latest/orders/0"), "13");
  EXPECT_EQ(metric("strata_redis_watermark_skips_total"), 2.0);
}

// A zombie (a member that lost the partition but still writes an older batch of it after the
// new owner moved on) is refused op by op, and nothing it sends changes a value.
TEST_F(RedisL2Watermark, Issue7ZombieWriterOfAnOlderBatchIsRefused) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto owner = open(addr(redis));
  auto zombie = open(addr(redis));
  ASSERT_TRUE(owner && zombie);
  const std::string p = "latest/orders/5";
  Batch newer;
  for (int i = 0; i < 10; ++i)
    add_guarded(newer, p, STRATA_TIER_SET, "k" + std::to_string(i), "new", 100 + i);
  ASSERT_EQ(owner->run(newer), STRATA_OK);
  Batch older;
  for (int i = 0; i < 10; ++i)
    add_guarded(older, p, STRATA_TIER_SET, "k" + std::to_string(i), "old", 50 + i);
  add_guarded(older, p, STRATA_TIER_DELETE, "k0", "", 60);
  ASSERT_EQ(zombie->run(older), STRATA_OK);
  for (auto& op : older.ops) EXPECT_EQ(op.status, STRATA_NOT_STORED) << op.error;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(owner->get("k" + std::to_string(i)), "new");
  EXPECT_EQ(redis.redis_cli("GET strata:wm:latest/orders/5"), "110");
}

TEST_F(RedisL2Watermark, Issue7WatermarkGetAnswersTheStoredNextOffset) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "key_prefix = \"app:\"\n");
  ASSERT_TRUE(tier);
  std::string out;
  EXPECT_EQ(tier->one(STRATA_TIER_WATERMARK_GET, "p/t/0", "", 0, 0, &out), STRATA_NOT_FOUND);
  Batch b;
  const std::string p = "p/t/0";
  add_guarded(b, p, STRATA_TIER_SET, "x", "1", 41);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  Batch get;
  get.add(STRATA_TIER_WATERMARK_GET, "p/t/0");
  ASSERT_EQ(tier->run(get), STRATA_OK);
  EXPECT_EQ(get.ops[0].status, STRATA_OK) << get.ops[0].error;
  EXPECT_EQ(get.results[0].value, "42");
  EXPECT_EQ(redis.redis_cli("GET app:strata:wm:p/t/0"), "42");  // under the key prefix
}

// One op whose TTL Redis refuses fails alone; the ops before and after it in the same script
// call are applied (guarded and versioned scripts alike). Regression: issue 9 item 2.
TEST_F(RedisL2Watermark, Issue9ABadTtlFailsOnlyItsOwnOpInAScriptCall) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis));
  ASSERT_TRUE(tier);
  const int64_t refused_ttl = INT64_MAX - 1;  // + now overflows: "invalid expire time"
  const std::string p = "p/t/0";
  Batch g;
  add_guarded(g, p, STRATA_TIER_SET, "g1", "v", 1, 60000);
  add_guarded(g, p, STRATA_TIER_SET, "g2", "v", 2, refused_ttl);
  add_guarded(g, p, STRATA_TIER_SET, "g3", "v", 3, 60000);
  ASSERT_EQ(tier->run(g), STRATA_OK);
  EXPECT_EQ(g.ops[0].status, STRATA_OK) << g.ops[0].error;
  EXPECT_NE(g.ops[1].status, STRATA_OK) << g.ops[1].error;
  EXPECT_NE(std::string(g.ops[1].error).find("expire"), std::string::npos) << g.ops[1].error;
  EXPECT_EQ(g.ops[2].status, STRATA_OK) << g.ops[2].error;
  EXPECT_EQ(tier->get("g3"), "v");

  Batch v;
  v.add(STRATA_TIER_SET, "v1", "v", 5, 60000);
  v.add(STRATA_TIER_SET, "v2", "v", 5, refused_ttl);
  v.add(STRATA_TIER_SET, "v3", "v", 5, 60000);
  ASSERT_EQ(tier->run(v), STRATA_OK);
  EXPECT_EQ(v.ops[0].status, STRATA_OK) << v.ops[0].error;
  EXPECT_NE(v.ops[1].status, STRATA_OK);
  EXPECT_EQ(v.ops[2].status, STRATA_OK) << v.ops[2].error;
  EXPECT_EQ(tier->get("v3"), "v");
}

}  // namespace
}  // namespace strata
