// The module SDK (sdk.hpp) and the test kit (testing.hpp), issue 12: each trap a module author
// met, through modules written with the SDK and loaded by the real loader.
#include <gtest/gtest.h>
#include <strata/sdk.hpp>
#include <strata/testing.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "chain/tier.hpp"
#include "config/config.hpp"
#include "loader/loader.hpp"

namespace {

std::string sdk_module(const std::string& name) {
  return std::string(SDK_MODULES_DIR) + "/" + name + ".so";
}

using strata::testing::Module;

}  // namespace

// A module without options compiles with STRATA_MODULE(CLASS, NAME, VERSION, DESCRIPTION) (it
// needed the GNU `kOptions[] = {}` extension before) and loads with an empty table.
TEST(Sdk, ModuleWithoutOptions_Issue12) {
  Module mod(sdk_module("sdk_plain"));
  EXPECT_EQ(mod.descriptor().option_count, 0u);
  EXPECT_EQ(mod.descriptor().options, nullptr);
  auto tier = mod.tier();
  EXPECT_EQ(tier.set("k", "v").status, STRATA_OK);
  EXPECT_EQ(tier.get("k").value, "v");
}

// The flags rule: a per-op tier stores strata::Item (value and flags together), so a negative
// entry comes back marked, not as a real empty value.
TEST(Sdk, PerOpTierKeepsItemFlags_Issue12) {
  Module mod(sdk_module("sdk_plain"));
  auto tier = mod.tier();
  ASSERT_EQ(tier.set("gone", "", 1000, STRATA_ITEM_NEGATIVE).status, STRATA_OK);
  auto r = tier.get("gone");
  ASSERT_EQ(r.status, STRATA_OK) << r;
  EXPECT_EQ(r.flags, STRATA_ITEM_NEGATIVE);
  EXPECT_EQ(r.value, "");
}

// Kinds the tier does not implement are answered (STRATA_ERR_INVALID), never left unset.
TEST(Sdk, PerOpTierAnswersWhatItDoesNotImplement) {
  Module mod(sdk_module("sdk_plain"));
  auto tier = mod.tier();
  auto r = tier.add("k", "v");
  EXPECT_EQ(r.status, STRATA_ERR_INVALID) << r;
  EXPECT_EQ(r.error, "this tier does not support ADD");
  EXPECT_EQ(tier.del("k").status, STRATA_ERR_INVALID);
}

// A module overriding execute() that answers nothing: every op is an error naming the module.
TEST(Sdk, UnansweredOpNamesTheModule_Issue12) {
  Module mod(sdk_module("sdk_empty_execute"));
  auto tier = mod.tier("", "tiers.l1");
  auto r = tier.get("k");
  EXPECT_EQ(r.status, STRATA_ERR_INTERNAL);
  EXPECT_EQ(r.value, "");
  EXPECT_EQ(r.error,
            "tiers.l1: module \"sdk_empty_execute\" did not answer this GET (execute left its "
            "status unset)");
}

// strata::Error(msg) from a tier is STRATA_ERR_UNAVAILABLE: retried by the pipeline and counted
// by the breaker, which opens after its threshold (with STRATA_ERR_INVALID, the default before,
// it never opened: checked failing before the fix).
TEST(Sdk, ErrorWithoutStatusIsAFailureTheBreakerCounts_Issue12) {
  Module kit(sdk_module("sdk_throws"));
  auto r = kit.tier().get("k");
  EXPECT_EQ(r.status, STRATA_ERR_UNAVAILABLE) << r;
  EXPECT_EQ(r.error, "disk unreachable reading k");

  strata::ModuleLoader loader({});
  auto m = loader.load(sdk_module("sdk_throws"));
  ASSERT_TRUE(m.ok()) << m.error();
  auto inst = strata::ModuleInstance::create(*m.value(), "tiers.l2", "", strata::ResolvedOptions());
  ASSERT_TRUE(inst.ok()) << inst.error();
  strata::BreakerSettings settings;
  settings.failure_threshold = 3;
  settings.open_ms = 60'000;
  strata::Tier tier(*inst.value(), settings);
  for (int i = 0; i < 3; ++i) {
    std::vector<strata_tier_op> ops{strata::make_op(STRATA_TIER_GET, "k")};
    std::vector<strata::OpResult> results;
    tier.execute(ops, results);
    EXPECT_EQ(ops[0].status, STRATA_ERR_UNAVAILABLE);
  }
  EXPECT_EQ(tier.breaker().state(), strata::CircuitBreaker::State::Open);
}

