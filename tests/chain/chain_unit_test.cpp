// Unit tests of the tier chain: the circuit breaker's state machine, and TierChain logic over
// two counting in-memory fake tier modules (tests/chain/fakes), loaded through the real loader.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <toml++/toml.h>
#include <atomic>
#include <chrono>
#include <thread>

#include "chain/breaker.hpp"
#include "chain/tier.hpp"
#include "chain/tier_chain.hpp"
#include "config/config.hpp"
#include "fake_tiers.hpp"
#include "loader/loader.hpp"
#include "metrics/metrics.hpp"

namespace strata {
namespace {

using State = CircuitBreaker::State;
using namespace chain_test;

// ------------------------------------------------------------------------------------------
// Breaker

struct FakeClock {
  int64_t now = 1000;
  CircuitBreaker::Clock fn() {
    return [this] { return now; };
  }
};

TEST(BreakerTest, OpensAfterThresholdConsecutiveFailures) {
  FakeClock clock;
  CircuitBreaker b({3, 500, 1}, clock.fn());
  EXPECT_EQ(b.state(), State::Closed);
  b.record_failure();
  b.record_failure();
  b.record_success();  // resets the run of failures
  b.record_failure();
  b.record_failure();
  EXPECT_EQ(b.state(), State::Closed);
  EXPECT_TRUE(b.allow());
  b.record_failure();
  EXPECT_EQ(b.state(), State::Open);
  EXPECT_FALSE(b.allow());
  EXPECT_EQ(b.opens(), 1u);
  EXPECT_EQ(b.retry_in_ms(), 500);
}

TEST(BreakerTest, HalfOpenAfterIntervalLetsOneProbeThroughAndClosesOnSuccess) {
  FakeClock clock;
  CircuitBreaker b({1, 500, 1}, clock.fn());
  b.record_failure();
  ASSERT_EQ(b.state(), State::Open);
  clock.now += 499;
  EXPECT_FALSE(b.allow());
  EXPECT_EQ(b.retry_in_ms(), 1);
  clock.now += 1;
  EXPECT_TRUE(b.allow());  // the probe
  EXPECT_EQ(b.state(), State::HalfOpen);
  EXPECT_FALSE(b.allow());  // only one probe in flight
  b.record_success();
  EXPECT_EQ(b.state(), State::Closed);
  EXPECT_TRUE(b.allow());
  EXPECT_TRUE(b.allow());
}

TEST(BreakerTest, FailedProbeReopens) {
  FakeClock clock;
  CircuitBreaker b({2, 100, 1}, clock.fn());
  b.record_failure();
  b.record_failure();
  clock.now += 100;
  ASSERT_TRUE(b.allow());
  b.record_failure();
  EXPECT_EQ(b.state(), State::Open);
  EXPECT_EQ(b.opens(), 2u);
  EXPECT_FALSE(b.allow());
  clock.now += 100;
  EXPECT_TRUE(b.allow());
}

TEST(BreakerTest, NeedsEveryProbeToSucceed) {
  FakeClock clock;
  CircuitBreaker b({1, 10, 2}, clock.fn());
  b.record_failure();
  clock.now += 10;
  ASSERT_TRUE(b.allow());
  ASSERT_TRUE(b.allow());
  EXPECT_FALSE(b.allow());
  b.record_success();
  EXPECT_EQ(b.state(), State::HalfOpen);
  b.record_success();
  EXPECT_EQ(b.state(), State::Closed);
}

TEST(BreakerTest, ListenerSeesEveryTransition) {
  FakeClock clock;
  CircuitBreaker b({1, 10, 1}, clock.fn());
  std::vector<std::pair<State, State>> seen;
  b.set_listener([&](State from, State to) { seen.emplace_back(from, to); });
  b.record_failure();
  clock.now += 10;
  ASSERT_TRUE(b.allow());
  b.record_success();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_pair(State::Closed, State::Open));
  EXPECT_EQ(seen[1], std::make_pair(State::Open, State::HalfOpen));
  EXPECT_EQ(seen[2], std::make_pair(State::HalfOpen, State::Closed));
  EXPECT_STREQ(CircuitBreaker::name(State::HalfOpen), "half-open");
}

TEST(BreakerTest, RealClockReopensForProbeAfterInterval) {
  CircuitBreaker b({1, 20, 1});
  b.record_failure();
  EXPECT_FALSE(b.allow());
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  EXPECT_TRUE(b.allow());
}

// ------------------------------------------------------------------------------------------
// Chain over fake tiers

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override { build({}); }

