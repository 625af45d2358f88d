// STRATA_TIER_SCAN on redis_l2 (modules/redis_l2/scan_op.hpp, docs/redis_l2.md "SCAN"): the
// pages of a full iteration hand back every cache entry once or more, with its value and client
// flags as GET answers them (the envelope stripped) and its remaining TTL, and leave out the
// tier's own keys (watermarks, version keys, a stream). Against a real redis-server.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <strata/scan_page.hpp>

#include <map>
#include <string>

#include "redis_l2_support.hpp"

namespace strata {
namespace {

struct Item {
  std::string value;
  uint32_t flags = 0;
  int64_t ttl_ms = 0;
};

class RedisL2Scan : public RedisL2Test {
 protected:
  void SetUp() override {
    RedisL2Test::SetUp();
    ASSERT_TRUE(redis_.start());
  }
  std::unique_ptr<TierHandle> tier(const std::string& extra = "") {
    return open(addr(redis_) + extra);
  }
  // One step; the page's bytes in *bytes.
  strata_status step(TierHandle& t, const std::string& prefix, const std::string& cursor,
                     uint64_t count, std::string* bytes) {
    Batch b;
    b.add(STRATA_TIER_SCAN, prefix, cursor, count);
    t.run(b);
    *bytes = b.results[0].has_value ? b.results[0].value : b.ops[0].error;
    return b.ops[0].status;
  }
  // A full iteration; `skipped` and `total` from the pages.
  std::map<std::string, Item> scan_all(TierHandle& t, const std::string& prefix,
                                       uint64_t* skipped = nullptr, uint64_t* total = nullptr,
                                       int* pages = nullptr) {
    std::map<std::string, Item> out;
    std::string cursor;
    for (int n = 0; n < 10000; ++n) {  // bounded: a 200-key scan takes a few dozen steps
      std::string bytes;
      EXPECT_EQ(step(t, prefix, cursor, 10, &bytes), STRATA_OK) << bytes;
      ScanPage page;
      EXPECT_TRUE(parse_scan_page(bytes, &page));
      for (const ScanEntry& e : page.entries)
        out[std::string(e.key)] = Item{std::string(e.value), e.flags, e.ttl_ms};
      if (skipped) *skipped += page.skipped;
      if (total) *total = page.keys_total;
      if (pages) ++*pages;
      cursor.assign(page.cursor);
      if (cursor.empty() || ::testing::Test::HasFailure()) break;
    }
    return out;
  }
  ServerProcess redis_{ServerProcess::Kind::Redis};
};

TEST_F(RedisL2Scan, PagesHandBackValuesFlagsAndTtlsAndLeaveOutBookkeepingKeys) {
  auto t = tier();
  ASSERT_TRUE(t);
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(t->one(STRATA_TIER_SET, "k" + std::to_string(i), "v" + std::to_string(i)), STRATA_OK);
  Batch flagged;
  flagged.add(STRATA_TIER_SET, "flagged", std::string("b\0in", 4), 0, 600000);
  flagged.ops[0].flags = 0x01020304;
  t->run(flagged);
  ASSERT_EQ(flagged.ops[0].status, STRATA_OK);
  ASSERT_EQ(t->one(STRATA_TIER_SET, "versioned", "vv", 7), STRATA_OK);  // + its version key
  redis_.redis_cli("SET strata:wm:p/events/0 42");
  redis_.redis_cli("XADD some-stream '*' k v");

  uint64_t skipped = 0, total = 0;
  int pages = 0;
  auto items = scan_all(*t, "", &skipped, &total, &pages);
  EXPECT_EQ(items.size(), 202u);
  EXPECT_EQ(items["k17"].value, "v17");
  EXPECT_EQ(items["k17"].flags, 0u);
  EXPECT_EQ(items["k17"].ttl_ms, -1);
  EXPECT_EQ(items["flagged"].value, std::string("b\0in", 4));  // envelope stripped
  EXPECT_EQ(items["flagged"].flags, 0x01020304u);
  EXPECT_GT(items["flagged"].ttl_ms, 500000);
  EXPECT_LE(items["flagged"].ttl_ms, 600000);
  EXPECT_EQ(items["versioned"].value, "vv");
  EXPECT_EQ(items.count("strata:wm:p/events/0"), 0u);
  EXPECT_EQ(items.count("some-stream"), 0u);
  EXPECT_EQ(items.count("{versioned}:strata-ver"), 0u);
  EXPECT_GE(skipped, 3u);  // watermark, version key, stream (a key may come twice)
  EXPECT_EQ(total, 205u);  // DBSIZE: everything, bookkeeping included
  EXPECT_GT(pages, 2);     // COUNT 10: many steps
}

TEST_F(RedisL2Scan, PrefixIsLiteralAndKeyPrefixStaysHidden) {
  auto t = tier("key_prefix = \"app:\"\n");
  ASSERT_TRUE(t);
  for (const char* k : {"a*b:1", "a*b:2", "axb:1", "a*c", "other"})
    ASSERT_EQ(t->one(STRATA_TIER_SET, k, "x"), STRATA_OK);
  redis_.redis_cli("SET a*b:3 not-under-key-prefix");
  auto items = scan_all(*t, "a*b:");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items.count("a*b:1"), 1u);  // without "app:"
  EXPECT_EQ(items.count("a*b:2"), 1u);
  EXPECT_EQ(scan_all(*t, "").size(), 5u);
}

TEST_F(RedisL2Scan, ABadCursorOrAMixedBatchIsRefused) {
  auto t = tier();
  ASSERT_TRUE(t);
  std::string msg;
  EXPECT_EQ(step(*t, "", "not-a-cursor", 0, &msg), STRATA_ERR_INVALID);
  EXPECT_NE(msg.find("cursor"), std::string::npos) << msg;
  Batch b;
  b.add(STRATA_TIER_SCAN, "", "");
  b.add(STRATA_TIER_GET, "k");
  t->run(b);
  EXPECT_EQ(b.ops[0].status, STRATA_OK);
  EXPECT_EQ(b.ops[1].status, STRATA_ERR_INVALID);
  EXPECT_NE(std::string(b.ops[1].error).find("alone"), std::string::npos) << b.ops[1].error;
}

TEST_F(RedisL2Scan, ADownServerIsUnavailable) {
  auto t = tier();
  ASSERT_TRUE(t);
  redis_.stop();
  std::string msg;
  EXPECT_EQ(step(*t, "", "", 0, &msg), STRATA_ERR_UNAVAILABLE) << msg;
}

}  // namespace
}  // namespace strata
