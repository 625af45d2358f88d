// The host's chain service as a front sees it, over REAL memcached and redis-server with the
// real memcached_l1 and redis_l2 modules: ops submitted from the test front's own thread, read
// through, single flight, Redis down, done exactly once (also at shutdown).
#include <libmemcached-1.0/memcached.h>
#include <netinet/in.h>

#include <cstdlib>
#include <optional>
#include <thread>

#include "front_fixture.hpp"

namespace strata::front_test {
namespace {

// What any other application would see in memcached.
std::optional<std::string> memcached_get(int port, const std::string& key) {
  memcached_st* mc = memcached_create(nullptr);
  memcached_server_add(mc, "127.0.0.1", static_cast<in_port_t>(port));
  size_t len = 0;
  uint32_t flags = 0;
  memcached_return_t rc;
  char* v = memcached_get(mc, key.data(), key.size(), &len, &flags, &rc);
  std::optional<std::string> out;
  if (v) {
    out = std::string(v, len);
    free(v);
  } else if (rc == MEMCACHED_SUCCESS) {
    out = std::string();
  }
  memcached_free(mc);
  return out;
}

class FrontChain : public FrontFixture {};

TEST_F(FrontChain, KeyOnlyInRedisIsServedThenFoundInMemcached) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\n")));
  ASSERT_EQ(redis_.redis_cli("SET user:1 hello"), "OK");
  ASSERT_FALSE(memcached_get(memcached_.port(), "user:1"));

  auto c = call(STRATA_CHAIN_GET, "user:1");
  EXPECT_EQ(c->op.status, STRATA_OK) << c->op.error;
  EXPECT_EQ(strata::result_value(c->op), "hello");
  ASSERT_NE(c->op.result_tier, nullptr);
  EXPECT_STREQ(c->op.result_tier, "tiers.l2");
  EXPECT_EQ(c->op.result_cas, strata_cas_token("hello", 5));
  EXPECT_EQ(c->op.result_stale, 0);
  release(*c);
  EXPECT_EQ(c->op.result_value.data, nullptr);

  EXPECT_EQ(memcached_get(memcached_.port(), "user:1"), "hello");  // refilled
  auto again = call(STRATA_CHAIN_GET, "user:1");
  EXPECT_STREQ(again->op.result_tier, "tiers.l1");
  EXPECT_EQ(again->op.result_cas, c->op.result_cas);  // the token follows the value
  release(*again);
  Counts n = counts();
  EXPECT_EQ(n.accepted, 2);
  EXPECT_EQ(n.done, 2);
  EXPECT_EQ(n.duplicates, 0);
  EXPECT_EQ(n.inline_dones, 0);  // chain_threads = 4: done runs on a host thread
}

TEST_F(FrontChain, ConcurrentGetsOfOneMissingKeyMakeOneRedisGet) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\n")));
  ASSERT_EQ(redis_.redis_cli("SET hot v"), "OK");
  ASSERT_EQ(redis_.redis_cli("CONFIG RESETSTAT"), "OK");
  constexpr int kGets = 200;
  std::vector<std::unique_ptr<Call>> calls;
  std::vector<void*> pending;
  for (int i = 0; i < kGets; ++i) {
    auto c = std::make_unique<Call>();
    c->key = "hot";
    c->op = strata::chain_op(STRATA_CHAIN_GET, c->key);
    void* p = ctl_.pending_new();
    pendings_.push_back(p);
    ASSERT_EQ(ctl_.submit(front_inst(), &c->op, 1, p), STRATA_OK);
    pending.push_back(p);
    calls.push_back(std::move(c));
  }
  ASSERT_EQ(ctl_.wait_dones(kGets, 30000), 1);
  for (int i = 0; i < kGets; ++i) {
    EXPECT_EQ(ctl_.pending_dones(pending[i]), 1);
    EXPECT_EQ(calls[i]->op.status, STRATA_OK) << calls[i]->op.error;
    EXPECT_EQ(strata::result_value(calls[i]->op), "v");
    release(*calls[i]);
  }
  EXPECT_EQ(redis_calls(redis_, "get"), 1);
}

