// The built-in policy modules (modules/policies), loaded as .so files through the real loader
// with options validated by the real config code: every decision of every mode, TTL precedence,
// jitter bounds and spread, L1 size admission, tombstones, and concurrent decide() calls.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <toml++/toml.h>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "loader/loader.hpp"

namespace {

using strata::ModuleInstance;
using strata::ModuleLoader;

constexpr uint32_t kVolatile = 0;
constexpr uint32_t kDurable = STRATA_TIER_DURABLE | STRATA_TIER_VERSIONED;

std::vector<std::string> search_path() {
  const char* env = getenv("STRATA_MODULES_PATH");
  if (env && *env) return {env};
  return ModuleLoader::default_search_path("");
}

ModuleLoader& loader() {
  static ModuleLoader l(search_path());
  return l;
}

// Loads `module` and creates an instance from the TOML body of its [policies.p] section.
std::unique_ptr<ModuleInstance> make_policy(const std::string& module, const std::string& body) {
  auto loaded = loader().load(module);
  if (!loaded.ok()) throw std::runtime_error(loaded.error());
  const strata_module_descriptor* d = (*loaded)->desc;
  toml::table table = toml::parse(body);
  strata::Diagnostics diags;
  auto opts = strata::validate_table(table, "test.toml", "policies.p", d->options, d->option_count,
                                     {"module"}, diags);
  if (!opts) throw std::runtime_error("invalid options: " + diags.str());
  auto inst = ModuleInstance::create(**loaded, "policies.p", "test", std::move(*opts));
  if (!inst.ok()) throw std::runtime_error(inst.error());
  return std::move(*inst);
}

// One call of decide() for a pipeline with tiers {L1 volatile, L2 durable}.
struct Decision {
  std::vector<strata_policy_decision> d;
  strata_policy_action l1() const { return d[0].action; }
  strata_policy_action l2() const { return d[1].action; }
};

Decision decide(ModuleInstance& inst, const std::string* value, int64_t hook_ttl_ms,
                std::vector<uint32_t> tier_flags = {kVolatile, kDurable}) {
  std::vector<strata_policy_tier> tiers;
  static const char* const kNames[] = {"tiers.l1", "tiers.l2", "tiers.l3"};
  for (size_t i = 0; i < tier_flags.size(); ++i) tiers.push_back({kNames[i], tier_flags[i]});
  strata_record rec{};
  rec.struct_size = sizeof rec;
  rec.topic = "t";
  strata_policy_input in{};
  in.struct_size = sizeof in;
  in.record = &rec;
  in.key = {"k", 1};
  in.value = value ? strata_bytes{value->data(), value->size()} : strata_bytes{nullptr, 0};
  in.hook_ttl_ms = hook_ttl_ms;
  in.tiers = tiers.data();
  in.tier_count = tiers.size();
  Decision out;
  // Poison the array so a decision the module forgot to write is caught.
  out.d.assign(tiers.size(), strata_policy_decision{static_cast<strata_policy_action>(99), 77});
  strata_error err{};
  int rc = inst.policy()->decide(inst.handle(), &in, out.d.data(), &err);
  EXPECT_EQ(rc, STRATA_OK) << err.message;
  return out;
}

const std::string kValue = "hello";

struct ModeCase {
  const char* module;
  strata_policy_action volatile_action;
};
const ModeCase kModes[] = {{"write_through", STRATA_ACTION_SET},
                           {"write_around", STRATA_ACTION_DELETE},
                           {"l2_only", STRATA_ACTION_SKIP}};

}  // namespace

TEST(Policies, DescriptorsNameKindAndOptions) {
  for (const auto& mode : kModes) {
    auto loaded = loader().load(mode.module);
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    const strata_module_descriptor* d = (*loaded)->desc;
    EXPECT_STREQ(d->name, mode.module);
    EXPECT_EQ(d->kind, STRATA_KIND_POLICY);
    ASSERT_EQ(d->option_count, 4u);
    EXPECT_STREQ(d->options[0].name, "l1_ttl");
    EXPECT_STREQ(d->options[1].name, "l2_ttl");
    EXPECT_STREQ(d->options[2].name, "ttl_jitter");
    EXPECT_EQ(d->options[2].type, STRATA_OPT_DOUBLE);
    EXPECT_STREQ(d->options[2].default_value, "0.1");
    EXPECT_EQ(d->options[2].max, 0.5);
    EXPECT_STREQ(d->options[3].name, "l1_max_value");
    EXPECT_EQ(d->options[3].type, STRATA_OPT_SIZE);
  }
}

TEST(Policies, EveryModeDecidesPerTierKind) {
  for (const auto& mode : kModes) {
    SCOPED_TRACE(mode.module);
    auto p = make_policy(mode.module, "ttl_jitter = 0.0");
    Decision two = decide(*p, &kValue, -1);
    EXPECT_EQ(two.l1(), mode.volatile_action);
    EXPECT_EQ(two.l2(), STRATA_ACTION_SET);
    // Durable is a flag, not a position: two volatile tiers around a durable one.
    Decision three = decide(*p, &kValue, -1, {kVolatile, kDurable, kVolatile});
    EXPECT_EQ(three.d[0].action, mode.volatile_action);
    EXPECT_EQ(three.d[1].action, STRATA_ACTION_SET);
    EXPECT_EQ(three.d[2].action, mode.volatile_action);
    // SKIP and DELETE carry no TTL.
    for (const auto& d : three.d) {
      if (d.action != STRATA_ACTION_SET) {
        EXPECT_EQ(d.ttl_ms, 0);
      }
    }
  }
}