// The kit loads through the real loader: a module with another build signature is refused with
// the loader's sentence.
TEST(Sdk, KitRefusesAForeignBuildSignature_Issue12) {
  try {
    Module mod(sdk_module("sdk_foreign_signature"));
    FAIL() << "loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "module \"sdk_foreign_signature\" build signature \"tsan,libc++\" is not binary "
              "compatible with host build signature \"" STRATA_BUILD_SIGNATURE "\"");
  }
}

TEST(Sdk, TtlHelpers_Issue12) {
  EXPECT_EQ(strata::expiry_ms(STRATA_TTL_DEFAULT, 0, 1000), 0);      // no default: never
  EXPECT_EQ(strata::expiry_ms(STRATA_TTL_DEFAULT, 500, 1000), 1500); // the tier's default
  EXPECT_EQ(strata::expiry_ms(STRATA_TTL_NEVER, 500, 1000), 0);
  EXPECT_EQ(strata::expiry_ms(200, 500, 1000), 1200);
  EXPECT_EQ(strata::remaining_ttl_ms(0, 1000), STRATA_TTL_NEVER);
  EXPECT_EQ(strata::remaining_ttl_ms(1500, 1000), 500);
  EXPECT_EQ(strata::remaining_ttl_ms(1000, 1000), 1);  // due: still "has a TTL", never 0/unknown
  strata_policy_input in{};
  in.hook_ttl_ms = STRATA_TTL_DEFAULT;
  EXPECT_EQ(strata::hook_ttl_or(in, 42), 42);
  in.hook_ttl_ms = -1;  // what a host before the constants passed for "none"
  EXPECT_EQ(strata::hook_ttl_or(in, 42), 42);
  in.hook_ttl_ms = 7;
  EXPECT_EQ(strata::hook_ttl_or(in, 42), 7);
}

TEST(Sdk, OptionMapBecomesToml) {
  EXPECT_EQ(strata::testing::to_toml({{"capacity", "10"}, {"name", "a b"}, {"on", "true"}}),
            "capacity = 10\nname = 'a b'\non = true\n");
}

// The kit drives a source as the pipeline's worker thread does (the pipeline tests' scripted
// fake source: records from a tab-separated file).
TEST(SdkKit, SourcePollsRecordsAndTakesAcks) {
  const std::string file = ::testing::TempDir() + "/sdk_kit_records.tsv";
  {
    std::ofstream out(file);
    out << "t\t0\t5\tk1\tv1\n"
        << "t\t0\t6\tk2\t\\N\n"
        << "t\t1\t9\t\\N\tv3\n";
  }
  Module mod(FAKE_SOURCE_MODULE);
  auto src = mod.source("records_file = \"" + file + "\"\nbatch_size = 2");
  auto records = src.poll_until(3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].topic, "t");
  EXPECT_EQ(records[0].offset, 5);
  EXPECT_EQ(records[0].key, "k1");
  EXPECT_EQ(records[0].value, "v1");
  EXPECT_TRUE(records[1].tombstone);
  EXPECT_TRUE(records[2].null_key);
  EXPECT_EQ(records[2].partition, 1);
  EXPECT_TRUE(src.poll(10, 0).empty());
  src.ack("t", 0, 7);
  src.pause();
  src.resume();
  EXPECT_EQ(mod.create_error("").rfind(
                "test.toml:1:1: sources.test: missing required option 'records_file'", 0),
            0u);
}
