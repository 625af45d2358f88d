// Unit tests of prefix_router with the strata test kit (<strata/testing.hpp>): loaded by the
// host's real loader, configured from TOML by the host's validator, no host written by hand.
#include <gtest/gtest.h>
#include <strata/testing.hpp>

using strata::testing::Module;

namespace {
constexpr const char* kConfig = R"(
l2_only_prefixes = ["report:"]
l1_ttl_by_prefix = { "session:" = "30s", "session:admin:" = "5s" }
)";
}  // namespace

TEST(PrefixRouter, WritesThroughWithTheHooksTtl) {
  Module mod(STRATA_TEST_MODULE);
  auto policy = mod.policy(kConfig);
  auto d = policy.decide("user:1", "v", 60000);  // tiers: l1 (volatile), l2 (durable)
  EXPECT_EQ(d[0].action, STRATA_ACTION_SET);
  EXPECT_EQ(d[0].ttl_ms, 60000);
  EXPECT_EQ(d[1].action, STRATA_ACTION_SET);
  EXPECT_EQ(d[1].ttl_ms, 60000);
}

TEST(PrefixRouter, NoHookTtlMeansTheTiersDefault) {
  Module mod(STRATA_TEST_MODULE);
  auto d = mod.policy(kConfig).decide("user:1", "v", STRATA_TTL_DEFAULT);
  EXPECT_EQ(d[0].ttl_ms, STRATA_TTL_DEFAULT);
  EXPECT_EQ(d[1].ttl_ms, STRATA_TTL_DEFAULT);
}

TEST(PrefixRouter, L2OnlyPrefixDeletesFromL1) {
  Module mod(STRATA_TEST_MODULE);
  auto d = mod.policy(kConfig).decide("report:7", "v");
  EXPECT_EQ(d[0].action, STRATA_ACTION_DELETE);
  EXPECT_EQ(d[1].action, STRATA_ACTION_SET);
}

TEST(PrefixRouter, LongestPrefixGivesTheL1Ttl) {
  Module mod(STRATA_TEST_MODULE);
  auto policy = mod.policy(kConfig);
  EXPECT_EQ(policy.decide("session:admin:1", "v")[0].ttl_ms, 5000);
  EXPECT_EQ(policy.decide("session:u1", "v")[0].ttl_ms, 30000);
}

TEST(PrefixRouter, TombstoneDeletesEverywhere) {
  Module mod(STRATA_TEST_MODULE);
  auto policy = mod.policy(kConfig);
  auto d = policy.decide("user:1", std::string_view(nullptr, 0));
  EXPECT_EQ(d[0].action, STRATA_ACTION_DELETE);
  EXPECT_EQ(d[1].action, STRATA_ACTION_DELETE);
}

TEST(PrefixRouter, BadDurationFailsCreateWithTheModulesMessage) {
  Module mod(STRATA_TEST_MODULE);
  EXPECT_EQ(mod.create_error("l1_ttl_by_prefix = { \"a:\" = \"soon\" }"),
            "module \"prefix_router\" create failed for policies.test: l1_ttl_by_prefix.\"a:\": "
            "\"soon\" is not a duration");
}