  // Rebuilds both tiers and the chain (fresh fakes, fresh metric labels).
  void build(ChainSettings settings, BreakerSettings breaker = {2, 60000, 1},
             const std::string& l1_module = "fake_volatile_tier",
             const std::string& l2_module = "fake_durable_tier") {
    chain_.reset();
    const std::string suffix = unique_suffix();
    l1_ = make_fake(l1_module, "tiers.l1_" + suffix, breaker);
    l2_ = make_fake(l2_module, "tiers.l2_" + suffix, breaker);
    ASSERT_TRUE(l1_.tier && l2_.tier);
    chain_ =
        std::make_unique<TierChain>(std::vector<Tier*>{l1_.tier.get(), l2_.tier.get()}, settings);
  }

  double metric(const char* name, const FakeTier& t) {
    Series* s = MetricsRegistry::global().find(name, "tier=\"" + t.tier->name() + "\"");
    return s ? s->value() : -1;
  }
  // strata_tier_breaker_state{tier,state}: exactly one of the three is 1 (issue 11).
  std::string breaker_state(const FakeTier& t) {
    std::string current;
    for (const char* state : {"closed", "open", "half_open"}) {
      Series* s = MetricsRegistry::global().find(
          "strata_tier_breaker_state", "tier=\"" + t.tier->name() + "\",state=\"" + state + "\"");
      if (!s) return std::string("no series for ") + state;
      if (s->value() == 1)
        current += (current.empty() ? "" : "+") + std::string(state);
      else if (s->value() != 0)
        return std::string("bad value for ") + state;
    }
    return current;
  }

  FakeTier l1_, l2_;
  std::unique_ptr<TierChain> chain_;
};

TEST_F(ChainTest, TierReportsFlagsAndName) {
  EXPECT_FALSE(l1_.tier->durable());
  EXPECT_TRUE(l2_.tier->durable());
  EXPECT_EQ(l1_.tier->name().rfind("tiers.l1_", 0), 0u);
  EXPECT_TRUE(l2_.tier->health());
  l2_.down(true);
  EXPECT_FALSE(l2_.tier->health());
}

TEST_F(ChainTest, L1HitDoesNotTouchL2) {
  l1_.put("k", "v1");
  GetResult r = chain_->get("k");
  EXPECT_EQ(r.status, STRATA_OK);
  EXPECT_EQ(r.value, "v1");
  EXPECT_EQ(r.tier, l1_.tier->name());
  EXPECT_FALSE(r.stale);
  EXPECT_EQ(l2_.count(STRATA_TIER_GET), 0);
  EXPECT_EQ(metric("strata_tier_hits_total", l1_), 1);
}

TEST_F(ChainTest, MissReadsThroughAndRefillsL1WithAddAndDefaultTtl) {
  l2_.put("k", "from-l2");
  GetResult r = chain_->get("k");
  EXPECT_EQ(r.status, STRATA_OK);
  EXPECT_EQ(r.value, "from-l2");
  EXPECT_EQ(r.tier, l2_.tier->name());
  EXPECT_EQ(l1_.count(STRATA_TIER_ADD), 1);
  EXPECT_EQ(l1_.count(STRATA_TIER_SET), 0);
  int64_t ttl = -1;
  EXPECT_EQ(l1_.lookup("k", nullptr, &ttl), "from-l2");
  EXPECT_EQ(ttl, 0);  // the tier's own default TTL

  r = chain_->get("k");
  EXPECT_EQ(r.tier, l1_.tier->name());
  EXPECT_EQ(l2_.count(STRATA_TIER_GET), 1);
  EXPECT_EQ(metric("strata_tier_refills_total", l1_), 1);
  EXPECT_EQ(metric("strata_tier_misses_total", l1_), 1);
  EXPECT_EQ(metric("strata_tier_hits_total", l2_), 1);
}