TEST_F(FrontChain, RedisStoppedL1HitsServedMissesFailWithoutHanging) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\n")));
  auto set = call(STRATA_CHAIN_SET, "warm", "w", 0, 0);
  ASSERT_EQ(set->op.status, STRATA_OK) << set->op.error;
  redis_.stop();

  auto hit = call(STRATA_CHAIN_GET, "warm");
  EXPECT_EQ(hit->op.status, STRATA_OK) << hit->op.error;
  EXPECT_EQ(strata::result_value(hit->op), "w");
  EXPECT_STREQ(hit->op.result_tier, "tiers.l1");
  release(*hit);
  // Each miss answers with an error (call() waits at most 30 s for the done); once the
  // breaker opens, the misses do not even reach Redis.
  for (int i = 0; i < 8; ++i) {
    auto miss = call(STRATA_CHAIN_GET, "cold" + std::to_string(i));
    EXPECT_TRUE(miss->op.status == STRATA_ERR_UNAVAILABLE ||
                miss->op.status == STRATA_ERR_BREAKER_OPEN)
        << miss->op.status << " " << miss->op.error;
    EXPECT_NE(std::string(miss->op.error).find("tiers.l2"), std::string::npos)
        << miss->op.error;
  }
  auto last = call(STRATA_CHAIN_GET, "cold-last");
  EXPECT_EQ(last->op.status, STRATA_ERR_BREAKER_OPEN) << last->op.error;
  auto still = call(STRATA_CHAIN_GET, "warm");
  EXPECT_EQ(still->op.status, STRATA_OK);
  EXPECT_EQ(still->op.result_stale, 1);  // served by L1 while the durable tier is down
  release(*still);
}

TEST_F(FrontChain, WritesKeepFlagsAndOrderWithinASubmit) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\n")));
  // One submit: set, get, delete, get of one key run in array order.
  std::string key = "ordered", v1 = "one";
  strata_chain_op ops[4] = {
      strata::chain_op(STRATA_CHAIN_SET, key, v1, 0, 77), strata::chain_op(STRATA_CHAIN_GET, key),
      strata::chain_op(STRATA_CHAIN_DELETE, key), strata::chain_op(STRATA_CHAIN_GET, key)};
  void* p = ctl_.pending_new();
  pendings_.push_back(p);
  ASSERT_EQ(ctl_.submit(front_inst(), ops, 4, p), STRATA_OK);
  ASSERT_EQ(ctl_.wait(p, 30000), 1);
  EXPECT_EQ(ops[0].status, STRATA_OK);
  EXPECT_EQ(ops[1].status, STRATA_OK);
  EXPECT_EQ(strata::result_value(ops[1]), "one");
  EXPECT_EQ(ops[1].result_flags, 77u);  // memcached_l1 keeps client flags
  EXPECT_EQ(ops[2].status, STRATA_OK);
  EXPECT_EQ(ops[3].status, STRATA_NOT_FOUND);
  ctl_.release(front_inst(), ops, 4);

  auto del = call(STRATA_CHAIN_DELETE, "ordered");
  EXPECT_EQ(del->op.status, STRATA_NOT_FOUND);
  auto add = call(STRATA_CHAIN_ADD, "added", "a", 0, 0);
  EXPECT_EQ(add->op.status, STRATA_OK) << add->op.error;
  auto add2 = call(STRATA_CHAIN_ADD, "added", "b", 0, 0);
  EXPECT_EQ(add2->op.status, STRATA_NOT_STORED);
  EXPECT_EQ(redis_.redis_cli("GET added"), "a");
  EXPECT_EQ(memcached_get(memcached_.port(), "added"), "a");
  auto reserved = call(STRATA_CHAIN_SET, "neg", "x", 0, STRATA_ITEM_NEGATIVE);
  EXPECT_EQ(reserved->op.status, STRATA_ERR_INVALID);
}

