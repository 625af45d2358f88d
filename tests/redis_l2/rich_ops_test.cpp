// The memcached front's writes on redis_l2 (issue 8, ABI 1.2 STRATA_TIER_RICH): REPLACE,
// APPEND, PREPEND, INCR, DECR, TOUCH and CAS against a real redis-server, each success and each
// failure status, TTLs read back with PTTL, the uint64 arithmetic of the Lua script at its
// edges, and CAS by strata_cas_token().
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../memcached_l1/counter_cases.hpp"
#include "redis_l2_support.hpp"

namespace strata {
namespace {

class RedisL2Rich : public RedisL2Test {
 protected:
  std::unique_ptr<TierHandle> start_tier(const std::string& extra = "") {
    redis_ = std::make_unique<ServerProcess>(ServerProcess::Kind::Redis);
    if (!redis_->start()) return nullptr;
    return open(addr(*redis_) + extra);
  }
  long long pttl(const std::string& key) {
    return std::atoll(redis_->redis_cli("PTTL '" + key + "'").c_str());
  }
  std::string raw(const std::string& key) { return redis_->redis_cli("GET '" + key + "'"); }
  bool exists(const std::string& key) { return redis_->redis_cli("EXISTS '" + key + "'") == "1"; }

  std::unique_ptr<ServerProcess> redis_;
};

uint64_t token(const std::string& v) { return strata_cas_token(v.data(), v.size()); }

TEST_F(RedisL2Rich, DescriptorDeclaresTheRichOps) {
  auto* hooks = static_cast<const strata_tier_hooks*>(module_->desc->kind_hooks);
  EXPECT_NE(hooks->tier_flags & STRATA_TIER_RICH, 0u);
}

TEST_F(RedisL2Rich, ReplaceStoresOnlyOverAnExistingKeyWithItsTtl) {
  auto tier = start_tier("ttl = \"60s\"\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_REPLACE, "k", "v"), STRATA_NOT_STORED);
  EXPECT_FALSE(exists("k")) << "replace of an absent key must not create it";
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "k", "old", 0, -1), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_REPLACE, "k", "new", 0, 5000), STRATA_OK);
  EXPECT_EQ(raw("k"), "new");
  EXPECT_GT(pttl("k"), 0);
  EXPECT_LE(pttl("k"), 5000);
  EXPECT_EQ(tier->one(STRATA_TIER_REPLACE, "k", "newer", 0, -1), STRATA_OK);
  EXPECT_EQ(pttl("k"), -1);
  EXPECT_EQ(tier->one(STRATA_TIER_REPLACE, "k", "dflt"), STRATA_OK);  // 0: the option's TTL
  EXPECT_GT(pttl("k"), 5000);
  EXPECT_LE(pttl("k"), 60000);
  EXPECT_EQ(tier->get("k"), "dflt");
}

TEST_F(RedisL2Rich, AppendAndPrependNeedTheKeyAndKeepItsTtl) {
  auto tier = start_tier();
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_APPEND, "k", "x"), STRATA_NOT_STORED);
  EXPECT_EQ(tier->one(STRATA_TIER_PREPEND, "k", "x"), STRATA_NOT_STORED);
  EXPECT_FALSE(exists("k"));
  const std::string mid("m\0d", 3), tail("\xff\r\n", 3), head("\x00 h", 3);
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "k", mid, 0, 60000), STRATA_OK);
  // The TTL of the op is ignored (memcached ignores append's exptime): the item keeps its own.
  EXPECT_EQ(tier->one(STRATA_TIER_APPEND, "k", tail, 0, 1000), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_PREPEND, "k", head, 0, -1), STRATA_OK);
  EXPECT_EQ(tier->get("k"), head + mid + tail);
  EXPECT_GT(pttl("k"), 1000);
  EXPECT_LE(pttl("k"), 60000);
  // Empty operands are fine.
  EXPECT_EQ(tier->one(STRATA_TIER_APPEND, "k", ""), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_PREPEND, "k", ""), STRATA_OK);
  EXPECT_EQ(tier->get("k"), head + mid + tail);
}