// A value that expires in L2 must not outlive that in L1: the refill's TTL ends 2 s (the
// rounding and clock tick of second-resolution tiers such as memcached) before L2's.
TEST_F(ChainTest, RefillTtlEndsBeforeTheDurableCopyExpires) {
  l2_.put("k", "short");
  l2_.remaining_ttl("k", 9500);
  EXPECT_EQ(chain_->get("k").value, "short");
  int64_t ttl = 0;
  EXPECT_EQ(l1_.lookup("k", nullptr, &ttl), "short");
  EXPECT_EQ(ttl, 7500);
}

TEST_F(ChainTest, NoRefillForAValueAboutToExpire) {
  l2_.put("k", "dying");
  l2_.remaining_ttl("k", 2000);
  GetResult r = chain_->get("k");
  EXPECT_EQ(r.status, STRATA_OK);
  EXPECT_EQ(r.value, "dying");
  EXPECT_EQ(r.tier, l2_.tier->name());
  EXPECT_EQ(l1_.count(STRATA_TIER_ADD), 0);
  EXPECT_FALSE(l1_.lookup("k"));
  // The next read goes to L2 again (which expires it in time).
  EXPECT_EQ(chain_->get("k").tier, l2_.tier->name());
  EXPECT_EQ(l2_.count(STRATA_TIER_GET), 2);
}

TEST_F(ChainTest, NoExpiryInL2RefillsWithTheDefaultTtl) {
  l2_.put("k", "forever");
  l2_.remaining_ttl("k", -1);
  EXPECT_EQ(chain_->get("k").value, "forever");
  int64_t ttl = -5;
  EXPECT_EQ(l1_.lookup("k", nullptr, &ttl), "forever");
  EXPECT_EQ(ttl, 0);
}

// A tier module built for ABI 1.0 knows the smaller strata_tier_op: the Tier hands it packed
// 1.0-sized ops, and batches of several ops still line up.
TEST_F(ChainTest, Abi10ModuleGetsOpsOfItsOwnSize) {
  build({}, {2, 60000, 1}, "fake_volatile_tier_abi10");
  l1_.put("a", "1");
  l1_.put("b", "2");
  std::vector<std::string> keys = {"a", "b", "c"};
  std::vector<strata_tier_op> ops;
  for (const auto& k : keys) ops.push_back(make_op(STRATA_TIER_GET, k));
  std::vector<OpResult> results;
  EXPECT_TRUE(l1_.tier->execute(ops, results));
  EXPECT_EQ(ops[0].status, STRATA_OK);
  EXPECT_EQ(results[0].value, "1");
  EXPECT_EQ(ops[1].status, STRATA_OK);
  EXPECT_EQ(results[1].value, "2");
  EXPECT_EQ(ops[2].status, STRATA_NOT_FOUND);
  for (const auto& op : ops) {
    EXPECT_EQ(op.struct_size, sizeof(strata_tier_op));
    EXPECT_EQ(op.result_ttl_ms, 0);
  }
  // And the read path works through it.
  l2_.put("k", "v");
  EXPECT_EQ(chain_->get("k").tier, l2_.tier->name());
  EXPECT_EQ(chain_->get("k").tier, l1_.tier->name());
}

