// [fronts.NAME] sections at parse time: exactly one of `tiers` / `pipeline`, names that point
// nowhere, chain options beside `pipeline`; every error with FILE:LINE:COL. (Module options and
// kinds need the modules loaded: tests/front_core covers those.)
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace strata::testing_config {
namespace {

const std::string kTiers =
    "[tiers.l1]\nmodule = \"memcached\"\n\n"  // 1-3
    "[tiers.l2]\nmodule = \"redis\"\n\n";     // 4-6

TEST(ConfigFronts, ReadOnlyNodeWithTiersAndAFrontIsValid) {
  Parsed p = parse(kTiers + "[fronts.mc]\nmodule = \"memcached_front\"\ntiers = [\"l1\", "
                            "\"l2\"]\nport = 11311\n");
  ASSERT_TRUE(p.cfg);
  EXPECT_TRUE(p.diags.empty()) << p.diags.str();
  ASSERT_EQ(p.cfg->fronts.size(), 1u);
  const InstanceConfig& f = p.cfg->fronts[0];
  EXPECT_EQ(f.full_name(), "fronts.mc");
  EXPECT_EQ(f.module, "memcached_front");
  EXPECT_EQ(f.module_pos.line, 8);
  EXPECT_TRUE(p.cfg->pipelines.empty());
  EXPECT_TRUE(p.cfg->sources.empty());
  EXPECT_EQ(p.cfg->find_instance("fronts", "mc"), &f);
  Diagnostics d;
  auto host = tier_host_options(*p.cfg, f, d);
  ASSERT_TRUE(host) << d.str();
  EXPECT_EQ(host->list("tiers"), (std::vector<std::string>{"l1", "l2"}));
  EXPECT_EQ(host->integer("chain_threads"), 4);
  EXPECT_EQ(host->integer("inline_reads"), 1);
  EXPECT_EQ(host->integer("neg_ttl"), 0);
}

TEST(ConfigFronts, BothTiersAndPipeline) {
  Parsed p = parse(kTiers +
                   "[fronts.mc]\nmodule = \"f\"\ntiers = [\"l1\"]\npipeline = \"latest\"\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:10:12: fronts.mc.pipeline: a front reads through `tiers` or through a "
            "pipeline's chain, not both; remove one of `tiers` and `pipeline`\n"
            "t.toml:10:12: fronts.mc.pipeline: pipeline 'latest' is not defined; no "
            "[pipelines.NAME] sections are defined\n");
}

TEST(ConfigFronts, NeitherTiersNorPipeline) {
  Parsed p = parse(kTiers + "[fronts.mc]\nmodule = \"f\"\nport = 1\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:7:1: fronts.mc: missing `tiers = [\"l1\", \"l2\"]` (the tiers to read "
            "through, L1 first) or `pipeline = \"NAME\"` (share that pipeline's chain)\n");
}

TEST(ConfigFronts, UnknownTierDuplicateTierAndEmptyList) {
  Parsed p = parse(kTiers + "[fronts.a]\nmodule = \"f\"\ntiers = [\"l1\", \"l3\", \"l1\"]\n"
                            "[fronts.b]\nmodule = \"f\"\ntiers = []\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:9:16: fronts.a.tiers[1]: tier 'l3' is not defined (did you mean 'l1'?); "
            "defined tiers: l1, l2\n"
            "t.toml:9:22: fronts.a.tiers[2]: tier 'l1' is listed twice; each tier may appear "
            "once\n"
            "t.toml:12:9: fronts.b.tiers: must name at least one tier (L1 first)\n");
}

TEST(ConfigFronts, UnknownPipelineAndChainOptionBesideIt) {
  Parsed p = parse(kTiers +
                   "[sources.s]\nmodule = \"k\"\n\n"                               // 7-9
                   "[pipelines.latest]\nsource = \"s\"\ntiers = [\"l1\", \"l2\"]\n\n"  // 10-13
                   "[fronts.a]\nmodule = \"f\"\npipeline = \"lastest\"\n"          // 14-16
                   "[fronts.b]\nmodule = \"f\"\npipeline = \"latest\"\nneg_ttl = \"1s\"\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:16:12: fronts.a.pipeline: pipeline 'lastest' is not defined (did you mean "
            "'latest'?); defined pipelines: latest\n"
            "t.toml:20:11: fronts.b.neg_ttl: the front shares the chain of pipeline 'latest'; "
            "set neg_ttl in that [pipelines.NAME] section\n");
}

TEST(ConfigFronts, FrontsMustBeSections) {
  Parsed p = parse("fronts = 3\n" + kTiers);
  EXPECT_EQ(p.diags.str(),
            "t.toml:1:10: fronts: expected a table of [fronts.NAME] sections, got integer\n");
  Parsed q = parse(kTiers + "[fronts.x]\ntiers = [\"l1\"]\n");
  EXPECT_EQ(q.diags.str(),
            "t.toml:7:1: fronts.x: missing required key 'module' (the name of the module that "
            "runs this instance, e.g. module = \"memcached\")\n");
}

TEST(ConfigFronts, HostKeysAreTypeChecked) {
  Parsed p = parse(kTiers + "[fronts.mc]\nmodule = \"f\"\ntiers = [\"l1\"]\nchain_threads = 999\n");
  ASSERT_TRUE(p.cfg);
  ASSERT_TRUE(p.diags.empty()) << p.diags.str();
  Diagnostics d;
  EXPECT_FALSE(tier_host_options(*p.cfg, p.cfg->fronts[0], d));
  EXPECT_NE(d.str().find("t.toml:10:17: fronts.mc.chain_threads"), std::string::npos) << d.str();
}

}  // namespace
}  // namespace strata::testing_config