TEST_F(RedisL2Rich, IncrAndDecrAreUnsigned64BitWithWrapAndFloor) {
  auto tier = start_tier();
  ASSERT_TRUE(tier);
  // memcached's table, and a value of only whitespace (memcached itself reads past the item).
  std::vector<test::CounterCase> cases = test::counter_cases();
  cases.push_back({" ", STRATA_TIER_INCR, 1, ""});
  for (const test::CounterCase& c : cases) {
    SCOPED_TRACE("'" + c.start + "' " + (c.kind == STRATA_TIER_INCR ? "incr " : "decr ") +
                 std::to_string(c.delta));
    ASSERT_EQ(tier->one(STRATA_TIER_SET, "n", c.start), STRATA_OK);
    Batch b;
    b.add(c.kind, "n", "", c.delta);
    ASSERT_EQ(tier->run(b), STRATA_OK);
    if (c.want.empty()) {
      EXPECT_EQ(b.ops[0].status, STRATA_ERR_INVALID);
      EXPECT_STREQ(b.ops[0].error, "non-numeric value");
      EXPECT_EQ(tier->get("n"), c.start) << "a refused counter op leaves the value alone";
    } else {
      EXPECT_EQ(b.ops[0].status, STRATA_OK) << b.ops[0].error;
      ASSERT_TRUE(b.results[0].has_value);
      EXPECT_EQ(b.results[0].value, c.want);
      EXPECT_EQ(raw("n"), c.want);
    }
  }
  EXPECT_EQ(tier->one(STRATA_TIER_INCR, "absent", "", 1), STRATA_NOT_FOUND);
  EXPECT_EQ(tier->one(STRATA_TIER_DECR, "absent", "", 1), STRATA_NOT_FOUND);
  EXPECT_FALSE(exists("absent"));
  // The counter keeps its TTL.
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "t", "1", 0, 60000), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_INCR, "t", "", 1), STRATA_OK);
  EXPECT_GT(pttl("t"), 0);
  EXPECT_LE(pttl("t"), 60000);
  EXPECT_EQ(tier->get("t"), "2");
}

TEST_F(RedisL2Rich, TouchSetsTheTtlOfAnExistingKey) {
  auto tier = start_tier("ttl = \"60s\"\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_TOUCH, "k", "", 0, 5000), STRATA_NOT_FOUND);
  EXPECT_EQ(tier->one(STRATA_TIER_TOUCH, "k", "", 0, -1), STRATA_NOT_FOUND);
  EXPECT_EQ(tier->one(STRATA_TIER_TOUCH, "k", "", 0, 0), STRATA_NOT_FOUND);
  EXPECT_FALSE(exists("k"));
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "k", "v", 0, -1), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_TOUCH, "k", "", 0, 5000), STRATA_OK);
  EXPECT_GT(pttl("k"), 0);
  EXPECT_LE(pttl("k"), 5000);
  EXPECT_EQ(tier->one(STRATA_TIER_TOUCH, "k", "", 0, 0), STRATA_OK);  // the option's TTL
  EXPECT_GT(pttl("k"), 5000);
  EXPECT_LE(pttl("k"), 60000);
  EXPECT_EQ(tier->one(STRATA_TIER_TOUCH, "k", "", 0, -1), STRATA_OK);  // no expiry
  EXPECT_EQ(pttl("k"), -1);
  EXPECT_EQ(tier->one(STRATA_TIER_TOUCH, "k", "", 0, -1), STRATA_OK);  // already none: still OK
  EXPECT_EQ(tier->get("k"), "v");
  // The GET of the tier reports the TTL the touch set.
  EXPECT_EQ(tier->one(STRATA_TIER_TOUCH, "k", "", 0, 30000), STRATA_OK);
  Batch g;
  g.add(STRATA_TIER_GET, "k");
  ASSERT_EQ(tier->run(g), STRATA_OK);
  EXPECT_GT(g.ops[0].result_ttl_ms, 5000);
  EXPECT_LE(g.ops[0].result_ttl_ms, 30000);
}