TEST_F(ChainTest, LateRefillDoesNotOverwriteNewerWrite) {
  l2_.put("k", "old");
  l2_.ctl.gate(l2_.inst(), 0);  // the L2 GET reads "old", then waits
  std::thread reader([&] {
    GetResult r = chain_->get("k");
    EXPECT_EQ(r.value, "old");
  });
  while (l2_.ctl.waiting(l2_.inst()) == 0) std::this_thread::yield();
  ASSERT_TRUE(chain_->set("k", "new").ok());
  l2_.ctl.gate(l2_.inst(), 1);
  reader.join();
  EXPECT_EQ(l1_.lookup("k"), "new");
  EXPECT_EQ(chain_->get("k").value, "new");
}

// Issue 10: another node writes L2 and its bus deletes the key from this node's L1 (through
// a chain of its own over the same L1 tier) while a read here holds the old value from L2:
// the read's refill must not outlive that delete.
TEST_F(ChainTest, Issue10RefillOfAValueReadBeforeABusDeleteIsDropped) {
  l2_.put("k", "old");
  l2_.ctl.gate(l2_.inst(), 0);  // the L2 GET reads "old", then waits
  std::thread reader([&] { EXPECT_EQ(chain_->get("k").value, "old"); });
  while (l2_.ctl.waiting(l2_.inst()) == 0) std::this_thread::yield();
  l2_.put("k", "new");  // the other node's write
  TierChain bus({l1_.tier.get()}, ChainSettings{});
  EXPECT_EQ(bus.remove("k").status, STRATA_NOT_FOUND);  // L1 has no copy yet
  l2_.ctl.gate(l2_.inst(), 1);
  reader.join();
  EXPECT_FALSE(l1_.lookup("k")) << "the refill of \"old\" survived the bus's delete";
  EXPECT_EQ(chain_->get("k").value, "new");
  EXPECT_EQ(l1_.lookup("k"), "new");  // a read that saw no delete refills as before
}

TEST_F(ChainTest, ConcurrentMissesMakeOneL2Get) {
  l2_.put("hot", "value");
  l2_.ctl.gate(l2_.inst(), 0);
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      GetResult r = chain_->get("hot");
      if (r.status == STRATA_OK && r.value == "value") ++answered;
    });
  }
  // The leader's L2 GET is held; whoever is not yet waiting on it arrives later and must then
  // find the refill in L1, so the count below does not depend on scheduling.
  while (l2_.ctl.waiting(l2_.inst()) == 0) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  l2_.ctl.gate(l2_.inst(), 1);
  for (auto& t : threads) t.join();
  EXPECT_EQ(answered.load(), kThreads);
  EXPECT_EQ(l2_.count(STRATA_TIER_GET), 1);
  EXPECT_EQ(l1_.count(STRATA_TIER_ADD), 1);
}

TEST_F(ChainTest, DifferentKeysDoNotWaitForEachOther) {
  l2_.put("a", "1");
  l2_.put("b", "2");
  l2_.ctl.gate(l2_.inst(), 0);
  std::thread reader_a([&] { EXPECT_EQ(chain_->get("a").value, "1"); });
  while (l2_.ctl.waiting(l2_.inst()) == 0) std::this_thread::yield();
  std::thread reader_b([&] { EXPECT_EQ(chain_->get("b").value, "2"); });
  while (l2_.ctl.waiting(l2_.inst()) < 2) std::this_thread::yield();  // both GETs in L2
  l2_.ctl.gate(l2_.inst(), 1);
  reader_a.join();
  reader_b.join();
  EXPECT_EQ(l2_.count(STRATA_TIER_GET), 2);
}

TEST_F(ChainTest, NoNegativeEntryByDefault) {
  EXPECT_EQ(chain_->get("missing").status, STRATA_NOT_FOUND);
  EXPECT_EQ(l1_.count(STRATA_TIER_ADD), 0);
  EXPECT_EQ(chain_->get("missing").status, STRATA_NOT_FOUND);
  EXPECT_EQ(l2_.count(STRATA_TIER_GET), 2);
}

