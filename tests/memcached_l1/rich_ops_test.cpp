// The memcached front's writes on memcached_l1 (issue 8, ABI 1.2 STRATA_TIER_RICH): REPLACE,
// APPEND, PREPEND, INCR, DECR, TOUCH and CAS against a real memcached: every success and
// failure status, client flags, TTLs read back with the meta command `mg <key> t`, the 64-bit
// counters at their edges (the same table as tests/redis_l2/rich_ops_test.cpp, so both tiers
// agree with memcached), and CAS by strata's token.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "counter_cases.hpp"
#include "memcached_l1_support.hpp"

namespace {

using strata::test::counter_cases;
using strata::test::CounterCase;
using strata::test::ServerProcess;

// Remaining TTL of `key` in seconds from memcached itself (`mg key t`): -1 = no expiry, -2 =
// absent, -3 = no answer.
long long ttl_of(int port, const std::string& key) {
  int fd = strata::test::connect_loopback(port, 2000);
  if (fd < 0) return -3;
  std::string req = "mg " + key + " t\r\n";
  if (::write(fd, req.data(), req.size()) != ssize_t(req.size())) {
    ::close(fd);
    return -3;
  }
  std::string line;
  char c;
  while (line.size() < 256 && ::read(fd, &c, 1) == 1) {
    line += c;
    if (line.size() >= 2 && line.compare(line.size() - 2, 2, "\r\n") == 0) break;
  }
  ::close(fd);
  if (line.rfind("EN", 0) == 0) return -2;
  size_t t = line.find(" t");
  if (line.rfind("HD", 0) != 0 || t == std::string::npos) return -3;
  return std::atoll(line.c_str() + t + 2);
}

uint64_t token(const std::string& v) { return strata_cas_token(v.data(), v.size()); }

Op op(strata_tier_op_kind kind, std::string key, std::string value = "", uint64_t version = 0,
      int64_t ttl_ms = 0, uint32_t flags = 0) {
  Op o = make(kind, std::move(key), std::move(value), ttl_ms, flags);
  o.op.version = version;
  return o;
}

TEST(MemcachedL1Rich, ReplaceAppendPrependKeepMemcachedsMeaningAndFlags) {
  START(mc);
  Tier t({&mc}, "", "tiers.rich_storage");
  ASSERT_EQ(t.error(), "");
  Op r = op(STRATA_TIER_REPLACE, "k", "v");
  EXPECT_EQ(t.one(r), STRATA_NOT_STORED);
  Op a = op(STRATA_TIER_APPEND, "k", "x");
  EXPECT_EQ(t.one(a), STRATA_NOT_STORED);
  Op p = op(STRATA_TIER_PREPEND, "k", "x");
  EXPECT_EQ(t.one(p), STRATA_NOT_STORED);
  Op get = op(STRATA_TIER_GET, "k");
  EXPECT_EQ(t.one(get), STRATA_NOT_FOUND) << "no op above may create the key";

  const std::string mid("m\0d", 3), tail("\xff\r\n", 3), head("\x00 h", 3);
  Op set = op(STRATA_TIER_SET, "k", mid, 0, 60000, 7);
  ASSERT_EQ(t.one(set), STRATA_OK);
  // append / prepend keep the item's flags and exptime (their own are ignored by memcached).
  Op app = op(STRATA_TIER_APPEND, "k", tail, 0, 1000, 99);
  EXPECT_EQ(t.one(app), STRATA_OK) << app.op.error;
  Op pre = op(STRATA_TIER_PREPEND, "k", head, 0, -1, 98);
  EXPECT_EQ(t.one(pre), STRATA_OK) << pre.op.error;
  ASSERT_EQ(t.one(get), STRATA_OK);
  EXPECT_EQ(get.result.value, head + mid + tail);
  EXPECT_EQ(get.op.result_flags, 7u);
  EXPECT_GT(ttl_of(mc.port(), "k"), 1);
  EXPECT_LE(ttl_of(mc.port(), "k"), 60);

  // replace stores its own value, flags and TTL.
  Op rep = op(STRATA_TIER_REPLACE, "k", "new", 0, 5000, 9);
  EXPECT_EQ(t.one(rep), STRATA_OK) << rep.op.error;
  ASSERT_EQ(t.one(get), STRATA_OK);
  EXPECT_EQ(get.result.value, "new");
  EXPECT_EQ(get.op.result_flags, 9u);
  EXPECT_GT(ttl_of(mc.port(), "k"), 0);
  EXPECT_LE(ttl_of(mc.port(), "k"), 5);
  Op forever = op(STRATA_TIER_REPLACE, "k", "newer", 0, -1, 9);
  EXPECT_EQ(t.one(forever), STRATA_OK);
  EXPECT_EQ(ttl_of(mc.port(), "k"), -1);
}

TEST(MemcachedL1Rich, IncrAndDecrAreMemcachedsUnsigned64BitCounters) {
  START(mc);
  Tier t({&mc}, "", "tiers.rich_counters");
  ASSERT_EQ(t.error(), "");
  for (const CounterCase& c : counter_cases()) {
    SCOPED_TRACE("'" + c.start + "' " + (c.kind == STRATA_TIER_INCR ? "incr " : "decr ") +
                 std::to_string(c.delta));
    Op set = op(STRATA_TIER_SET, "n", c.start, 0, 0, 5);
    ASSERT_EQ(t.one(set), STRATA_OK);
    Op n = op(c.kind, "n", "", c.delta);
    t.one(n);
    Op get = op(STRATA_TIER_GET, "n");
    ASSERT_EQ(t.one(get), STRATA_OK);
    if (c.want.empty()) {
      EXPECT_EQ(n.op.status, STRATA_ERR_INVALID) << n.op.error;
      EXPECT_STREQ(n.op.error, "non-numeric value");
      EXPECT_EQ(get.result.value, c.start);
    } else {
      EXPECT_EQ(n.op.status, STRATA_OK) << n.op.error;
      EXPECT_TRUE(n.result.has_value);
      EXPECT_EQ(n.result.value, c.want);
      // memcached rewrites a number that got no longer in place, padded with spaces.
      EXPECT_EQ(get.result.value.substr(0, c.want.size()), c.want);
      EXPECT_EQ(get.op.result_flags, 5u) << "counters keep the item's flags";
    }
  }
  Op absent = op(STRATA_TIER_INCR, "absent", "", 1);
  EXPECT_EQ(t.one(absent), STRATA_NOT_FOUND);
  Op absent_d = op(STRATA_TIER_DECR, "absent", "", 1);
  EXPECT_EQ(t.one(absent_d), STRATA_NOT_FOUND);
  // The counter keeps its TTL.
  Op set = op(STRATA_TIER_SET, "t", "1", 0, 60000);
  ASSERT_EQ(t.one(set), STRATA_OK);
  Op inc = op(STRATA_TIER_INCR, "t", "", 1);
  EXPECT_EQ(t.one(inc), STRATA_OK);
  EXPECT_GT(ttl_of(mc.port(), "t"), 1);
  EXPECT_LE(ttl_of(mc.port(), "t"), 60);
}

TEST(MemcachedL1Rich, TouchSetsTheTtlOfAnExistingItem) {
  START(mc);
  Tier t({&mc}, "ttl = \"5m\"\n", "tiers.rich_touch");
  ASSERT_EQ(t.error(), "");
  Op absent = op(STRATA_TIER_TOUCH, "k", "", 0, 5000);
  EXPECT_EQ(t.one(absent), STRATA_NOT_FOUND);
  EXPECT_EQ(ttl_of(mc.port(), "k"), -2);
  Op set = op(STRATA_TIER_SET, "k", "v", 0, -1, 3);
  ASSERT_EQ(t.one(set), STRATA_OK);
  EXPECT_EQ(ttl_of(mc.port(), "k"), -1);
  Op touch = op(STRATA_TIER_TOUCH, "k", "", 0, 5000);
  EXPECT_EQ(t.one(touch), STRATA_OK) << touch.op.error;
  EXPECT_GT(ttl_of(mc.port(), "k"), 0);
  EXPECT_LE(ttl_of(mc.port(), "k"), 5);
  Op dflt = op(STRATA_TIER_TOUCH, "k", "", 0, 0);  // the option's TTL
  EXPECT_EQ(t.one(dflt), STRATA_OK);
  EXPECT_GT(ttl_of(mc.port(), "k"), 5);
  EXPECT_LE(ttl_of(mc.port(), "k"), 300);
  Op none = op(STRATA_TIER_TOUCH, "k", "", 0, -1);
  EXPECT_EQ(t.one(none), STRATA_OK);
  EXPECT_EQ(ttl_of(mc.port(), "k"), -1);
  Op get = op(STRATA_TIER_GET, "k");
  ASSERT_EQ(t.one(get), STRATA_OK);
  EXPECT_EQ(get.result.value, "v");
  EXPECT_EQ(get.op.result_flags, 3u);
}

TEST(MemcachedL1Rich, CasStoresOnlyOverTheValueItsTokenNames) {
  START(mc);
  Tier t({&mc}, "", "tiers.rich_cas");
  ASSERT_EQ(t.error(), "");
  Op absent = op(STRATA_TIER_CAS, "k", "v", token("x"));
  EXPECT_EQ(t.one(absent), STRATA_NOT_FOUND);
  const std::string v1("bin\0\xff\x80", 6), v2("second"), v3("third");
  Op set = op(STRATA_TIER_SET, "k", v1, 0, -1, 3);
  ASSERT_EQ(t.one(set), STRATA_OK);
  auto before = stats(mc.port());
  Op wrong = op(STRATA_TIER_CAS, "k", v2, token(v1) ^ 1, 0, 4);
  EXPECT_EQ(t.one(wrong), STRATA_NOT_STORED);
  EXPECT_NE(std::string(wrong.op.error).find("token"), std::string::npos) << wrong.op.error;
  Op zero = op(STRATA_TIER_CAS, "k", v2, 0);  // 0 is never a token
  EXPECT_EQ(t.one(zero), STRATA_NOT_STORED);
  Op get = op(STRATA_TIER_GET, "k");
  ASSERT_EQ(t.one(get), STRATA_OK);
  EXPECT_EQ(get.result.value, v1);
  EXPECT_EQ(get.op.result_flags, 3u);
  auto cas_cmds = [](std::map<std::string, long long> s) {
    return s["cas_hits"] + s["cas_misses"] + s["cas_badval"];
  };
  EXPECT_EQ(cas_cmds(stats(mc.port())), cas_cmds(before)) << "a token that differs sends no cas";

  Op right = op(STRATA_TIER_CAS, "k", v2, token(v1), 5000, 4);
  EXPECT_EQ(t.one(right), STRATA_OK) << right.op.error;
  EXPECT_EQ(stats(mc.port())["cas_hits"], before["cas_hits"] + 1) << "stored with memcached's cas";
  ASSERT_EQ(t.one(get), STRATA_OK);
  EXPECT_EQ(get.result.value, v2);
  EXPECT_EQ(get.op.result_flags, 4u);
  EXPECT_GT(ttl_of(mc.port(), "k"), 0);
  EXPECT_LE(ttl_of(mc.port(), "k"), 5);
  Op stale = op(STRATA_TIER_CAS, "k", v3, token(v1));
  EXPECT_EQ(t.one(stale), STRATA_NOT_STORED);
  Op again = op(STRATA_TIER_CAS, "k", v3, token(v2), -1);
  EXPECT_EQ(t.one(again), STRATA_OK);
  EXPECT_EQ(ttl_of(mc.port(), "k"), -1);
  Op empty = op(STRATA_TIER_SET, "e", "");
  ASSERT_EQ(t.one(empty), STRATA_OK);
  Op fill = op(STRATA_TIER_CAS, "e", "filled", token(""));
  EXPECT_EQ(t.one(fill), STRATA_OK) << fill.op.error;
  // Plain GETs of the same handle still work after a CAS turned `gets` on and off.
  std::vector<Op> gets{op(STRATA_TIER_GET, "k"), op(STRATA_TIER_GET, "e")};
  ASSERT_EQ(t.execute(gets), STRATA_OK);
  EXPECT_EQ(gets[0].result.value, v3);
  EXPECT_EQ(gets[1].result.value, "filled");
}

TEST(MemcachedL1Rich, OpsOnOneKeyInOneBatchApplyInArrayOrder) {
  START(mc);
  Tier t({&mc}, "connections = 1\n", "tiers.rich_order");
  ASSERT_EQ(t.error(), "");
  std::vector<Op> b{
      op(STRATA_TIER_SET, "k", "1", 0, 0, 6),
      op(STRATA_TIER_INCR, "k", "", 2),   // 3
      op(STRATA_TIER_APPEND, "k", "0"),   // 30
      op(STRATA_TIER_PREPEND, "k", "1"),  // 130
      op(STRATA_TIER_DECR, "k", "", 30),  // 100
      op(STRATA_TIER_GET, "k"),           // 100
      op(STRATA_TIER_REPLACE, "k", "x"),  // x
      op(STRATA_TIER_CAS, "k", "y", token("x"), 0, 8),
      op(STRATA_TIER_CAS, "k", "z", token("x")),  // stale now
      op(STRATA_TIER_TOUCH, "k", "", 0, 9000),
      op(STRATA_TIER_GET, "k"),
      op(STRATA_TIER_DELETE, "k"),
      op(STRATA_TIER_REPLACE, "k", "gone"),
      op(STRATA_TIER_INCR, "k", "", 1),
      op(STRATA_TIER_TOUCH, "k", "", 0, 1000),
      op(STRATA_TIER_ADD, "k", "5"),
      op(STRATA_TIER_INCR, "k", "", 1),
      op(STRATA_TIER_SET, "k", "7"),
      op(STRATA_TIER_SET, "other", "1"),
      op(STRATA_TIER_INCR, "k", "", 1),
      op(STRATA_TIER_GET, "k"),
  };
  ASSERT_EQ(t.execute(b), STRATA_OK);
  const strata_status want[] = {
      STRATA_OK,         STRATA_OK,        STRATA_OK,         STRATA_OK, STRATA_OK, STRATA_OK,
      STRATA_OK,         STRATA_OK,        STRATA_NOT_STORED, STRATA_OK, STRATA_OK, STRATA_OK,
      STRATA_NOT_STORED, STRATA_NOT_FOUND, STRATA_NOT_FOUND,  STRATA_OK, STRATA_OK, STRATA_OK,
      STRATA_OK,         STRATA_OK,        STRATA_OK};
  ASSERT_EQ(b.size(), std::size(want));
  for (size_t i = 0; i < b.size(); ++i)
    EXPECT_EQ(b[i].op.status, want[i]) << "op " << i << ": " << b[i].op.error;
  EXPECT_EQ(b[1].result.value, "3");
  EXPECT_EQ(b[4].result.value, "100");
  EXPECT_EQ(b[5].result.value, "100");
  EXPECT_EQ(b[5].op.result_flags, 6u);
  EXPECT_EQ(b[10].result.value, "y");
  EXPECT_EQ(b[10].op.result_flags, 8u);
  EXPECT_EQ(b[16].result.value, "6");
  EXPECT_EQ(b[19].result.value, "8") << "the INCR after a SET run sees the run's value";
  EXPECT_EQ(b[20].result.value, "8");
}

TEST(MemcachedL1Rich, BadKeysTooLargeValuesAndDownServersFailAsForSet) {
  START(mc);
  Tier t({&mc}, "max_value_size = 8\n", "tiers.rich_refused");
  ASSERT_EQ(t.error(), "");
  Op big = op(STRATA_TIER_REPLACE, "k", "123456789");
  EXPECT_EQ(t.one(big), STRATA_ERR_TOO_LARGE);
  Op big_cas = op(STRATA_TIER_CAS, "k", "123456789", 1);
  EXPECT_EQ(t.one(big_cas), STRATA_ERR_TOO_LARGE);
  Op bad = op(STRATA_TIER_INCR, "a key", "", 1);
  EXPECT_EQ(t.one(bad), STRATA_ERR_BAD_KEY);
  Op unknown = op(static_cast<strata_tier_op_kind>(14), "k");  // a later ABI's kind
  EXPECT_EQ(t.one(unknown), STRATA_ERR_INVALID);
  mc.stop();
  for (auto kind : {STRATA_TIER_REPLACE, STRATA_TIER_APPEND, STRATA_TIER_INCR, STRATA_TIER_TOUCH,
                    STRATA_TIER_CAS}) {
    Op o = op(kind, "k", "v", 1);
    EXPECT_EQ(t.one(o), STRATA_ERR_UNAVAILABLE) << kind << ": " << o.op.error;
  }
}

// Atomicity under contention: concurrent INCRs lose no update, and concurrent read-token-CAS
// loops (each retried until its CAS lands) lose none either. The outcome does not depend on
// the interleaving, and neither does the bound: an attempt fails only when another thread's CAS
// landed since its read, so all threads together fail at most 3 x 200 times.
TEST(MemcachedL1Rich, ConcurrentIncrsAndCasLoopsLoseNoUpdate) {
  START(mc);
  Tier t({&mc}, "connections = 4\n", "tiers.rich_concurrent");
  ASSERT_EQ(t.error(), "");
  Op n0 = op(STRATA_TIER_SET, "n", "0");
  ASSERT_EQ(t.one(n0), STRATA_OK);
  Op c0 = op(STRATA_TIER_SET, "c", "0");
  ASSERT_EQ(t.one(c0), STRATA_OK);
  constexpr int kThreads = 4, kIncrs = 200, kCas = 50, kMaxAttempts = 5000;
  std::vector<int> failures(kThreads, 0), exhausted(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < kIncrs; ++k) {
        Op inc = op(STRATA_TIER_INCR, "n", "", 1);
        if (t.one(inc) != STRATA_OK) ++failures[i];
      }
      int done = 0;
      for (int attempt = 0; done < kCas && attempt < kMaxAttempts; ++attempt) {
        Op get = op(STRATA_TIER_GET, "c");
        if (t.one(get) != STRATA_OK) {
          ++failures[i];
          continue;
        }
        std::string cur = get.result.value;
        Op cas = op(STRATA_TIER_CAS, "c", std::to_string(std::stoll(cur) + 1), token(cur));
        strata_status st = t.one(cas);
        if (st == STRATA_OK)
          ++done;
        else if (st != STRATA_NOT_STORED)
          ++failures[i];
      }
      if (done < kCas) ++exhausted[i];
    });
  for (auto& th : threads) th.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(failures[i], 0) << i;
    EXPECT_EQ(exhausted[i], 0) << i;
  }
  Op n = op(STRATA_TIER_GET, "n");
  ASSERT_EQ(t.one(n), STRATA_OK);
  EXPECT_EQ(n.result.value, std::to_string(kThreads * kIncrs));
  Op c = op(STRATA_TIER_GET, "c");
  ASSERT_EQ(t.one(c), STRATA_OK);
  EXPECT_EQ(c.result.value, std::to_string(kThreads * kCas));
}

}  // namespace

namespace {

// Issue 10: FLUSH (the invalidation bus, when a node cannot know what it missed) empties every
// server of the ring, whatever the key prefix.
TEST(MemcachedL1Flush, Issue10FlushEmptiesEveryServerOfThePool) {
  START(a);
  START(b);
  Tier t({&a, &b}, "", "tiers.flushed");
  ASSERT_EQ(t.error(), "");
  for (int i = 0; i < 40; ++i) {
    Op set = op(STRATA_TIER_SET, "k" + std::to_string(i), "v");
    ASSERT_EQ(t.one(set), STRATA_OK) << set.op.error;
  }
  Op flush = op(STRATA_TIER_FLUSH, "");
  EXPECT_EQ(t.one(flush), STRATA_OK) << flush.op.error;
  for (int i = 0; i < 40; ++i) {
    Op get = op(STRATA_TIER_GET, "k" + std::to_string(i));
    EXPECT_EQ(t.one(get), STRATA_NOT_FOUND) << i;
  }
}

}  // namespace
