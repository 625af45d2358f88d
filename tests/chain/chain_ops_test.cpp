// Unit tests of the fronts' ops on the TierChain (store, add, remove, touch, durable_only) over
// the counting fake tiers: which tier gets what, in which order, and what is never sent.
#include <gtest/gtest.h>

#include "chain/tier_chain.hpp"
#include "chain/warmer.hpp"
#include "fake_tiers.hpp"

namespace strata {
namespace {

using namespace chain_test;

class ChainOpsTest : public ::testing::Test {
 protected:
  void build(const std::string& l1_module, const std::string& l2_module) {
    chain_.reset();
    const std::string suffix = unique_suffix();
    l1_ = make_fake(l1_module, "tiers.l1_" + suffix, {2, 60000, 1});
    l2_ = make_fake(l2_module, "tiers.l2_" + suffix, {2, 60000, 1});
    ASSERT_TRUE(l1_.tier && l2_.tier);
    chain_ = std::make_unique<TierChain>(std::vector<Tier*>{l1_.tier.get(), l2_.tier.get()},
                                         ChainSettings{});
  }
  void SetUp() override { build("fake_rich_volatile_tier", "fake_rich_durable_tier"); }

  FakeTier l1_, l2_;
  std::unique_ptr<TierChain> chain_;
};

TEST_F(ChainOpsTest, StoreKeepsClientFlagsInEveryTier) {
  OpOutcome out = chain_->store("k", "v", 5000, 42);
  EXPECT_EQ(out.status, STRATA_OK);
  uint32_t f1 = 0, f2 = 0;
  int64_t t1 = 0;
  EXPECT_EQ(l1_.lookup("k", &f1, &t1), "v");
  EXPECT_EQ(l2_.lookup("k", &f2), "v");
  EXPECT_EQ(f1, 42u);
  EXPECT_EQ(f2, 42u);
  EXPECT_EQ(t1, 5000);
  // ... and come back on a read, from L1 and through a refill from L2.
  GetResult r = chain_->get("k");
  EXPECT_EQ(r.flags, 42u);
  l2_.put("only-l2", "w", 7);
  r = chain_->get("only-l2");
  EXPECT_EQ(r.tier, l2_.tier->name());
  EXPECT_EQ(r.flags, 7u);
  uint32_t refilled = 0;
  EXPECT_EQ(l1_.lookup("only-l2", &refilled), "w");
  EXPECT_EQ(refilled, 7u);
}

TEST_F(ChainOpsTest, StoreFailingInTheDurableTierLeavesL1Alone) {
  l1_.put("k", "old");
  l2_.down(true);
  OpOutcome out = chain_->store("k", "new", 0, 0);
  EXPECT_EQ(out.status, STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(out.error.find(l2_.tier->name()), std::string::npos) << out.error;
  EXPECT_EQ(l1_.lookup("k"), "old");
}

TEST_F(ChainOpsTest, AddIsDecidedByTheDurableTier) {
  l2_.put("k", "there");
  l1_.put("k", "stale copy");
  EXPECT_EQ(chain_->add("k", "v", 0, 0).status, STRATA_NOT_STORED);
  EXPECT_EQ(l1_.lookup("k"), "stale copy");  // untouched
  EXPECT_EQ(l1_.count(STRATA_TIER_SET), 0);

  // Absent in L2 but present in L1 (e.g. a negative entry): L2 stores it, L1 is overwritten.
  l1_.put("n", "", STRATA_ITEM_NEGATIVE);
  EXPECT_EQ(chain_->add("n", "fresh", 0, 3).status, STRATA_OK);
  uint32_t flags = 0;
  EXPECT_EQ(l2_.lookup("n"), "fresh");
  EXPECT_EQ(l1_.lookup("n", &flags), "fresh");
  EXPECT_EQ(flags, 3u);
}

TEST_F(ChainOpsTest, RemoveAnswersWithTheDurableTiersStatusAndClearsL1Anyway) {
  l1_.put("k", "orphan");
  EXPECT_EQ(chain_->remove("k").status, STRATA_NOT_FOUND);
  EXPECT_FALSE(l1_.lookup("k"));
  l2_.put("j", "v");
  l1_.put("j", "v");
  EXPECT_EQ(chain_->remove("j").status, STRATA_OK);
  EXPECT_FALSE(l1_.lookup("j"));
  EXPECT_FALSE(l2_.lookup("j"));
}

TEST_F(ChainOpsTest, TouchReachesEveryRichTier) {
  l2_.put("k", "v");
  l1_.put("k", "v");
  EXPECT_EQ(chain_->touch("k", 9000).status, STRATA_OK);
  int64_t t1 = 0, t2 = 0;
  ASSERT_TRUE(l1_.lookup("k", nullptr, &t1));
  ASSERT_TRUE(l2_.lookup("k", nullptr, &t2));
  EXPECT_EQ(t1, 9000);
  EXPECT_EQ(t2, 9000);
  EXPECT_EQ(chain_->touch("absent", 9000).status, STRATA_NOT_FOUND);
}

TEST_F(ChainOpsTest, TouchDropsTheCopyOfAVolatileTierThatCannotTouch) {
  build("fake_volatile_tier", "fake_rich_durable_tier");
  l2_.put("k", "v");
  l1_.put("k", "v");
  EXPECT_EQ(chain_->touch("k", 9000).status, STRATA_OK);
  EXPECT_FALSE(l1_.lookup("k"));
  EXPECT_EQ(l1_.count(STRATA_TIER_TOUCH), 0);
  EXPECT_EQ(l1_.count(STRATA_TIER_DELETE), 1);
}

TEST_F(ChainOpsTest, TouchNeedsARichDurableTier) {
  build("fake_rich_volatile_tier", "fake_durable_tier");
  l2_.put("k", "v");
  OpOutcome out = chain_->touch("k", 1000);
  EXPECT_EQ(out.status, STRATA_ERR_INVALID);
  EXPECT_EQ(out.error, "the durable tier does not support touch");
  EXPECT_EQ(l2_.count(STRATA_TIER_TOUCH), 0);
}

TEST_F(ChainOpsTest, DurableOnlyOpsDropTheVolatileCopy) {
  l2_.put("k", "b");
  l1_.put("k", "b");
  EXPECT_EQ(chain_->durable_only(STRATA_TIER_APPEND, "k", "c", 0, 0, 0).status, STRATA_OK);
  EXPECT_FALSE(l1_.lookup("k"));
  EXPECT_EQ(l2_.lookup("k"), "bc");
  EXPECT_EQ(chain_->durable_only(STRATA_TIER_PREPEND, "k", "a", 0, 0, 0).status, STRATA_OK);
  EXPECT_EQ(chain_->get("k").value, "abc");  // refilled from L2
  EXPECT_EQ(l1_.lookup("k"), "abc");

  l2_.put("n", "41");
  OpOutcome incr = chain_->durable_only(STRATA_TIER_INCR, "n", {}, 0, 0, 1);
  EXPECT_EQ(incr.status, STRATA_OK);
  EXPECT_EQ(incr.value, "42");
  OpOutcome decr = chain_->durable_only(STRATA_TIER_DECR, "n", {}, 0, 0, 100);
  EXPECT_EQ(decr.value, "0");
  EXPECT_EQ(chain_->durable_only(STRATA_TIER_INCR, "k", {}, 0, 0, 1).status, STRATA_ERR_INVALID);
  EXPECT_EQ(chain_->durable_only(STRATA_TIER_INCR, "none", {}, 0, 0, 1).status,
            STRATA_NOT_FOUND);

  EXPECT_EQ(chain_->durable_only(STRATA_TIER_REPLACE, "none", "v", 0, 0, 0).status,
            STRATA_NOT_STORED);
  EXPECT_EQ(chain_->durable_only(STRATA_TIER_REPLACE, "k", "r", 0, 5, 0).status, STRATA_OK);
  uint32_t flags = 0;
  EXPECT_EQ(l2_.lookup("k", &flags), "r");
  EXPECT_EQ(flags, 5u);
}

TEST_F(ChainOpsTest, CasComparesTheTokenOfTheStoredValue) {
  l2_.put("k", "v1");
  l1_.put("k", "v1");
  GetResult r = chain_->get("k");
  uint64_t token = strata_cas_token(r.value.data(), r.value.size());
  EXPECT_EQ(chain_->durable_only(STRATA_TIER_CAS, "k", "v2", 0, 0, token + 1).status,
            STRATA_NOT_STORED);
  EXPECT_EQ(l1_.lookup("k"), "v1");  // nothing was applied: the copy stays
  EXPECT_EQ(chain_->durable_only(STRATA_TIER_CAS, "k", "v2", 0, 0, token).status, STRATA_OK);
  EXPECT_FALSE(l1_.lookup("k"));
  EXPECT_EQ(chain_->get("k").value, "v2");
  EXPECT_EQ(chain_->durable_only(STRATA_TIER_CAS, "k", "v3", 0, 0, token).status,
            STRATA_NOT_STORED);
}

TEST_F(ChainOpsTest, DurableOnlyOpsAreRefusedByANonRichDurableTier) {
  build("fake_rich_volatile_tier", "fake_durable_tier");
  l2_.put("k", "v");
  l1_.put("k", "v");
  const std::pair<strata_tier_op_kind, const char*> kinds[] = {
      {STRATA_TIER_REPLACE, "replace"}, {STRATA_TIER_APPEND, "append"},
      {STRATA_TIER_PREPEND, "prepend"}, {STRATA_TIER_INCR, "incr"},
      {STRATA_TIER_DECR, "decr"},       {STRATA_TIER_CAS, "cas"}};
  for (auto [kind, name] : kinds) {
    OpOutcome out = chain_->durable_only(kind, "k", "x", 0, 0, 1);
    EXPECT_EQ(out.status, STRATA_ERR_INVALID) << name;
    EXPECT_EQ(out.error, std::string("the durable tier does not support ") + name);
    EXPECT_EQ(l2_.count(kind), 0) << name;
  }
  EXPECT_EQ(l1_.lookup("k"), "v");  // nothing happened, nothing was dropped
}

TEST_F(ChainOpsTest, OldModulesNeverSeeTheNewKindsWhateverTheyDeclare) {
  build("fake_rich_volatile_tier_abi11", "fake_rich_durable_tier_abi11");
  EXPECT_FALSE(l1_.tier->rich());
  EXPECT_FALSE(l2_.tier->rich());
  l2_.put("k", "1");
  l1_.put("k", "1");
  EXPECT_EQ(chain_->touch("k", 1000).status, STRATA_ERR_INVALID);
  EXPECT_EQ(chain_->durable_only(STRATA_TIER_INCR, "k", {}, 0, 0, 1).status, STRATA_ERR_INVALID);
  // Even sent directly, the Tier refuses them before the module.
  std::vector<strata_tier_op> ops{make_op(STRATA_TIER_APPEND, "k", "x")};
  std::vector<OpResult> results;
  EXPECT_FALSE(l1_.tier->execute(ops, results));
  EXPECT_EQ(ops[0].status, STRATA_ERR_INVALID);
  for (int kind = STRATA_TIER_REPLACE; kind <= STRATA_TIER_CAS; ++kind) {
    EXPECT_EQ(l1_.count(static_cast<strata_tier_op_kind>(kind)), 0) << kind;
    EXPECT_EQ(l2_.count(static_cast<strata_tier_op_kind>(kind)), 0) << kind;
  }
  EXPECT_EQ(chain_->get("k").value, "1");  // the old kinds still work
}

// Issue 10: the bus's delete reaches the volatile tiers only; Redis keeps the key.
TEST_F(ChainOpsTest, Issue10InvalidateDeletesFromVolatileTiersOnly) {
  l1_.put("k", "v");
  l2_.put("k", "v");
  EXPECT_EQ(chain_->invalidate_volatile("k").status, STRATA_OK);
  EXPECT_FALSE(l1_.lookup("k"));
  EXPECT_EQ(l2_.lookup("k"), "v");
  EXPECT_EQ(l2_.count(STRATA_TIER_DELETE), 0);
  EXPECT_EQ(chain_->invalidate_volatile("k").status, STRATA_NOT_FOUND);
  l1_.down(true);
  OpOutcome out = chain_->invalidate_volatile("k");
  EXPECT_EQ(out.status, STRATA_ERR_UNAVAILABLE);  // the bus retries it
  EXPECT_NE(out.error.find(l1_.tier->name()), std::string::npos) << out.error;
}

// Issue 10: FLUSH goes only to volatile tiers that declare STRATA_TIER_FLUSHABLE; the fakes do
// not, so nothing is sent and nothing dropped (memcached_l1's flush: tests/memcached_l1).
TEST_F(ChainOpsTest, Issue10FlushIsNeverSentToATierWithoutTheFlag) {
  l1_.put("k", "v");
  l2_.put("k", "v");
  EXPECT_FALSE(l1_.tier->flushable());
  OpOutcome out = chain_->flush_volatile();
  EXPECT_EQ(out.status, STRATA_ERR_INVALID);
  EXPECT_EQ(out.error, l1_.tier->name() + " does not support flush");
  std::vector<strata_tier_op> ops{make_op(STRATA_TIER_FLUSH, {})};
  std::vector<OpResult> results;
  EXPECT_FALSE(l1_.tier->execute(ops, results));  // even sent directly, the Tier refuses it
  EXPECT_EQ(ops[0].status, STRATA_ERR_INVALID);
  EXPECT_EQ(l1_.count(STRATA_TIER_FLUSH), 0);
  EXPECT_EQ(l2_.count(STRATA_TIER_FLUSH), 0);
  EXPECT_EQ(l1_.lookup("k"), "v");
  EXPECT_EQ(l2_.lookup("k"), "v");
}

// Issue 11: SCAN (strata warm) goes only to a durable tier that declares STRATA_TIER_SCANNABLE;
// the fake does not, so the Warmer refuses it and the Tier never sends it (redis_l2's scan:
// tests/redis_l2/scan_test.cpp, the warm itself: tests/cli/warm_test.cpp).
TEST_F(ChainOpsTest, Issue11ScanIsNeverSentToATierWithoutTheFlag) {
  EXPECT_FALSE(l2_.tier->scannable());
  auto w = Warmer::create(l2_.tier.get(), {l1_.tier.get()}, WarmSettings{});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error(), l2_.tier->name() +
                           " cannot be scanned (its module does not declare STRATA_TIER_SCANNABLE)");
  auto backwards = Warmer::create(l1_.tier.get(), {l2_.tier.get()}, WarmSettings{});
  EXPECT_EQ(backwards.error(), l1_.tier->name() + " is not a durable tier");
  std::vector<strata_tier_op> ops{make_op(STRATA_TIER_SCAN, {})};
  std::vector<OpResult> results;
  EXPECT_FALSE(l2_.tier->execute(ops, results));
  EXPECT_EQ(ops[0].status, STRATA_ERR_INVALID);
  EXPECT_NE(std::string(ops[0].error).find("does not support SCAN"), std::string::npos)
      << ops[0].error;
  EXPECT_EQ(l2_.count(STRATA_TIER_SCAN), 0);
}

}  // namespace
}  // namespace strata