TEST_F(FrontChain, DoneExactlyOnceIncludingQueuedSubmitsAtShutdown) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\nchain_threads = 1\n")));
  // The first done blocks the only chain thread, so everything after it stays queued.
  ctl_.hold_next_done();
  auto first = std::make_unique<Call>();
  first->key = "k0";
  first->op = strata::chain_op(STRATA_CHAIN_GET, first->key);
  void* p0 = ctl_.pending_new();
  pendings_.push_back(p0);
  ASSERT_EQ(ctl_.submit(front_inst(), &first->op, 1, p0), STRATA_OK);
  ASSERT_EQ(ctl_.wait_held(30000), 1);
  constexpr int kQueued = 20;
  std::vector<std::unique_ptr<Call>> queued;
  std::vector<void*> pending;
  for (int i = 0; i < kQueued; ++i) {
    auto c = std::make_unique<Call>();
    c->key = "q" + std::to_string(i);
    c->op = strata::chain_op(STRATA_CHAIN_GET, c->key);
    void* p = ctl_.pending_new();
    pendings_.push_back(p);
    ASSERT_EQ(ctl_.submit(front_inst(), &c->op, 1, p), STRATA_OK);
    pending.push_back(p);
    queued.push_back(std::move(c));
  }
  // Shut down on another thread: the front stops, then the queued submits are answered.
  std::thread stopper([&] { rt_->stop(); });
  EXPECT_EQ(ctl_.wait_dones(1 + kQueued, 30000), 1);
  ctl_.release_held();
  stopper.join();
  for (int i = 0; i < kQueued; ++i) {
    EXPECT_EQ(ctl_.pending_dones(pending[i]), 1);
    EXPECT_EQ(queued[i]->op.status, STRATA_ERR_UNAVAILABLE);
    EXPECT_STREQ(queued[i]->op.error, "shutting down");
  }
  EXPECT_EQ(ctl_.pending_dones(p0), 1);
  EXPECT_EQ(first->op.status, STRATA_NOT_FOUND);
  stop_runtime();
  Counts n = counts();
  EXPECT_EQ(n.accepted, 1 + kQueued);
  EXPECT_EQ(n.done, 1 + kQueued);
  EXPECT_EQ(n.duplicates, 0);
}

TEST_F(FrontChain, InlineChainRunsOnTheSubmittingThread) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\nchain_threads = 0\n")));
  auto c = call(STRATA_CHAIN_SET, "k", "v", 0, 0);
  EXPECT_EQ(c->op.status, STRATA_OK);
  Counts n = counts();
  EXPECT_EQ(n.inline_dones, 1);
  stop_runtime();
  EXPECT_EQ(counts().done, 1);
}

TEST_F(FrontChain, SharesAPipelinesChain) {
  const std::string toml = config("pipeline = \"latest\"\n",
                                  "[sources.in]\nmodule = \"kafka_source\"\nbrokers = \"mock\"\n"
                                  "topics = [\"t\"]\n\n[pipelines.latest]\nsource = \"in\"\n"
                                  "tiers = [\"l1\", \"l2\"]\n");
  ASSERT_TRUE(start_runtime(toml));
  ASSERT_EQ(redis_.redis_cli("SET shared yes"), "OK");
  auto c = call(STRATA_CHAIN_GET, "shared");
  EXPECT_EQ(c->op.status, STRATA_OK) << c->op.error;
  EXPECT_EQ(strata::result_value(c->op), "yes");
  release(*c);
  TierChain* pipeline_chain = rt_->chain("latest").value();
  EXPECT_EQ(pipeline_chain->get("shared").tier, "tiers.l1");
}

}  // namespace
}  // namespace strata::front_test
