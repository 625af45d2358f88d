// The host's chain service as a front sees it, over REAL memcached and redis-server with the
// real memcached_l1 and redis_l2 modules: ops submitted from the test front's own thread, read
// through, single flight, Redis down, done exactly once (also at shutdown).
#include <libmemcached-1.0/memcached.h>
#include <netinet/in.h>

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <thread>

#include "front_fixture.hpp"
#include "metrics/metrics.hpp"

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

// memcached's meta get with the TTL flag: "HD t<seconds>\r\n" (t-1: no expiry), "EN\r\n".
std::string cli_meta_ttl(int port, const std::string& key) {
  int fd = test::connect_loopback(port, 10000);
  if (fd < 0) return "";
  std::string cmd = "mg " + key + " t\r\n", reply;
  if (::write(fd, cmd.data(), cmd.size()) == static_cast<ssize_t>(cmd.size())) {
    char buf[256];
    ssize_t n;
    while (reply.find("\r\n") == std::string::npos && (n = ::read(fd, buf, sizeof buf)) > 0)
      reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

// memcached's "delete KEY": "DELETED\r\n" or "NOT_FOUND\r\n".
std::string cli_test_delete(int port, const std::string& key) {
  int fd = test::connect_loopback(port, 10000);
  if (fd < 0) return "";
  std::string cmd = "delete " + key + "\r\n", reply;
  if (::write(fd, cmd.data(), cmd.size()) == static_cast<ssize_t>(cmd.size())) {
    char buf[256];
    ssize_t n;
    while (reply.find("\r\n") == std::string::npos && (n = ::read(fd, buf, sizeof buf)) > 0)
      reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
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
  // The miss's done runs on a host thread; the L1 hit's on the submitting one (inline_reads).
  EXPECT_EQ(n.inline_dones, 1);
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

// Client flags written through the chain come back from Redis too, and the refill carries them
// into memcached.
TEST_F(FrontChain, ClientFlagsRoundTripThroughRedis) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\n")));
  ASSERT_EQ(call(STRATA_CHAIN_SET, "fl", "v", 0, 0xFFFFFFFEu)->op.status, STRATA_OK);
  ASSERT_EQ(cli_test_delete(memcached_.port(), "fl"), "DELETED\r\n");
  auto got = call(STRATA_CHAIN_GET, "fl");
  EXPECT_STREQ(got->op.result_tier, "tiers.l2");
  EXPECT_EQ(strata::result_value(got->op), "v");
  EXPECT_EQ(got->op.result_flags, 0xFFFFFFFEu);
  auto again = call(STRATA_CHAIN_GET, "fl");
  EXPECT_STREQ(again->op.result_tier, "tiers.l1");
  EXPECT_EQ(again->op.result_flags, 0xFFFFFFFEu);
}

// The durable-only ops on the real redis_l2 (STRATA_TIER_RICH): applied in Redis, and the
// memcached copy dropped so that the next read refills it from there.
TEST_F(FrontChain, RichOpsActOnRedisAndDropTheMemcachedCopy) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\n")));
  ASSERT_EQ(call(STRATA_CHAIN_SET, "n", "10", 0, 0)->op.status, STRATA_OK);
  ASSERT_EQ(memcached_get(memcached_.port(), "n"), "10");
  auto incr = call(STRATA_CHAIN_INCR, "n", "", 0, 0, 5);
  EXPECT_EQ(incr->op.status, STRATA_OK) << incr->op.error;
  EXPECT_EQ(strata::result_value(incr->op), "15");
  release(*incr);
  EXPECT_EQ(redis_.redis_cli("GET n"), "15");
  EXPECT_FALSE(memcached_get(memcached_.port(), "n"));
  auto decr = call(STRATA_CHAIN_DECR, "n", "", 0, 0, 100);
  EXPECT_EQ(strata::result_value(decr->op), "0");  // stops at 0
  release(*decr);

  auto append = call(STRATA_CHAIN_APPEND, "n", "x");
  EXPECT_EQ(append->op.status, STRATA_OK);
  auto prepend = call(STRATA_CHAIN_PREPEND, "n", "<");
  EXPECT_EQ(prepend->op.status, STRATA_OK);
  EXPECT_EQ(redis_.redis_cli("GET n"), "<0x");
  auto bad = call(STRATA_CHAIN_INCR, "n", "", 0, 0, 1);
  EXPECT_EQ(bad->op.status, STRATA_ERR_INVALID);
  EXPECT_NE(std::string(bad->op.error).find("non-numeric value"), std::string::npos)
      << bad->op.error;
  EXPECT_EQ(call(STRATA_CHAIN_REPLACE, "absent", "v")->op.status, STRATA_NOT_STORED);
  EXPECT_EQ(call(STRATA_CHAIN_INCR, "absent", "", 0, 0, 1)->op.status, STRATA_NOT_FOUND);

  // CAS keeps its promise with the token a GET handed out, whichever tier served it.
  auto got = call(STRATA_CHAIN_GET, "n");
  ASSERT_EQ(got->op.status, STRATA_OK);
  const uint64_t token = got->op.result_cas;
  release(*got);
  EXPECT_EQ(call(STRATA_CHAIN_CAS, "n", "late", 0, 0, token + 1)->op.status, STRATA_NOT_STORED);
  EXPECT_EQ(call(STRATA_CHAIN_CAS, "n", "won", 0, 0, token)->op.status, STRATA_OK);
  EXPECT_EQ(redis_.redis_cli("GET n"), "won");
  EXPECT_EQ(call(STRATA_CHAIN_CAS, "n", "again", 0, 0, token)->op.status, STRATA_NOT_STORED);
  auto after = call(STRATA_CHAIN_GET, "n");
  EXPECT_EQ(strata::result_value(after->op), "won");
  EXPECT_STREQ(after->op.result_tier, "tiers.l2");  // the copy was dropped, then refilled
  release(*after);
  EXPECT_EQ(memcached_get(memcached_.port(), "n"), "won");
}

TEST_F(FrontChain, TouchAndGatSetTheTtlInBothTiers) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\n")));
  ASSERT_EQ(call(STRATA_CHAIN_SET, "t", "v", -1, 0)->op.status, STRATA_OK);
  ASSERT_EQ(redis_.redis_cli("PTTL t"), "-1");
  EXPECT_EQ(call(STRATA_CHAIN_TOUCH, "t", "", 60000)->op.status, STRATA_OK);
  long pttl = std::stol(redis_.redis_cli("PTTL t"));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 60000);
  std::string mg = cli_meta_ttl(memcached_.port(), "t");
  EXPECT_EQ(mg.rfind("HD t", 0), 0u) << mg;
  EXPECT_NE(mg, "HD t-1\r\n") << mg;
  EXPECT_EQ(call(STRATA_CHAIN_TOUCH, "absent", "", 60000)->op.status, STRATA_NOT_FOUND);

  auto gat = call(STRATA_CHAIN_GET, "t", "", 600000);
  EXPECT_EQ(gat->op.status, STRATA_OK) << gat->op.error;
  EXPECT_EQ(strata::result_value(gat->op), "v");
  release(*gat);
  EXPECT_GT(std::stol(redis_.redis_cli("PTTL t")), 60000);
  auto gat_missing = call(STRATA_CHAIN_GET, "absent", "", 600000);
  EXPECT_EQ(gat_missing->op.status, STRATA_NOT_FOUND);
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

// Plain reads queued from several submits share one batched memcached read; each key still
// gets its own answer (a multi-get submit, an empty key, a key only in Redis, a missing one).
// (inline_reads = false: with it, the blocker, an L1 hit, would be answered and held on the
// test front's submitting thread.)
TEST_F(FrontChain, QueuedReadsShareOneMemcachedRead) {
  ASSERT_TRUE(start_runtime(
      config("tiers = [\"l1\", \"l2\"]\nchain_threads = 1\ninline_reads = false\n")));
  for (const char* k : {"a", "b", "c"})
    ASSERT_EQ(call(STRATA_CHAIN_SET, k, std::string("v") + k, 0, 0)->op.status, STRATA_OK);
  ASSERT_EQ(redis_.redis_cli("SET only-redis r"), "OK");
  Series* l1_batches =
      MetricsRegistry::global().find("strata_tier_latency_seconds", "tier=\"tiers.l1\"");
  ASSERT_NE(l1_batches, nullptr);

  ctl_.hold_next_done();  // the only chain thread waits in this done; the rest queue up
  auto blocker = std::make_unique<Call>();
  blocker->key = "a";
  blocker->op = strata::chain_op(STRATA_CHAIN_GET, blocker->key);
  void* p0 = ctl_.pending_new();
  pendings_.push_back(p0);
  ASSERT_EQ(ctl_.submit(front_inst(), &blocker->op, 1, p0), STRATA_OK);
  ASSERT_EQ(ctl_.wait_held(30000), 1);

  std::string ka = "a", kb = "b", kc = "c", kr = "only-redis", km = "missing", ke;
  strata_chain_op one[1] = {strata::chain_op(STRATA_CHAIN_GET, ka)};
  strata_chain_op two[1] = {strata::chain_op(STRATA_CHAIN_GET, kb)};
  strata_chain_op many[4] = {
      strata::chain_op(STRATA_CHAIN_GET, kc), strata::chain_op(STRATA_CHAIN_GET, kr),
      strata::chain_op(STRATA_CHAIN_GET, km), strata::chain_op(STRATA_CHAIN_GET, ke)};
  std::vector<void*> ps;
  for (auto [ops, n] : {std::pair{one, 1}, std::pair{two, 1}, std::pair{many, 4}}) {
    ps.push_back(ctl_.pending_new());
    pendings_.push_back(ps.back());
    ASSERT_EQ(ctl_.submit(front_inst(), ops, static_cast<size_t>(n), ps.back()), STRATA_OK);
  }
  const uint64_t before = l1_batches->count();
  ctl_.release_held();
  for (void* p : ps) ASSERT_EQ(ctl_.wait(p, 30000), 1);
  // One batch for a, b, c, only-redis and missing; then the two misses' read path together
  // (L1 again, single flight, L2, the refill of only-redis): 1 + 1 + 1 L1 batches.
  EXPECT_EQ(l1_batches->count() - before, 3u);
  EXPECT_EQ(strata::result_value(one[0]), "va");
  EXPECT_EQ(strata::result_value(two[0]), "vb");
  EXPECT_EQ(strata::result_value(many[0]), "vc");
  EXPECT_STREQ(many[0].result_tier, "tiers.l1");
  EXPECT_EQ(strata::result_value(many[1]), "r");
  EXPECT_STREQ(many[1].result_tier, "tiers.l2");
  EXPECT_EQ(many[2].status, STRATA_NOT_FOUND);
  EXPECT_EQ(many[3].status, STRATA_ERR_BAD_KEY);
  for (void* p : ps) EXPECT_EQ(ctl_.pending_dones(p), 1);
  ctl_.release(front_inst(), one, 1);
  ctl_.release(front_inst(), two, 1);
  ctl_.release(front_inst(), many, 4);
  ctl_.release(front_inst(), &blocker->op, 1);
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

// inline_reads (the default): a submit of gets that L1 answers entirely is done on the
// submitting thread before submit returns, in one L1 batch; a submit with misses reads L1 on
// the submitting thread too, and only the misses go to a chain thread (L2, refill).
TEST_F(FrontChain, InlineReadsAnswerL1HitsOnTheSubmittingThread) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\n")));
  for (const char* k : {"a", "b"})
    ASSERT_EQ(call(STRATA_CHAIN_SET, k, std::string("v") + k, 0, 7)->op.status, STRATA_OK);
  ASSERT_EQ(redis_.redis_cli("SET only-redis r"), "OK");
  Series* l1_batches =
      MetricsRegistry::global().find("strata_tier_latency_seconds", "tier=\"tiers.l1\"");
  ASSERT_NE(l1_batches, nullptr);
  const long inline_before = counts().inline_dones;

  std::string ka = "a", kb = "b", kr = "only-redis", km = "missing", ke;
  strata_chain_op hits[2] = {strata::chain_op(STRATA_CHAIN_GET, ka),
                             strata::chain_op(STRATA_CHAIN_GET, kb)};
  void* p1 = ctl_.pending_new();
  pendings_.push_back(p1);
  uint64_t before = l1_batches->count();
  ASSERT_EQ(ctl_.submit(front_inst(), hits, 2, p1), STRATA_OK);
  ASSERT_EQ(ctl_.wait(p1, 30000), 1);
  EXPECT_EQ(counts().inline_dones, inline_before + 1);  // done before submit returned
  EXPECT_EQ(l1_batches->count() - before, 1u);
  EXPECT_EQ(strata::result_value(hits[0]), "va");
  EXPECT_EQ(strata::result_value(hits[1]), "vb");
  EXPECT_STREQ(hits[1].result_tier, "tiers.l1");
  EXPECT_EQ(hits[1].result_flags, 7u);
  EXPECT_EQ(hits[1].result_cas, strata_cas_token("vb", 2));

  strata_chain_op mixed[4] = {
      strata::chain_op(STRATA_CHAIN_GET, ka), strata::chain_op(STRATA_CHAIN_GET, kr),
      strata::chain_op(STRATA_CHAIN_GET, km), strata::chain_op(STRATA_CHAIN_GET, ke)};
  void* p2 = ctl_.pending_new();
  pendings_.push_back(p2);
  ASSERT_EQ(redis_.redis_cli("CONFIG RESETSTAT"), "OK");
  ASSERT_EQ(ctl_.submit(front_inst(), mixed, 4, p2), STRATA_OK);
  ASSERT_EQ(ctl_.wait(p2, 30000), 1);
  EXPECT_EQ(counts().inline_dones, inline_before + 1);  // the misses' done: a chain thread
  EXPECT_EQ(ctl_.pending_dones(p2), 1);
  EXPECT_EQ(strata::result_value(mixed[0]), "va");
  EXPECT_STREQ(mixed[0].result_tier, "tiers.l1");
  EXPECT_EQ(strata::result_value(mixed[1]), "r");
  EXPECT_STREQ(mixed[1].result_tier, "tiers.l2");
  EXPECT_EQ(mixed[2].status, STRATA_NOT_FOUND);
  EXPECT_EQ(mixed[3].status, STRATA_ERR_BAD_KEY);
  EXPECT_EQ(redis_calls(redis_, "get"), 2);  // only-redis and missing, once each
  EXPECT_EQ(memcached_get(memcached_.port(), "only-redis"), std::optional<std::string>("r"));
  ctl_.release(front_inst(), hits, 2);
  ctl_.release(front_inst(), mixed, 4);

  // Writes and gat never run inline: they take a chain thread.
  auto w = call(STRATA_CHAIN_SET, "c", "vc", 0, 0);
  EXPECT_EQ(w->op.status, STRATA_OK);
  auto gat = call(STRATA_CHAIN_GET, "c", "", 60000);
  EXPECT_EQ(strata::result_value(gat->op), "vc");
  EXPECT_EQ(counts().inline_dones, inline_before + 1);
}

// Issue 8 leftover: the misses of one submit reach Redis as one batch (pipelined), not one
// round trip per key; a key listed twice is read once (single flight within the batch).
TEST_F(FrontChain, Issue8MissesOfOneSubmitAreOneRedisBatch) {
  ASSERT_TRUE(start_runtime(config("tiers = [\"l1\", \"l2\"]\n")));
  Series* l2_batches =
      MetricsRegistry::global().find("strata_tier_latency_seconds", "tier=\"tiers.l2\"");
  ASSERT_NE(l2_batches, nullptr);
  std::vector<std::string> keys = {"r1", "r2", "r3", "r4", "absent", "r1"};
  for (int i = 1; i <= 4; ++i)
    ASSERT_EQ(redis_.redis_cli("SET r" + std::to_string(i) + " v" + std::to_string(i)), "OK");
  ASSERT_EQ(redis_.redis_cli("CONFIG RESETSTAT"), "OK");
  std::vector<strata_chain_op> ops;
  for (const std::string& k : keys) ops.push_back(strata::chain_op(STRATA_CHAIN_GET, k));
  void* p = ctl_.pending_new();
  pendings_.push_back(p);
  const uint64_t before = l2_batches->count();
  ASSERT_EQ(ctl_.submit(front_inst(), ops.data(), ops.size(), p), STRATA_OK);
  ASSERT_EQ(ctl_.wait(p, 30000), 1);
  EXPECT_EQ(l2_batches->count() - before, 1u);
  EXPECT_EQ(redis_calls(redis_, "get"), 5);  // r1 once
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(strata::result_value(ops[i]), "v" + std::to_string(i + 1)) << keys[i];
    EXPECT_STREQ(ops[i].result_tier, "tiers.l2");
    EXPECT_EQ(memcached_get(memcached_.port(), keys[i]),
              std::optional<std::string>("v" + std::to_string(i + 1)));  // refilled
  }
  EXPECT_EQ(ops[4].status, STRATA_NOT_FOUND);
  EXPECT_EQ(strata::result_value(ops[5]), "v1");
  ctl_.release(front_inst(), ops.data(), ops.size());
}

TEST_F(FrontChain, InlineReadsOffHandsEveryGetToAChainThread) {
  ASSERT_TRUE(
      start_runtime(config("tiers = [\"l1\", \"l2\"]\ninline_reads = false\n")));
  ASSERT_EQ(call(STRATA_CHAIN_SET, "a", "va", 0, 0)->op.status, STRATA_OK);
  const long inline_before = counts().inline_dones;
  auto hit = call(STRATA_CHAIN_GET, "a");
  EXPECT_EQ(strata::result_value(hit->op), "va");
  EXPECT_STREQ(hit->op.result_tier, "tiers.l1");
  EXPECT_EQ(counts().inline_dones, inline_before);
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