TEST_F(RedisL2Rich, TouchWithoutADefaultTtlRemovesTheExpiry) {
  auto tier = start_tier();  // ttl = 0: no default expiry
  ASSERT_TRUE(tier);
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "k", "v", 0, 5000), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_TOUCH, "k", "", 0, 0), STRATA_OK);
  EXPECT_EQ(pttl("k"), -1);
}

TEST_F(RedisL2Rich, CasStoresOnlyOverTheValueItsTokenNames) {
  auto tier = start_tier();
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_CAS, "k", "v", token("x")), STRATA_NOT_FOUND);
  EXPECT_FALSE(exists("k"));
  const std::string v1("bin\0\xff\x80", 6), v2("second"), v3("third");
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "k", v1), STRATA_OK);
  std::string msg;
  EXPECT_EQ(tier->one(STRATA_TIER_CAS, "k", v2, token(v1) ^ 1, 0, &msg), STRATA_NOT_STORED);
  EXPECT_NE(msg.find("token"), std::string::npos) << msg;
  EXPECT_EQ(tier->one(STRATA_TIER_CAS, "k", v2, 0), STRATA_NOT_STORED);  // 0 is never a token
  EXPECT_EQ(tier->get("k"), v1);
  EXPECT_EQ(tier->one(STRATA_TIER_CAS, "k", v2, token(v1), 5000), STRATA_OK);
  EXPECT_EQ(tier->get("k"), v2);
  EXPECT_GT(pttl("k"), 0);
  EXPECT_LE(pttl("k"), 5000);
  EXPECT_EQ(tier->one(STRATA_TIER_CAS, "k", v3, token(v1)), STRATA_NOT_STORED);  // stale token
  EXPECT_EQ(tier->one(STRATA_TIER_CAS, "k", v3, token(v2), -1), STRATA_OK);
  EXPECT_EQ(pttl("k"), -1);
  // An empty value has a token too (FNV-1a's offset basis).
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "e", ""), STRATA_OK);
  EXPECT_EQ(token(""), 14695981039346656037ull);
  EXPECT_EQ(tier->one(STRATA_TIER_CAS, "e", "filled", token("")), STRATA_OK);
  EXPECT_EQ(tier->get("e"), "filled");
}

// CAS compares strata_cas_token() of the bytes Redis holds with the op's token: 1000 values of
// random bytes and lengths (fixed seed, up to 1 MiB), each refused with a token one bit off
// and accepted with its own, in one batch.
TEST_F(RedisL2Rich, CasTokenMatchesStrataCasTokenOnRandomValues) {
  auto tier = start_tier();
  ASSERT_TRUE(tier);
  std::mt19937_64 rng(20261201);
  std::vector<std::string> values;
  for (int i = 0; i < 1000; ++i) {
    size_t len = i < 10        ? size_t(i)
                 : i == 10     ? size_t(1) << 20
                 : i % 50 == 0 ? size_t(rng() % 5000)
                               : size_t(rng() % 200);
    std::string v(len, '\0');
    for (auto& c : v) c = static_cast<char>(rng() & 0xff);
    values.push_back(std::move(v));
  }
  Batch b;
  for (size_t i = 0; i < values.size(); ++i) {
    std::string key = "fnv:" + std::to_string(i);
    uint64_t t = token(values[i]);
    b.add(STRATA_TIER_SET, key, values[i]);
    b.add(STRATA_TIER_CAS, key, "wrong", t ^ (1ull << (i % 64)));
    b.add(STRATA_TIER_CAS, key, "ok:" + std::to_string(i), t);
  }
  ASSERT_EQ(tier->run(b), STRATA_OK);
  int mismatches = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(b.ops[3 * i].status, STRATA_OK);
    EXPECT_EQ(b.ops[3 * i + 1].status, STRATA_NOT_STORED) << "value " << i;
    if (b.ops[3 * i + 2].status != STRATA_OK) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(tier->get("fnv:999"), "ok:999");
}

