// Unit tests of lru_tier with the strata test kit: the module is loaded by the host's real
// loader, configured from TOML by the host's validator, and driven through the host's tier
// wrapper. STRATA_TEST_MODULE (set by strata_add_module_test) is the path of lru_tier.so.
#include <gtest/gtest.h>
#include <strata/testing.hpp>

#include <chrono>
#include <string>
#include <thread>

using strata::testing::Module;
using strata::testing::Op;

TEST(LruTier, SetThenGetReturnsTheValueAndItsFlags) {
  Module mod(STRATA_TEST_MODULE);
  auto tier = mod.tier("capacity = 10");
  ASSERT_EQ(tier.set("k", "v", STRATA_TTL_DEFAULT, 42).status, STRATA_OK);
  auto r = tier.get("k");
  ASSERT_EQ(r.status, STRATA_OK) << r;
  EXPECT_EQ(r.value, "v");
  EXPECT_EQ(r.flags, 42u);
  EXPECT_EQ(r.ttl_ms, STRATA_TTL_NEVER);
}

// strata's negative-cache entries are empty values marked by their flags: the tier must hand
// them back as they came.
TEST(LruTier, NegativeEntryKeepsItsMark) {
  Module mod(STRATA_TEST_MODULE);
  auto tier = mod.tier();
  ASSERT_EQ(tier.add("gone", "", 5000, STRATA_ITEM_NEGATIVE).status, STRATA_OK);
  auto r = tier.get("gone");
  ASSERT_EQ(r.status, STRATA_OK) << r;
  EXPECT_EQ(r.flags, STRATA_ITEM_NEGATIVE);
  EXPECT_GT(r.ttl_ms, 0);
  EXPECT_LE(r.ttl_ms, 5000);
}

TEST(LruTier, MissAddAndDelete) {
  Module mod(STRATA_TEST_MODULE);
  auto tier = mod.tier();
  EXPECT_EQ(tier.get("k").status, STRATA_NOT_FOUND);
  EXPECT_EQ(tier.del("k").status, STRATA_NOT_FOUND);
  EXPECT_EQ(tier.add("k", "1").status, STRATA_OK);
  EXPECT_EQ(tier.add("k", "2").status, STRATA_NOT_STORED);
  EXPECT_EQ(tier.get("k").value, "1");
  EXPECT_EQ(tier.del("k").status, STRATA_OK);
  EXPECT_EQ(tier.get("k").status, STRATA_NOT_FOUND);
}

TEST(LruTier, EvictsTheLeastRecentlyUsed) {
  Module mod(STRATA_TEST_MODULE);
  auto tier = mod.tier({{"capacity", "2"}});
  tier.set("a", "1");
  tier.set("b", "2");
  ASSERT_EQ(tier.get("a").status, STRATA_OK);  // "b" is now the least recently used
  tier.set("c", "3");
  EXPECT_EQ(tier.get("b").status, STRATA_NOT_FOUND);
  EXPECT_EQ(tier.get("a").value, "1");
  EXPECT_EQ(tier.get("c").value, "3");
}

TEST(LruTier, AnExpiredItemIsAMiss) {
  Module mod(STRATA_TEST_MODULE);
  auto tier = mod.tier();
  ASSERT_EQ(tier.set("k", "v", 1).status, STRATA_OK);  // expires 1 ms after the write
  // Wait for the condition (bounded), never sleep-and-assert.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (tier.get("k").status == STRATA_OK && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(tier.get("k").status, STRATA_NOT_FOUND);
}

TEST(LruTier, OneBatchAnswersEveryOpInOrder) {
  Module mod(STRATA_TEST_MODULE);
  auto tier = mod.tier();
  auto rs = tier.run({Op::set("k", "v1"), Op::get("k"), Op::del("k"), Op::get("k")});
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].status, STRATA_OK);
  EXPECT_EQ(rs[1].value, "v1");
  EXPECT_EQ(rs[2].status, STRATA_OK);
  EXPECT_EQ(rs[3].status, STRATA_NOT_FOUND);
  // Not a STRATA_TIER_RICH tier: the host refuses such a batch before it reaches the module.
  EXPECT_EQ(tier.run({Op::of(STRATA_TIER_INCR, "n")})[0].status, STRATA_ERR_INVALID);
}

TEST(LruTier, OptionsAreValidatedByTheHost) {
  Module mod(STRATA_TEST_MODULE);
  EXPECT_EQ(mod.create_error("capacity = 0"),
            "test.toml:1:12: tiers.test.capacity: 0 is below the minimum 1\n");
  EXPECT_EQ(mod.create_error("capacity = 5\nbogus = 1"),
            "test.toml:2:1: tiers.test.bogus: unknown option; allowed: capacity, default_ttl, "
            "module\n");
  EXPECT_EQ(mod.create_error("capacity = 5\ndefault_ttl = \"5m\""), "");
}
