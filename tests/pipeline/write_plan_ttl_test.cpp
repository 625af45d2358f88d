// The TTL a policy sees when the ttl() hook gave none (issue 12): STRATA_TTL_DEFAULT, the one
// meaning of 0 wherever a TTL travels. It was -1, which in the decision the policy returns
// means "never expire": two policies had to translate it by hand. Checked failing before the
// fix (hook_ttl_ms was -1).
#include <gtest/gtest.h>

#include <vector>

#include "pipeline/write_plan.hpp"

namespace {

std::vector<int64_t> seen_hook_ttls;

int capture_decide(void*, const strata_policy_input* in, strata_policy_decision* d,
                   strata_error*) {
  seen_hook_ttls.push_back(in->hook_ttl_ms);
  for (size_t i = 0; i < in->tier_count; ++i) d[i] = {STRATA_ACTION_SET, in->hook_ttl_ms};
  return STRATA_OK;
}

}  // namespace

TEST(WritePlan, PolicySeesTheDefaultTtlWhenNoHookGaveOne_Issue12) {
  const strata_policy_hooks policy = {sizeof(strata_policy_hooks), capture_decide,
                                      {nullptr, nullptr, nullptr, nullptr}, 0};
  const std::vector<strata_policy_tier> tiers{{"tiers.l1", 0}, {"tiers.l2", STRATA_TIER_DURABLE}};
  strata::PlanSettings s;
  s.pipeline = "p";
  s.policy = &policy;
  s.policy_name = "capture";
  s.tiers = &tiers;
  strata_record rec{};
  rec.struct_size = sizeof rec;
  rec.topic = "t";
  rec.key = {"k", 1};
  rec.value = {"v", 1};
  rec.timestamp_ms = -1;
  strata_record_batch batch{&rec, 1, nullptr};
  seen_hook_ttls.clear();
  uint64_t skipped = 0;
  strata::WritePlan plan = strata::derive_plan(batch, nullptr, s, &skipped);
  ASSERT_EQ(seen_hook_ttls.size(), 1u);
  EXPECT_EQ(seen_hook_ttls[0], STRATA_TTL_DEFAULT);
  ASSERT_EQ(plan.ops.size(), 1u);
  EXPECT_EQ(plan.ops[0].ttl_ms(0), STRATA_TTL_DEFAULT);  // the tier's default, not "never"
}