TEST_F(RedisL2Rich, OpsOnOneKeyInOneBatchApplyInArrayOrder) {
  auto tier = start_tier();
  ASSERT_TRUE(tier);
  Batch b;
  b.add(STRATA_TIER_SET, "k", "1");
  b.add(STRATA_TIER_INCR, "k", "", 2);   // 3
  b.add(STRATA_TIER_APPEND, "k", "0");   // 30
  b.add(STRATA_TIER_PREPEND, "k", "1");  // 130
  b.add(STRATA_TIER_DECR, "k", "", 30);  // 100
  b.add(STRATA_TIER_GET, "k");           // 100
  b.add(STRATA_TIER_REPLACE, "k", "x");  // x
  b.add(STRATA_TIER_CAS, "k", "y", token("x"));
  b.add(STRATA_TIER_CAS, "k", "z", token("x"));  // stale now
  b.add(STRATA_TIER_TOUCH, "k", "", 0, 9000);
  b.add(STRATA_TIER_GET, "k");
  b.add(STRATA_TIER_DELETE, "k");
  b.add(STRATA_TIER_REPLACE, "k", "gone");
  b.add(STRATA_TIER_INCR, "k", "", 1);
  b.add(STRATA_TIER_TOUCH, "k", "", 0, 1000);
  b.add(STRATA_TIER_ADD, "k", "5");
  b.add(STRATA_TIER_INCR, "k", "", 1);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  const strata_status want[] = {
      STRATA_OK,         STRATA_OK,        STRATA_OK,         STRATA_OK, STRATA_OK, STRATA_OK,
      STRATA_OK,         STRATA_OK,        STRATA_NOT_STORED, STRATA_OK, STRATA_OK, STRATA_OK,
      STRATA_NOT_STORED, STRATA_NOT_FOUND, STRATA_NOT_FOUND,  STRATA_OK, STRATA_OK};
  ASSERT_EQ(b.ops.size(), std::size(want));
  for (size_t i = 0; i < b.ops.size(); ++i)
    EXPECT_EQ(b.ops[i].status, want[i]) << "op " << i << ": " << b.ops[i].error;
  EXPECT_EQ(b.results[1].value, "3");
  EXPECT_EQ(b.results[4].value, "100");
  EXPECT_EQ(b.results[5].value, "100");
  EXPECT_EQ(b.results[10].value, "y");
  EXPECT_GT(b.ops[10].result_ttl_ms, 0);
  EXPECT_LE(b.ops[10].result_ttl_ms, 9000);
  EXPECT_EQ(b.results[16].value, "6");
  EXPECT_EQ(raw("k"), "6");
}

// Client flags travel in the value key (docs/redis_l2.md "Client flags"): REPLACE and CAS store
// theirs as SET does, in one batch, with a key prefix, and no other key is written; flags 0 leave
// the plain bytes. (flags_test.cpp covers the envelope op by op.)
TEST_F(RedisL2Rich, FlagsAreStoredInTheValueKeyAndFlagsZeroStayPlainBytes) {
  auto tier = start_tier("key_prefix = \"app:\"\n");
  ASSERT_TRUE(tier);
  Batch b;
  b.add(STRATA_TIER_SET, "k", "a");
  b.add(STRATA_TIER_REPLACE, "k", "b");
  b.add(STRATA_TIER_CAS, "k", "c", token("b"));
  b.add(STRATA_TIER_GET, "k");
  for (auto& op : b.ops) op.flags = 42;
  ASSERT_EQ(tier->run(b), STRATA_OK);
  for (auto& op : b.ops) EXPECT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(b.ops[3].result_flags, 42u);
  ASSERT_TRUE(b.results[3].has_value);
  EXPECT_EQ(b.results[3].value, "c");
  EXPECT_EQ(redis_->redis_cli("STRLEN app:k"), "13");  // 12-byte envelope + "c"
  EXPECT_EQ(redis_->redis_cli("KEYS '*'"), "app:k") << "no companion keys for unversioned ops";
  Batch z;
  z.add(STRATA_TIER_REPLACE, "k", "b");
  z.add(STRATA_TIER_CAS, "k", "plain", token("b"));
  z.add(STRATA_TIER_GET, "k");
  ASSERT_EQ(tier->run(z), STRATA_OK);
  for (auto& op : z.ops) EXPECT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(z.ops[2].result_flags, 0u);
  EXPECT_EQ(raw("app:k"), "plain");
}

