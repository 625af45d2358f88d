// Loads the out-of-tree example module (examples/custom_module, built by build_and_load.sh
// against an installed strata) with the real loader by path, and checks its descriptor, option
// validation, create errors and decide(). $STRATA_OOT_MODULE names the .so.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <toml++/toml.h>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "loader/loader.hpp"

namespace {

std::string env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

class OutOfTreeModule : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = env("STRATA_OOT_MODULE");
    ASSERT_FALSE(path_.empty()) << "run through build_and_load.sh (STRATA_OOT_MODULE unset)";
    auto loaded = loader_.load(path_);
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    module_ = *loaded;
  }

  strata::Result<std::unique_ptr<strata::ModuleInstance>> create(const std::string& body) {
    toml::table table = toml::parse(body);
    strata::Diagnostics diags;
    const strata_module_descriptor* d = module_->desc;
    auto opts = strata::validate_table(table, "router.toml", "policies.router", d->options,
                                       d->option_count, {"module"}, diags);
    if (!opts) return strata::fail(diags.str());
    return strata::ModuleInstance::create(*module_, "policies.router", "test", std::move(*opts));
  }

  std::string path_;
  strata::ModuleLoader loader_{{}};
  const strata::LoadedModule* module_ = nullptr;
};

std::vector<strata_policy_decision> decide(strata::ModuleInstance& inst, const std::string& key,
                                           int64_t hook_ttl_ms) {
  const strata_policy_tier tiers[] = {{"tiers.l1", 0},
                                      {"tiers.l2", STRATA_TIER_DURABLE | STRATA_TIER_VERSIONED}};
  strata_record rec{};
  rec.struct_size = sizeof rec;
  strata_policy_input in{};
  in.struct_size = sizeof in;
  in.record = &rec;
  in.key = {key.data(), key.size()};
  in.value = {"v", 1};
  in.hook_ttl_ms = hook_ttl_ms;
  in.tiers = tiers;
  in.tier_count = 2;
  std::vector<strata_policy_decision> out(2, {static_cast<strata_policy_action>(99), 77});
  strata_error err{};
  EXPECT_EQ(inst.policy()->decide(inst.handle(), &in, out.data(), &err), STRATA_OK) << err.message;
  return out;
}

}  // namespace

TEST_F(OutOfTreeModule, DescriptorNameKindAndOptions) {
  const strata_module_descriptor* d = module_->desc;
  EXPECT_EQ(module_->path, path_);
  EXPECT_STREQ(d->name, "prefix_router");
  EXPECT_EQ(d->kind, STRATA_KIND_POLICY);
  EXPECT_EQ(d->abi_major, static_cast<uint32_t>(STRATA_ABI_MAJOR));
  ASSERT_EQ(d->option_count, 2u);
  EXPECT_STREQ(d->options[0].name, "l2_only_prefixes");
  EXPECT_EQ(d->options[0].type, STRATA_OPT_STRING_LIST);
  EXPECT_STREQ(d->options[1].name, "l1_ttl_by_prefix");
  EXPECT_EQ(d->options[1].type, STRATA_OPT_TABLE);
}

TEST_F(OutOfTreeModule, RoutesByPrefix) {
  auto inst = create(
      "l2_only_prefixes = [\"report:\"]\n"
      "l1_ttl_by_prefix = { \"session:\" = \"30s\", \"session:admin:\" = \"5s\" }\n");
  ASSERT_TRUE(inst.ok()) << inst.error();

  auto report = decide(**inst, "report:2024", 60000);
  EXPECT_EQ(report[0].action, STRATA_ACTION_DELETE);
  EXPECT_EQ(report[1].action, STRATA_ACTION_SET);
  EXPECT_EQ(report[1].ttl_ms, 60000);

  auto session = decide(**inst, "session:42", 60000);
  EXPECT_EQ(session[0].action, STRATA_ACTION_SET);
  EXPECT_EQ(session[0].ttl_ms, 30000);
  auto admin = decide(**inst, "session:admin:1", -1);  // longest prefix wins
  EXPECT_EQ(admin[0].ttl_ms, 5000);

  auto other = decide(**inst, "user:7", 1500);
  EXPECT_EQ(other[0].action, STRATA_ACTION_SET);
  EXPECT_EQ(other[0].ttl_ms, 1500);
  EXPECT_EQ(other[1].action, STRATA_ACTION_SET);
}

TEST_F(OutOfTreeModule, ModuleErrorsBecomeTheLoadersSentence) {
  auto inst = create("l1_ttl_by_prefix = { \"session:\" = \"soon\" }\n");
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.error(),
            "module \"prefix_router\" create failed for policies.router: "
            "l1_ttl_by_prefix.\"session:\": \"soon\" is not a duration");
}

TEST_F(OutOfTreeModule, HostValidatesItsOptionTypes) {
  auto inst = create("l2_only_prefixes = \"report:\"\n");  // a string, not an array
  ASSERT_FALSE(inst.ok());
  EXPECT_NE(inst.error().find("router.toml:1:"), std::string::npos) << inst.error();
}

// The modules this build installed load from the install prefix too.
TEST_F(OutOfTreeModule, InstalledModulesLoadFromThePrefix) {
  const std::string dir = env("STRATA_OOT_INSTALLED_MODULES");
  ASSERT_FALSE(dir.empty());
  strata::ModuleLoader installed({dir});
  auto router = installed.load("prefix_router");
  ASSERT_TRUE(router.ok()) << router.error();
  EXPECT_STREQ((*router)->name(), "prefix_router");
  auto policy = installed.load("write_through");
  ASSERT_TRUE(policy.ok()) << policy.error();
  EXPECT_EQ((*policy)->desc->kind, STRATA_KIND_POLICY);
}