TEST_F(ChainTest, NegativeEntryAnswersFromL1) {
  build({/*neg_ttl_ms=*/500});
  GetResult r = chain_->get("missing");
  EXPECT_EQ(r.status, STRATA_NOT_FOUND);
  EXPECT_EQ(r.tier, "");
  uint32_t flags = 0;
  int64_t ttl = 0;
  EXPECT_EQ(l1_.lookup("missing", &flags, &ttl), "");
  EXPECT_EQ(flags, STRATA_ITEM_NEGATIVE);
  EXPECT_EQ(ttl, 500);
  EXPECT_EQ(l1_.count(STRATA_TIER_ADD), 1);

  r = chain_->get("missing");
  EXPECT_EQ(r.status, STRATA_NOT_FOUND);
  EXPECT_EQ(r.tier, l1_.tier->name());  // the negative entry answered
  EXPECT_EQ(l2_.count(STRATA_TIER_GET), 1);

  // A write replaces the negative entry.
  ASSERT_TRUE(chain_->set("missing", "now-here").ok());
  EXPECT_EQ(chain_->get("missing").value, "now-here");
}

TEST_F(ChainTest, L1DownIsSkippedWithoutRefillAndItsBreakerOpens) {
  l2_.put("k", "v");
  l1_.down(true);
  for (int i = 0; i < 3; ++i) {
    GetResult r = chain_->get("k");
    EXPECT_EQ(r.status, STRATA_OK);
    EXPECT_EQ(r.tier, l2_.tier->name());
  }
  EXPECT_EQ(l1_.tier->breaker().state(), State::Open);
  EXPECT_EQ(breaker_state(l1_), "open");
  EXPECT_EQ(metric("strata_tier_breaker_opens_total", l1_), 1);
  // Two GETs failed, the third was refused; no refill was attempted on the down tier.
  EXPECT_EQ(metric("strata_tier_errors_total", l1_), 3);
  l1_.down(false);
  EXPECT_EQ(l1_.count(STRATA_TIER_ADD), 0);
}

