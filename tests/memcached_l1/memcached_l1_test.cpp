// Integration tests of the memcached_l1 tier module (issue #3): the module is loaded through the
// real loader, its options are validated by the real config code, and it talks to real
// memcached processes started by tests/support.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "loader/loader.hpp"
#include "memcached_l1_support.hpp"
#include "metrics/metrics.hpp"
#include "servers.hpp"

namespace {

using strata::test::ServerProcess;

TEST(MemcachedL1, SetGetAddDeleteRoundTrip) {
  START(mc);
  Tier t({&mc}, "", "tiers.roundtrip");
  ASSERT_EQ(t.error(), "");
  Op set = make(STRATA_TIER_SET, "user:1", "alice");
  EXPECT_EQ(t.one(set), STRATA_OK) << set.op.error;
  Op get = make(STRATA_TIER_GET, "user:1");
  ASSERT_EQ(t.one(get), STRATA_OK) << get.op.error;
  EXPECT_EQ(get.result.value, "alice");
  Op add = make(STRATA_TIER_ADD, "user:1", "bob");
  EXPECT_EQ(t.one(add), STRATA_NOT_STORED);
  EXPECT_EQ(t.one(get), STRATA_OK);
  EXPECT_EQ(get.result.value, "alice") << "add must never overwrite";
  Op del = make(STRATA_TIER_DELETE, "user:1");
  EXPECT_EQ(t.one(del), STRATA_OK) << del.op.error;
  EXPECT_EQ(t.one(get), STRATA_NOT_FOUND);
  EXPECT_EQ(t.one(del), STRATA_NOT_FOUND);
  Op add2 = make(STRATA_TIER_ADD, "user:1", "carol");
  EXPECT_EQ(t.one(add2), STRATA_OK) << add2.op.error;
  EXPECT_EQ(t.one(get), STRATA_OK);
  EXPECT_EQ(get.result.value, "carol");
}

TEST(MemcachedL1, OpsOnOneKeyApplyInArrayOrder) {
  START(mc);
  Tier t({&mc}, "", "tiers.order");
  ASSERT_EQ(t.error(), "");
  std::vector<Op> ops{make(STRATA_TIER_SET, "k", "v1"), make(STRATA_TIER_DELETE, "k"),
                      make(STRATA_TIER_ADD, "k", "v2"), make(STRATA_TIER_ADD, "k", "v3"),
                      make(STRATA_TIER_GET, "k"),       make(STRATA_TIER_SET, "k", "v4"),
                      make(STRATA_TIER_GET, "k")};
  ASSERT_EQ(t.execute(ops), STRATA_OK);
  EXPECT_EQ(ops[0].op.status, STRATA_OK);
  EXPECT_EQ(ops[1].op.status, STRATA_OK);
  EXPECT_EQ(ops[2].op.status, STRATA_OK);
  EXPECT_EQ(ops[3].op.status, STRATA_NOT_STORED);
  EXPECT_EQ(ops[4].result.value, "v2");
  EXPECT_EQ(ops[6].result.value, "v4");
}

TEST(MemcachedL1, MultiGetWithHitsAndMissesIsOneRequest) {
  START(mc);
  Tier t({&mc}, "key_prefix = \"app:\"\n", "tiers.mget");
  ASSERT_EQ(t.error(), "");
  std::vector<Op> sets{make(STRATA_TIER_SET, "a", "1"), make(STRATA_TIER_SET, "c", "3")};
  ASSERT_EQ(t.execute(sets), STRATA_OK);
  auto before = stats(mc.port());
  std::vector<Op> gets{make(STRATA_TIER_GET, "a"), make(STRATA_TIER_GET, "b"),
                       make(STRATA_TIER_GET, "c"), make(STRATA_TIER_GET, "d")};
  ASSERT_EQ(t.execute(gets), STRATA_OK);
  auto after = stats(mc.port());
  EXPECT_EQ(gets[0].op.status, STRATA_OK);
  EXPECT_EQ(gets[0].result.value, "1");
  EXPECT_EQ(gets[1].op.status, STRATA_NOT_FOUND);
  EXPECT_EQ(gets[2].op.status, STRATA_OK);
  EXPECT_EQ(gets[2].result.value, "3");
  EXPECT_EQ(gets[3].op.status, STRATA_NOT_FOUND);
  EXPECT_EQ(after["get_hits"] - before["get_hits"], 2);
  EXPECT_EQ(after["get_misses"] - before["get_misses"], 2);
  // The prefix is part of the stored key: a plain client sees "app:a".
  Op raw_a = make(STRATA_TIER_GET, "app:a");
  Tier plain({&mc}, "", "tiers.mget_plain");
  EXPECT_EQ(plain.one(raw_a), STRATA_OK);
  EXPECT_EQ(raw_a.result.value, "1");
}

TEST(MemcachedL1, FlagsRoundTrip) {
  START(mc);
  Tier t({&mc}, "", "tiers.flags");
  ASSERT_EQ(t.error(), "");
  Op set = make(STRATA_TIER_SET, "neg", "", 0, STRATA_ITEM_NEGATIVE);
  ASSERT_EQ(t.one(set), STRATA_OK);
  Op add = make(STRATA_TIER_ADD, "other", "x", 0, 42);
  ASSERT_EQ(t.one(add), STRATA_OK);
  std::vector<Op> gets{make(STRATA_TIER_GET, "neg"), make(STRATA_TIER_GET, "other")};
  t.execute(gets);
  EXPECT_EQ(gets[0].op.status, STRATA_OK);
  EXPECT_EQ(gets[0].op.result_flags, STRATA_ITEM_NEGATIVE);
  EXPECT_EQ(gets[0].result.value, "");
  EXPECT_EQ(gets[1].op.result_flags, 42u);
}

TEST(MemcachedL1, ShortTtlExpiresAndLongTtlIsNotMistakenForAUnixTime) {
  START(mc);
  Tier t({&mc}, "", "tiers.ttl");
  ASSERT_EQ(t.error(), "");
  const int64_t forty_days_ms = 40LL * 24 * 3600 * 1000;
  std::vector<Op> sets{make(STRATA_TIER_SET, "short", "v", 1000),
                       make(STRATA_TIER_SET, "long", "v", forty_days_ms),
                       make(STRATA_TIER_SET, "forever", "v", -1)};
  ASSERT_EQ(t.execute(sets), STRATA_OK);
  // Sent as a relative 3456000 s, memcached would read 1970-02-10 and drop it at once.
  Op get_long = make(STRATA_TIER_GET, "long");
  EXPECT_EQ(t.one(get_long), STRATA_OK);
  Op get_short = make(STRATA_TIER_GET, "short");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (t.one(get_short) == STRATA_OK && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(get_short.op.status, STRATA_NOT_FOUND) << "1s TTL did not expire within 20 s";
  Op get_forever = make(STRATA_TIER_GET, "forever");
  EXPECT_EQ(t.one(get_forever), STRATA_OK);
  EXPECT_EQ(t.one(get_long), STRATA_OK);
}

TEST(MemcachedL1, BadKeysAreRefusedAndNothingIsSent) {
  START(mc);
  Tier t({&mc}, "key_prefix = \"p:\"\n", "tiers.badkeys");
  ASSERT_EQ(t.error(), "");
  auto before = stats(mc.port());
  std::vector<Op> ops{make(STRATA_TIER_SET, std::string(249, 'k'), "v"),  // 251 with prefix
                      make(STRATA_TIER_GET, "has space"), make(STRATA_TIER_ADD, "new\nline", "v"),
                      make(STRATA_TIER_DELETE, "ctl\x01"), make(STRATA_TIER_GET, "")};
  ASSERT_EQ(t.execute(ops), STRATA_OK);
  auto after = stats(mc.port());
  for (auto& o : ops) EXPECT_EQ(o.op.status, STRATA_ERR_BAD_KEY) << o.key;
  EXPECT_NE(std::string(ops[0].op.error).find("251 bytes with prefix"), std::string::npos)
      << ops[0].op.error;
  EXPECT_NE(std::string(ops[1].op.error).find("space (0x20) at byte 3"), std::string::npos)
      << ops[1].op.error;
  EXPECT_NE(std::string(ops[2].op.error).find("(0x0a) at byte 3"), std::string::npos)
      << ops[2].op.error;
  EXPECT_EQ(after["cmd_get"], before["cmd_get"]);
  EXPECT_EQ(after["cmd_set"], before["cmd_set"]);
  EXPECT_EQ(after["delete_misses"] + after["delete_hits"],
            before["delete_misses"] + before["delete_hits"]);
  // Only the stats connection itself was opened: the module never connected.
  EXPECT_EQ(after["total_connections"] - before["total_connections"], 1);

  // A bad key fails only its own op.
  std::vector<Op> mixed{make(STRATA_TIER_SET, "good", "v"), make(STRATA_TIER_SET, "b a d", "v"),
                        make(STRATA_TIER_SET, std::string(248, 'k'), "v")};  // 250: allowed
  ASSERT_EQ(t.execute(mixed), STRATA_OK);
  EXPECT_EQ(mixed[0].op.status, STRATA_OK);
  EXPECT_EQ(mixed[1].op.status, STRATA_ERR_BAD_KEY);
  EXPECT_EQ(mixed[2].op.status, STRATA_OK) << mixed[2].op.error;
  EXPECT_EQ(stats(mc.port())["cmd_set"] - after["cmd_set"], 2);
}

TEST(MemcachedL1, ValueTooLargeIsRefusedWithoutSending) {
  START(mc);
  Tier t({&mc}, "max_value_size = \"1KiB\"\n", "tiers.large");
  ASSERT_EQ(t.error(), "");
  auto before = stats(mc.port());
  Op big = make(STRATA_TIER_SET, "big", std::string(1025, 'x'));
  EXPECT_EQ(t.one(big), STRATA_ERR_TOO_LARGE);
  EXPECT_NE(std::string(big.op.error).find("1025 bytes"), std::string::npos) << big.op.error;
  Op big_add = make(STRATA_TIER_ADD, "big", std::string(4096, 'x'));
  EXPECT_EQ(t.one(big_add), STRATA_ERR_TOO_LARGE);
  EXPECT_EQ(stats(mc.port())["cmd_set"], before["cmd_set"]);
  Op fits = make(STRATA_TIER_SET, "fits", std::string(1024, 'x'));
  EXPECT_EQ(t.one(fits), STRATA_OK) << fits.op.error;
}

// A batch of sets goes out in pipelined runs of at most 200 (one flush and one barrier get
// each), not one round trip per key. Regression (issue 3): a single buffered run of ~1000 sets
// made libmemcached abort the process with an assertion in _io_write.
TEST(MemcachedL1, Issue3PipelinedSetsGoOutInBoundedFlushes) {
  START(mc);
  Tier t({&mc}, "", "tiers.pipeline");
  ASSERT_EQ(t.error(), "");
  auto* flushes = strata::MetricsRegistry::global().find("strata_memcached_write_flushes_total",
                                                         "module_instance=\"tiers.pipeline\"");
  ASSERT_NE(flushes, nullptr);
  double flushes_before = flushes->value();
  auto before = stats(mc.port());
  const int n = 2000;
  std::vector<Op> ops;
  for (int i = 0; i < n; ++i)
    ops.push_back(make(STRATA_TIER_SET, "pipe:" + std::to_string(i),
                       std::string(100, 'v') + std::to_string(i)));
  ASSERT_EQ(t.execute(ops), STRATA_OK);
  auto after = stats(mc.port());
  for (auto& o : ops) ASSERT_EQ(o.op.status, STRATA_OK) << o.key << ": " << o.op.error;
  EXPECT_EQ(after["cmd_set"] - before["cmd_set"], n);
  EXPECT_EQ(flushes->value() - flushes_before, 10.0);
  // The only reads the server saw besides the sets are the barrier gets, one per run.
  EXPECT_EQ(after["cmd_get"] - before["cmd_get"], 10);
  EXPECT_EQ(after["curr_items"], n);
}

TEST(MemcachedL1, ConcurrentCallersShareThePool) {
  START(mc);
  Tier t({&mc}, "connections = 2\n", "tiers.concurrent");
  ASSERT_EQ(t.error(), "");
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int th = 0; th < 6; ++th)
    threads.emplace_back([&, th] {
      for (int round = 0; round < 20; ++round) {
        std::vector<Op> ops;
        for (int i = 0; i < 10; ++i) {
          std::string k = "t" + std::to_string(th) + ":" + std::to_string(i);
          ops.push_back(make(STRATA_TIER_SET, k, k + "@" + std::to_string(round)));
          ops.push_back(make(STRATA_TIER_GET, k));
        }
        t.execute(ops);
        for (size_t i = 0; i < ops.size(); i += 2)
          if (ops[i].op.status != STRATA_OK || ops[i + 1].result.value != ops[i].value) ++bad;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(MemcachedL1, KetamaSpreadsKeysOverTwoServers) {
  START(a);
  START(b);
  Tier t({&a, &b}, "", "tiers.ketama");
  ASSERT_EQ(t.error(), "");
  std::vector<Op> ops;
  for (int i = 0; i < 200; ++i) ops.push_back(make(STRATA_TIER_SET, "k" + std::to_string(i), "v"));
  ASSERT_EQ(t.execute(ops), STRATA_OK);
  long long on_a = stats(a.port())["curr_items"], on_b = stats(b.port())["curr_items"];
  EXPECT_GT(on_a, 20);
  EXPECT_GT(on_b, 20);
  EXPECT_EQ(on_a + on_b, 200);
  std::string msg;
  EXPECT_EQ(t.health(&msg), STRATA_OK) << msg;
}

// Keys of a killed server fail with UNAVAILABLE (not a silent miss), the other server's keys
// keep working, and after a restart on the same port the server is used again.
TEST(MemcachedL1, KilledServerFailsItsKeysAndIsUsedAgainAfterRestart) {
  START(a);
  START(b);
  Tier t({&a, &b}, "eject_failed = false\nretry_timeout = \"1s\"\n", "tiers.failover");
  ASSERT_EQ(t.error(), "");
  std::vector<Op> sets;
  for (int i = 0; i < 100; ++i)
    sets.push_back(make(STRATA_TIER_SET, "f" + std::to_string(i), "v" + std::to_string(i)));
  ASSERT_EQ(t.execute(sets), STRATA_OK);
  long long on_a = stats(a.port())["curr_items"], on_b = stats(b.port())["curr_items"];
  ASSERT_GT(on_a, 0);
  ASSERT_GT(on_b, 0);

  b.kill();
  std::vector<Op> gets;
  for (int i = 0; i < 100; ++i) gets.push_back(make(STRATA_TIER_GET, "f" + std::to_string(i)));
  ASSERT_EQ(t.execute(gets), STRATA_OK);
  int ok = 0, unavailable = 0;
  for (auto& g : gets) {
    if (g.op.status == STRATA_OK) {
      ++ok;
      EXPECT_EQ(g.result.value, "v" + g.key.substr(1));
    } else {
      EXPECT_EQ(g.op.status, STRATA_ERR_UNAVAILABLE) << g.key << ": " << g.op.error;
      EXPECT_NE(std::string(g.op.error).find(b.address()), std::string::npos) << g.op.error;
      ++unavailable;
    }
  }
  EXPECT_EQ(ok, on_a);
  EXPECT_EQ(unavailable, on_b);
  // Writes for the dead server's keys fail too, the others succeed.
  ASSERT_EQ(t.execute(sets), STRATA_OK);
  int set_ok = 0;
  for (auto& s : sets) set_ok += s.op.status == STRATA_OK;
  EXPECT_EQ(set_ok, on_a);
  std::string msg;
  EXPECT_EQ(t.health(&msg), STRATA_OK) << "one server still answers";

  ASSERT_TRUE(b.start());  // same port
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool all_ok = false;
  while (!all_ok && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    t.execute(sets);
    all_ok = true;
    for (auto& s : sets) all_ok &= s.op.status == STRATA_OK;
  }
  ASSERT_TRUE(all_ok) << "restarted server was not used again within 30 s";
  EXPECT_EQ(stats(b.port())["curr_items"], on_b);
}

TEST(MemcachedL1, HealthFailsWhenNoServerAnswers) {
  START(a);
  Tier t({&a}, "", "tiers.health");
  ASSERT_EQ(t.error(), "");
  std::string msg;
  EXPECT_EQ(t.health(&msg), STRATA_OK) << msg;
  a.kill();
  EXPECT_EQ(t.health(&msg), STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(msg.find("no memcached server answered"), std::string::npos) << msg;
}

TEST(MemcachedL1, BadServerOptionIsACreateError) {
  strata::ModuleLoader loader(strata::ModuleLoader::default_search_path(""));
  auto mod = loader.load("memcached_l1");
  ASSERT_TRUE(mod.ok()) << mod.error();
  auto table = toml::parse("servers = [\"127.0.0.1:notaport\"]\n");
  strata::Diagnostics diags;
  const strata_module_descriptor* d = (*mod)->desc;
  auto opts =
      strata::validate_table(table, "t.toml", "tiers.x", d->options, d->option_count, {}, diags);
  ASSERT_TRUE(opts.has_value()) << diags.str();
  auto inst = strata::ModuleInstance::create(**mod, "tiers.badserver", "", std::move(*opts));
  ASSERT_FALSE(inst.ok());
  EXPECT_NE(inst.error().find("bad port"), std::string::npos) << inst.error();
}

}  // namespace
