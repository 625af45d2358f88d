// Integration tests of redis_l2's tag index (issue 10 item 1, tags), against a real
// redis-server: a TAG op writes the key's membership in the SET's watermark transaction, an
// INVALIDATE_TAG deletes every key of the tag in chunks of `tag_chunk` (each chunk one atomic
// script call that also announces its keys on the bus), hands the keys back to the host, and
// is refused as a replay once a later record of the partition was applied.
#include <gtest/gtest.h>

#include <strata/ops.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "redis_l2_support.hpp"

namespace strata {
namespace {

class RedisL2Tags : public RedisL2Test {
 protected:
  static std::set<std::string> lines(const std::string& out) {
    std::set<std::string> s;
    for (size_t b = 0, e; b < out.size(); b = e + 1) {
      e = out.find('\n', b);
      if (e == std::string::npos) e = out.size();
      if (e > b) s.insert(out.substr(b, e - b));
    }
    return s;
  }
  static long long calls(const ServerProcess& r, const std::string& cmd) {
    std::string info = r.redis_cli("INFO commandstats");
    std::string field = "cmdstat_" + cmd + ":calls=";
    size_t p = info.find(field);
    return p == std::string::npos ? 0 : std::atoll(info.c_str() + p + field.size());
  }
  // The keys an INVALIDATE_TAG handed back.
  static std::set<std::string> returned(const Batch& b, size_t i) {
    std::set<std::string> keys;
    EXPECT_TRUE(tag_keys(b.results[i].value, [&](std::string_view k) { keys.emplace(k); }));
    return keys;
  }
};

const std::string kPart = "p/t/0";

// SET key (guarded at `offset`) followed by one TAG op per tag, as the pipeline sends them.
void tagged_set(Batch& b, const std::string& key, const std::vector<std::string>& tags,
                int64_t offset) {
  b.add(STRATA_TIER_SET, key, "v-" + key);
  b.guard(kPart, offset);
  for (const auto& t : tags) {
    b.add(STRATA_TIER_TAG, key, t);
    b.guard(kPart, offset);
  }
}

void drop_tag(Batch& b, const std::string& tag, int64_t offset) {
  b.add(STRATA_TIER_INVALIDATE_TAG, tag);
  b.guard(kPart, offset);
}

TEST_F(RedisL2Tags, Issue10TaggedKeysGoWithTheirTagAndOthersStay) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "key_prefix = \"pre:\"\nbus_stream = \"inv\"\nbus_node = \"n1\"");
  ASSERT_TRUE(tier);
  Batch w;
  tagged_set(w, "a", {"T"}, 1);
  tagged_set(w, "b", {"T", "U"}, 2);
  tagged_set(w, "c", {"U"}, 3);
  tagged_set(w, "d", {}, 4);
  ASSERT_EQ(tier->run(w), STRATA_OK);
  for (const auto& op : w.ops) EXPECT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(lines(redis.redis_cli("SMEMBERS strata:tag:T")), (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(lines(redis.redis_cli("SMEMBERS strata:tag:U")), (std::set<std::string>{"b", "c"}));
  // One bus entry for the transaction, naming the keys, not the memberships.
  EXPECT_EQ(redis.redis_cli("XLEN inv"), "1");

  Batch inv;
  drop_tag(inv, "T", 5);
  ASSERT_EQ(tier->run(inv), STRATA_OK);
  ASSERT_EQ(inv.ops[0].status, STRATA_OK) << inv.ops[0].error;
  EXPECT_EQ(returned(inv, 0), (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(tier->get("a"), "<missing>");
  EXPECT_EQ(tier->get("b"), "<missing>");
  EXPECT_EQ(tier->get("c"), "v-c");
  EXPECT_EQ(tier->get("d"), "v-d");
  EXPECT_EQ(redis.redis_cli("EXISTS strata:tag:T"), "0");
  // b's membership of U stays (tolerated: invalidating U deletes nothing it should not keep).
  EXPECT_EQ(lines(redis.redis_cli("SMEMBERS strata:tag:U")), (std::set<std::string>{"b", "c"}));
  EXPECT_EQ(redis.redis_cli("XLEN inv"), "2");
  std::set<std::string> last = lines(redis.redis_cli("XREVRANGE inv + - COUNT 1"));
  EXPECT_TRUE(last.count("a") && last.count("b") && !last.count("c"))
      << redis.redis_cli("XREVRANGE inv + - COUNT 1");
  EXPECT_EQ(metric("strata_redis_tag_deletes_total"), 2.0);

  // A tag nobody carries: OK, no keys, no bus entry.
  Batch none;
  drop_tag(none, "nobody", 6);
  ASSERT_EQ(tier->run(none), STRATA_OK);
  EXPECT_EQ(none.ops[0].status, STRATA_OK) << none.ops[0].error;
  EXPECT_TRUE(returned(none, 0).empty());
  EXPECT_EQ(redis.redis_cli("XLEN inv"), "2");
}

TEST_F(RedisL2Tags, Issue10TagInvalidationReplayIsRefusedOnceALaterRecordIsApplied) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis));
  ASSERT_TRUE(tier);
  Batch w;
  tagged_set(w, "a", {"T"}, 10);
  ASSERT_EQ(tier->run(w), STRATA_OK);
  // The record at 10 wrote a and now drops T: the watermark is 11 = its offset + 1, so it runs.
  Batch inv;
  drop_tag(inv, "T", 10);
  ASSERT_EQ(tier->run(inv), STRATA_OK);
  EXPECT_EQ(inv.ops[0].status, STRATA_OK) << inv.ops[0].error;
  EXPECT_EQ(tier->get("a"), "<missing>");

  // Record 11 writes a with T again; a replay of record 10's invalidation must not drop it.
  Batch again;
  tagged_set(again, "a", {"T"}, 11);
  ASSERT_EQ(tier->run(again), STRATA_OK);
  Batch replay;
  drop_tag(replay, "T", 10);
  ASSERT_EQ(tier->run(replay), STRATA_OK);
  EXPECT_EQ(replay.ops[0].status, STRATA_NOT_STORED) << replay.ops[0].error;
  EXPECT_EQ(tier->get("a"), "v-a");
  EXPECT_EQ(lines(redis.redis_cli("SMEMBERS strata:tag:T")), (std::set<std::string>{"a"}));

  // A replayed SET is refused with its TAG ops: the index changes only with the key.
  Batch old;
  tagged_set(old, "z", {"T"}, 3);
  ASSERT_EQ(tier->run(old), STRATA_OK);
  EXPECT_EQ(old.ops[0].status, STRATA_NOT_STORED);
  EXPECT_EQ(old.ops[1].status, STRATA_NOT_STORED);
  EXPECT_EQ(lines(redis.redis_cli("SMEMBERS strata:tag:T")), (std::set<std::string>{"a"}));
}

TEST_F(RedisL2Tags, Issue10HugeTagGoesInBoundedChunks) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "tag_chunk = 500\nbus_stream = \"inv\"\nguarded_batch = 1000");
  ASSERT_TRUE(tier);
  constexpr int kKeys = 10000;
  for (int base = 0; base < kKeys; base += 2000) {
    Batch w;
    for (int i = base; i < base + 2000; ++i) tagged_set(w, "k" + std::to_string(i), {"big"}, i);
    ASSERT_EQ(tier->run(w), STRATA_OK);
    for (const auto& op : w.ops) ASSERT_EQ(op.status, STRATA_OK) << op.error;
  }
  Batch keep;
  tagged_set(keep, "other", {"small"}, kKeys);
  ASSERT_EQ(tier->run(keep), STRATA_OK);
  ASSERT_EQ(redis.redis_cli("SCARD strata:tag:big"), std::to_string(kKeys));
  // Measured (docs/redis_l2.md, "Tags"): the tag's SET per membership, keys of 2 to 5 bytes.
  const long long set_bytes =
      std::atoll(redis.redis_cli("MEMORY USAGE strata:tag:big SAMPLES 0").c_str());
  std::printf("tag index: %lld bytes for %d memberships = %.1f bytes each\n", set_bytes, kKeys,
              double(set_bytes) / kKeys);
  EXPECT_GT(set_bytes, kKeys);  // it measured something
  const long long entries_before = std::atoll(redis.redis_cli("XLEN inv").c_str());
  const long long evals_before = calls(redis, "eval");

  Batch inv;
  drop_tag(inv, "big", kKeys);
  ASSERT_EQ(tier->run(inv), STRATA_OK);
  ASSERT_EQ(inv.ops[0].status, STRATA_OK) << inv.ops[0].error;
  EXPECT_EQ(returned(inv, 0).size(), size_t(kKeys));
  // 20 full chunks and one call that finds the set empty; one bus entry per chunk.
  EXPECT_EQ(calls(redis, "eval") - evals_before, kKeys / 500 + 1);
  EXPECT_EQ(std::atoll(redis.redis_cli("XLEN inv").c_str()) - entries_before, kKeys / 500);
  EXPECT_EQ(redis.redis_cli("EXISTS strata:tag:big"), "0");
  EXPECT_EQ(redis.redis_cli("DBSIZE"), "4");  // other, strata:tag:small, the watermark, inv
  EXPECT_EQ(tier->get("other"), "v-other");
}

TEST_F(RedisL2Tags, Issue10TagOutsideAWatermarkTransactionIsRefused) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis));
  ASSERT_TRUE(tier);
  Batch b;
  b.add(STRATA_TIER_SET, "a", "1");
  b.add(STRATA_TIER_TAG, "a", "T");
  ASSERT_EQ(tier->run(b), STRATA_OK);
  EXPECT_EQ(b.ops[0].status, STRATA_OK);
  EXPECT_EQ(b.ops[1].status, STRATA_ERR_INVALID);
  EXPECT_NE(std::string(b.ops[1].error).find("watermark transaction"), std::string::npos);
  EXPECT_EQ(redis.redis_cli("EXISTS strata:tag:T"), "0");
}

}  // namespace
}  // namespace strata