TEST_F(ChainTest, L2DownServesL1HitsAsStaleAndReportsMisses) {
  l1_.put("cached", "old");
  l2_.down(true);
  GetResult r = chain_->get("uncached");
  EXPECT_EQ(r.status, STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(r.error.find(l2_.tier->name()), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("fake tier is down"), std::string::npos) << r.error;
  r = chain_->get("uncached");
  EXPECT_EQ(r.status, STRATA_ERR_UNAVAILABLE);
  ASSERT_EQ(l2_.tier->breaker().state(), State::Open);

  r = chain_->get("uncached");
  EXPECT_EQ(r.status, STRATA_ERR_BREAKER_OPEN);
  EXPECT_NE(r.error.find("circuit breaker open"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(l2_.tier->name()), std::string::npos) << r.error;

  r = chain_->get("cached");
  EXPECT_EQ(r.status, STRATA_OK);
  EXPECT_EQ(r.value, "old");
  EXPECT_TRUE(r.stale);
}

TEST_F(ChainTest, L2ComesBackThroughHalfOpenProbe) {
  build({}, {1, 0, 1});  // open_ms 0: the next call is a probe
  l2_.put("k", "v");
  l2_.down(true);
  EXPECT_EQ(chain_->get("k").status, STRATA_ERR_UNAVAILABLE);
  EXPECT_EQ(l2_.tier->breaker().state(), State::Open);
  l2_.down(false);
  EXPECT_EQ(chain_->get("k").status, STRATA_OK);
  EXPECT_EQ(l2_.tier->breaker().state(), State::Closed);
  EXPECT_EQ(breaker_state(l2_), "closed");
}

TEST_F(ChainTest, SetWritesDurableTierFirst) {
  std::atomic<uint64_t> seq{0};
  l1_.ctl.use_sequence(l1_.inst(), &seq);
  l2_.ctl.use_sequence(l2_.inst(), &seq);
  ASSERT_TRUE(chain_->set("k", "v", 1500, 7).ok());
  uint64_t l2_set = l2_.ctl.last_seq(l2_.inst(), STRATA_TIER_SET);
  uint64_t l1_set = l1_.ctl.last_seq(l1_.inst(), STRATA_TIER_SET);
  EXPECT_GT(l2_set, 0u);
  EXPECT_GT(l1_set, l2_set);
  int64_t ttl = 0;
  EXPECT_EQ(l1_.lookup("k", nullptr, &ttl), "v");
  EXPECT_EQ(ttl, 1500);
  EXPECT_EQ(l2_.lookup("k"), "v");

  ASSERT_TRUE(chain_->del("k").ok());
  uint64_t l2_del = l2_.ctl.last_seq(l2_.inst(), STRATA_TIER_DELETE);
  uint64_t l1_del = l1_.ctl.last_seq(l1_.inst(), STRATA_TIER_DELETE);
  EXPECT_GT(l2_del, l1_set);
  EXPECT_GT(l1_del, l2_del);
  EXPECT_FALSE(l1_.lookup("k"));
  EXPECT_FALSE(l2_.lookup("k"));
}

TEST_F(ChainTest, SetFailsAndLeavesL1AloneWhenDurableTierFails) {
  l2_.down(true);
  auto r = chain_->set("k", "v");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(l2_.tier->name()), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("fake tier is down"), std::string::npos) << r.error();
  EXPECT_EQ(l1_.count(STRATA_TIER_SET), 0);
  auto d = chain_->del("k");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(l1_.count(STRATA_TIER_DELETE), 0);
}

TEST_F(ChainTest, VolatileFailureIsNotAnError) {
  l1_.down(true);
  EXPECT_TRUE(chain_->set("k", "v").ok());
  EXPECT_EQ(l2_.lookup("k"), "v");
  EXPECT_EQ(metric("strata_tier_errors_total", l1_), 1);
  EXPECT_TRUE(chain_->del("k").ok());
  EXPECT_FALSE(l2_.lookup("k"));
}

TEST_F(ChainTest, OlderVersionDoesNotRollBackEitherTier) {
  ASSERT_TRUE(chain_->set("k", "v5", 0, 5).ok());
  ASSERT_TRUE(chain_->set("k", "v3", 0, 3).ok());  // a replay: superseded, not an error
  EXPECT_EQ(l2_.lookup("k"), "v5");
  EXPECT_EQ(l1_.lookup("k"), "v5");
  EXPECT_EQ(l1_.count(STRATA_TIER_SET), 1);
  ASSERT_TRUE(chain_->del("k", 4).ok());
  EXPECT_EQ(l2_.lookup("k"), "v5");
  EXPECT_EQ(l1_.lookup("k"), "v5");
}

TEST_F(ChainTest, TierExecuteRunsBatchesAndPointsResults) {
  l2_.put("a", "1");
  std::vector<strata_tier_op> ops = {make_op(STRATA_TIER_GET, "a"), make_op(STRATA_TIER_GET, "b"),
                                     make_op(STRATA_TIER_SET, "c", "3", 0, 1)};
  std::vector<OpResult> results;
  ASSERT_TRUE(l2_.tier->execute(ops, results));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(ops[0].status, STRATA_OK);
  EXPECT_EQ(ops[0].host_result, &results[0]);
  EXPECT_EQ(results[0].value, "1");
  EXPECT_EQ(ops[1].status, STRATA_NOT_FOUND);
  EXPECT_EQ(ops[2].status, STRATA_OK);

  l2_.down(true);
  EXPECT_FALSE(l2_.tier->execute(ops, results));
  for (auto& op : ops) EXPECT_EQ(op.status, STRATA_ERR_UNAVAILABLE);
  EXPECT_FALSE(l2_.tier->execute(ops, results));
  EXPECT_FALSE(l2_.tier->execute(ops, results));  // refused by the open breaker
  for (auto& op : ops) EXPECT_EQ(op.status, STRATA_ERR_BREAKER_OPEN);
}

}  // namespace
}  // namespace strata