TEST(Policies, HookTtlWinsThenPolicyTtlThenTierDefault) {
  auto p = make_policy("write_through", "l1_ttl = \"30s\"\nl2_ttl = \"1h\"\nttl_jitter = 0.0");
  Decision hook = decide(*p, &kValue, 5000);
  EXPECT_EQ(hook.d[0].ttl_ms, 5000);
  EXPECT_EQ(hook.d[1].ttl_ms, 5000);
  Decision none = decide(*p, &kValue, -1);
  EXPECT_EQ(none.d[0].ttl_ms, 30000);
  EXPECT_EQ(none.d[1].ttl_ms, 3600000);
  Decision zero = decide(*p, &kValue, 0);  // 0 from the hook means "no opinion" too
  EXPECT_EQ(zero.d[0].ttl_ms, 30000);
  EXPECT_EQ(zero.d[1].ttl_ms, 3600000);

  auto defaults = make_policy("write_through", "ttl_jitter = 0.0");
  Decision tier_default = decide(*defaults, &kValue, -1);
  EXPECT_EQ(tier_default.d[0].ttl_ms, 0);
  EXPECT_EQ(tier_default.d[1].ttl_ms, 0);
}

TEST(Policies, JitterStaysInBoundsSpreadsAndSparesDurableTiers) {
  auto p = make_policy("write_through", "ttl_jitter = 0.2");
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 5000; ++i) {
    Decision d = decide(*p, &kValue, 10000);
    ASSERT_GE(d.d[0].ttl_ms, 8000);
    ASSERT_LE(d.d[0].ttl_ms, 12000);
    ASSERT_EQ(d.d[1].ttl_ms, 10000);
    lo = std::min(lo, d.d[0].ttl_ms);
    hi = std::max(hi, d.d[0].ttl_ms);
  }
  // 5000 uniform draws: the extremes land within 1% of the bounds with overwhelming odds.
  EXPECT_LT(lo, 8200);
  EXPECT_GT(hi, 11800);
}

TEST(Policies, DefaultJitterIsTenPercentAndTierDefaultIsNeverJittered) {
  auto p = make_policy("write_through", "l1_ttl = \"30s\"");
  bool varied = false;
  for (int i = 0; i < 1000; ++i) {
    Decision d = decide(*p, &kValue, -1);
    ASSERT_GE(d.d[0].ttl_ms, 27000);
    ASSERT_LE(d.d[0].ttl_ms, 33000);
    varied |= d.d[0].ttl_ms != 30000;
  }
  EXPECT_TRUE(varied);
  auto defaults = make_policy("write_through", "");
  EXPECT_EQ(decide(*defaults, &kValue, -1).d[0].ttl_ms, 0);  // 0 stays "the tier's default"
}

TEST(Policies, ValuesAboveL1MaxValueAreDeletedFromVolatileTiers) {
  const std::string fits(1024, 'x'), too_big(1025, 'x');
  for (const auto& mode : kModes) {
    SCOPED_TRACE(mode.module);
    auto p = make_policy(mode.module, "l1_max_value = \"1KiB\"");
    EXPECT_EQ(decide(*p, &fits, -1).l1(), mode.volatile_action);
    Decision big = decide(*p, &too_big, -1);
    // l2_only never touches L1; the others must not leave an older value there.
    EXPECT_EQ(big.l1(), mode.volatile_action == STRATA_ACTION_SKIP ? STRATA_ACTION_SKIP
                                                                   : STRATA_ACTION_DELETE);
    EXPECT_EQ(big.l2(), STRATA_ACTION_SET);
  }
}

TEST(Policies, TombstoneDeletesEverywhere) {
  for (const auto& mode : kModes) {
    SCOPED_TRACE(mode.module);
    auto p = make_policy(mode.module, "");
    Decision d = decide(*p, nullptr, 5000);
    EXPECT_EQ(d.l1(), STRATA_ACTION_DELETE);
    EXPECT_EQ(d.l2(), STRATA_ACTION_DELETE);
  }
  // An empty value is a value, not a tombstone.
  auto p = make_policy("write_through", "");
  const std::string empty;
  EXPECT_EQ(decide(*p, &empty, -1).l1(), STRATA_ACTION_SET);
}

TEST(Policies, OptionBoundsAreEnforcedByTheHost) {
  auto loaded = loader().load("write_through");
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  const strata_module_descriptor* d = (*loaded)->desc;
  for (const char* bad : {"ttl_jitter = 0.7", "ttl_jitter = -0.1", "l1_ttl = \"-5s\"",
                          "l1_max_value = \"lots\"", "l3_ttl = \"5s\""}) {
    SCOPED_TRACE(bad);
    toml::table table = toml::parse(bad);
    strata::Diagnostics diags;
    auto opts = strata::validate_table(table, "test.toml", "policies.p", d->options,
                                       d->option_count, {"module"}, diags);
    EXPECT_FALSE(opts.has_value());
    EXPECT_FALSE(diags.empty());
  }
}

TEST(Policies, DecideIsSafeFromManyThreads) {
  auto p = make_policy("write_through", "l1_ttl = \"10s\"\nttl_jitter = 0.5");
  std::vector<std::thread> threads;
  std::atomic<int> out_of_bounds{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        Decision d = decide(*p, &kValue, -1);
        if (d.d[0].ttl_ms < 5000 || d.d[0].ttl_ms > 15000 || d.l2() != STRATA_ACTION_SET)
          ++out_of_bounds;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(out_of_bounds.load(), 0);
}