TEST_F(RedisL2Rich, NoscriptIsReloadedForTheRichScript) {
  auto tier = start_tier("connections = 1\n");
  ASSERT_TRUE(tier);
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "n", "1"), STRATA_OK);
  EXPECT_EQ(redis_->redis_cli("SCRIPT FLUSH"), "OK");
  Batch b;
  b.add(STRATA_TIER_INCR, "n", "", 1);
  b.add(STRATA_TIER_APPEND, "n", "0");
  ASSERT_EQ(tier->run(b), STRATA_OK);
  EXPECT_EQ(b.ops[0].status, STRATA_OK) << b.ops[0].error;
  EXPECT_EQ(b.ops[1].status, STRATA_OK) << b.ops[1].error;
  EXPECT_EQ(tier->get("n"), "20");
  EXPECT_EQ(metric("strata_redis_noscript_reloads_total"), 1);
}

TEST_F(RedisL2Rich, WrongTypeFailsOnlyItsOp) {
  auto tier = start_tier();
  ASSERT_TRUE(tier);
  ASSERT_EQ(redis_->redis_cli("RPUSH list a"), "1");
  Batch b;
  b.add(STRATA_TIER_INCR, "list", "", 1);
  b.add(STRATA_TIER_APPEND, "list", "x");
  b.add(STRATA_TIER_CAS, "list", "x", 1);
  b.add(STRATA_TIER_SET, "ok", "1");
  b.add(STRATA_TIER_INCR, "ok", "", 1);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(b.ops[i].status, STRATA_ERR_INVALID) << i;
    EXPECT_NE(std::string(b.ops[i].error).find("WRONGTYPE"), std::string::npos) << b.ops[i].error;
  }
  EXPECT_EQ(b.ops[4].status, STRATA_OK);
  EXPECT_EQ(b.results[4].value, "2");
}

// Front writes are unversioned: they leave the companion version key alone, so a later replay
// of an older versioned write is still refused.
TEST_F(RedisL2Rich, UnversionedFrontWritesKeepTheStoredVersion) {
  auto tier = start_tier();
  ASSERT_TRUE(tier);
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "k", "5", 5), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_INCR, "k", "", 1), STRATA_OK);
  EXPECT_EQ(raw("{k}:strata-ver"), "5");
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "old", 4), STRATA_NOT_STORED);
  EXPECT_EQ(tier->get("k"), "6");
}

// Atomicity under contention: concurrent INCRs lose no update, and concurrent read-token-CAS
// loops (each retried until its CAS lands) lose none either. The outcome does not depend on
// the interleaving, and neither does the bound: an attempt fails only when another thread's CAS
// landed since its read, so all threads together fail at most 3 x 200 times.
TEST_F(RedisL2Rich, ConcurrentIncrsAndCasLoopsLoseNoUpdate) {
  auto tier = start_tier("connections = 4\n");
  ASSERT_TRUE(tier);
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "n", "0"), STRATA_OK);
  ASSERT_EQ(tier->one(STRATA_TIER_SET, "c", "0"), STRATA_OK);
  constexpr int kThreads = 4, kIncrs = 200, kCas = 50, kMaxAttempts = 5000;
  std::vector<int> failures(kThreads, 0), exhausted(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrs; ++i)
        if (tier->one(STRATA_TIER_INCR, "n", "", 1) != STRATA_OK) ++failures[t];
      int done = 0;
      for (int attempt = 0; done < kCas && attempt < kMaxAttempts; ++attempt) {
        std::string cur = tier->get("c");
        std::string next = std::to_string(std::stoll(cur) + 1);
        strata_status st = tier->one(STRATA_TIER_CAS, "c", next, token(cur));
        if (st == STRATA_OK)
          ++done;
        else if (st != STRATA_NOT_STORED)
          ++failures[t];
      }
      if (done < kCas) ++exhausted[t];
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << t;
    EXPECT_EQ(exhausted[t], 0) << t;
  }
  EXPECT_EQ(tier->get("n"), std::to_string(kThreads * kIncrs));
  EXPECT_EQ(tier->get("c"), std::to_string(kThreads * kCas));
}

}  // namespace
}  // namespace strata
