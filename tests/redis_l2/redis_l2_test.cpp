// Integration tests of the redis_l2 tier module (issue #3) against real redis-server processes:
// the module is loaded as a .so through the host's loader, options go through the host's
// validator, and results are checked with redis-cli (a plain client) and INFO commandstats.
#include <gtest/gtest.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <cstddef>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "loader/loader.hpp"
#include "metrics/metrics.hpp"
#include "redis_l2_support.hpp"
#include "servers.hpp"

namespace strata {
namespace {

TEST_F(RedisL2Test, DescriptorIsADurableVersionedWatermarkTier) {
  EXPECT_EQ(module_->desc->kind, STRATA_KIND_TIER);
  auto* hooks = static_cast<const strata_tier_hooks*>(module_->desc->kind_hooks);
  EXPECT_EQ(hooks->tier_flags,
            STRATA_TIER_DURABLE | STRATA_TIER_VERSIONED | STRATA_TIER_WATERMARK | STRATA_TIER_RICH |
                STRATA_TIER_TAGS | STRATA_TIER_SCANNABLE);
}

TEST_F(RedisL2Test, SetGetAddDeleteRoundTrip) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis));
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_GET, "k"), STRATA_NOT_FOUND);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v1"), STRATA_OK);
  EXPECT_EQ(tier->get("k"), "v1");
  EXPECT_EQ(tier->one(STRATA_TIER_ADD, "k", "v2"), STRATA_NOT_STORED);
  EXPECT_EQ(tier->get("k"), "v1");
  EXPECT_EQ(tier->one(STRATA_TIER_ADD, "fresh", "a"), STRATA_OK);
  EXPECT_EQ(tier->get("fresh"), "a");
  EXPECT_EQ(tier->one(STRATA_TIER_DELETE, "k"), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_DELETE, "k"), STRATA_NOT_FOUND);
  EXPECT_EQ(tier->one(STRATA_TIER_GET, "k"), STRATA_NOT_FOUND);
  EXPECT_EQ(tier->one(STRATA_TIER_GET, ""), STRATA_ERR_BAD_KEY);
  std::string msg;
  EXPECT_EQ(tier->health(&msg), STRATA_OK) << msg;
}

TEST_F(RedisL2Test, PlainRedisClientReadsExactBytes) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "key_prefix = \"app:\"\n");
  ASSERT_TRUE(tier);
  const std::string binary("a\0b\xff\x01 z", 7);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "plain", binary), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "versioned", binary, 42), STRATA_OK);
  EXPECT_EQ(redis.redis_cli("GET app:plain"), binary);
  EXPECT_EQ(redis.redis_cli("GET app:versioned"), binary);
  EXPECT_EQ(tier->get("versioned"), binary);
  // The version lives in the documented companion key, in the value key's hash slot.
  EXPECT_EQ(redis.redis_cli("GET '{app:versioned}:strata-ver'"), "42");
  EXPECT_EQ(redis.redis_cli("CLUSTER KEYSLOT app:versioned"),
            redis.redis_cli("CLUSTER KEYSLOT '{app:versioned}:strata-ver'"));
}

TEST_F(RedisL2Test, OlderVersionNeverReplacesNewer) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis));
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "new", 5), STRATA_OK);
  std::string msg;
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "old", 3, 0, &msg), STRATA_NOT_STORED);
  EXPECT_NE(msg.find("older"), std::string::npos) << msg;
  EXPECT_EQ(tier->get("k"), "new");
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "replay", 5), STRATA_OK);  // equal: idempotent
  EXPECT_EQ(tier->get("k"), "replay");
  // Versions above 2^53 compare exactly (no double rounding in Lua).
  const uint64_t big = (1ull << 63) + 1;
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "b", "newer", big), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "b", "older", big - 1), STRATA_NOT_STORED);
  EXPECT_EQ(tier->get("b"), "newer");
  // Within one batch, ops on one key apply in array order.
  Batch b;
  b.add(STRATA_TIER_SET, "o", "v10", 10);
  b.add(STRATA_TIER_SET, "o", "v9", 9);
  b.add(STRATA_TIER_SET, "o", "v11", 11);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  EXPECT_EQ(b.ops[0].status, STRATA_OK);
  EXPECT_EQ(b.ops[1].status, STRATA_NOT_STORED);
  EXPECT_EQ(b.ops[2].status, STRATA_OK);
  EXPECT_EQ(tier->get("o"), "v11");
  EXPECT_GE(metric("strata_redis_version_rejects_total"), 3);
}

TEST_F(RedisL2Test, VersionedDeleteLeavesTombstoneAgainstResurrection) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "tombstone_ttl = \"10m\"\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v5", 5), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_DELETE, "k", "", 4), STRATA_NOT_STORED);  // older delete
  EXPECT_EQ(tier->get("k"), "v5");
  EXPECT_EQ(tier->one(STRATA_TIER_DELETE, "k", "", 6), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_GET, "k"), STRATA_NOT_FOUND);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v5", 5), STRATA_NOT_STORED);  // replay
  EXPECT_EQ(tier->one(STRATA_TIER_GET, "k"), STRATA_NOT_FOUND);
  long long pttl = std::atoll(redis.redis_cli("PTTL '{k}:strata-ver'").c_str());
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 600000);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v7", 7), STRATA_OK);  // newer write wins
  EXPECT_EQ(tier->get("k"), "v7");
  // A versioned delete of an absent key still writes the tombstone.
  EXPECT_EQ(tier->one(STRATA_TIER_DELETE, "never", "", 9), STRATA_NOT_FOUND);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "never", "v8", 8), STRATA_NOT_STORED);
}

TEST_F(RedisL2Test, TtlsOfValueAndCompanionKey) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "ttl = \"60s\"\ntombstone_ttl = \"1h\"\n");
  ASSERT_TRUE(tier);
  auto pttl = [&](const std::string& key) {
    return std::atoll(redis.redis_cli("PTTL '" + key + "'").c_str());
  };
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "dflt", "x"), STRATA_OK);  // 0 -> option ttl
  EXPECT_GT(pttl("dflt"), 0);
  EXPECT_LE(pttl("dflt"), 60000);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "forever", "x", 0, -1), STRATA_OK);
  EXPECT_EQ(pttl("forever"), -1);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "v", "x", 3, 5000), STRATA_OK);
  EXPECT_GT(pttl("v"), 0);
  EXPECT_LE(pttl("v"), 5000);
  // The companion outlives the value by tombstone_ttl: an expired value acts as deleted.
  EXPECT_GT(pttl("{v}:strata-ver"), 3600000);
  EXPECT_EQ(tier->one(STRATA_TIER_ADD, "added", "x", 0, 7000), STRATA_OK);
  EXPECT_LE(pttl("added"), 7000);
}

// A GET also reports the value's remaining TTL (PTTL in the same pipeline, no extra round).
TEST_F(RedisL2Test, GetReportsTheRemainingTtl) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "connections = 1\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "short", "x", 0, 60000), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "forever", "x", 0, -1), STRATA_OK);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "versioned", "x", 7, 30000), STRATA_OK);
  double rounds = metric("strata_redis_roundtrips_total");
  Batch b;
  b.add(STRATA_TIER_GET, "short");
  b.add(STRATA_TIER_GET, "forever");
  b.add(STRATA_TIER_GET, "missing");
  b.add(STRATA_TIER_GET, "versioned");
  for (auto& op : b.ops) op.result_ttl_ms = 12345;  // must be reset by the module
  ASSERT_EQ(tier->run(b), STRATA_OK);
  EXPECT_EQ(metric("strata_redis_roundtrips_total") - rounds, 1);
  EXPECT_EQ(b.ops[0].status, STRATA_OK);
  EXPECT_EQ(b.results[0].value, "x");
  EXPECT_GT(b.ops[0].result_ttl_ms, 0);
  EXPECT_LE(b.ops[0].result_ttl_ms, 60000);
  EXPECT_EQ(b.ops[1].status, STRATA_OK);
  EXPECT_EQ(b.ops[1].result_ttl_ms, -1);
  EXPECT_EQ(b.ops[2].status, STRATA_NOT_FOUND);
  EXPECT_EQ(b.ops[2].result_ttl_ms, 0);
  EXPECT_EQ(b.ops[3].status, STRATA_OK);
  EXPECT_GT(b.ops[3].result_ttl_ms, 0);
  EXPECT_LE(b.ops[3].result_ttl_ms, 30000);

  // A host built for ABI 1.0 passes smaller ops: the field is left alone.
  Batch old;
  old.add(STRATA_TIER_GET, "short");
  old.ops[0].result_ttl_ms = 777;
  strata_tier_op* ops = old.prepare();
  ops[0].struct_size = offsetof(strata_tier_op, result_ttl_ms);
  strata_error err{};
  ASSERT_EQ(tier->instance().tier()->execute(tier->instance().handle(), ops, 1, &err), STRATA_OK);
  EXPECT_EQ(ops[0].status, STRATA_OK);
  EXPECT_EQ(ops[0].result_ttl_ms, 777);
}

TEST_F(RedisL2Test, NoscriptIsReloadedAndTheWriteSucceeds) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "connections = 1\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v1", 1), STRATA_OK);
  EXPECT_EQ(redis.redis_cli("SCRIPT FLUSH"), "OK");
  Batch b;
  b.add(STRATA_TIER_SET, "k", "v2", 2);
  b.add(STRATA_TIER_GET, "k");
  b.add(STRATA_TIER_SET, "k", "v1", 1);  // still refused after the reload
  ASSERT_EQ(tier->run(b), STRATA_OK);
  EXPECT_EQ(b.ops[0].status, STRATA_OK) << b.ops[0].error;
  EXPECT_EQ(b.ops[2].status, STRATA_NOT_STORED) << b.ops[2].error;
  EXPECT_EQ(tier->get("k"), "v2");
  EXPECT_EQ(metric("strata_redis_noscript_reloads_total"), 1);
}

TEST_F(RedisL2Test, KilledServerIsUnavailableAndRestartResumesWrites) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "connections = 3\nconnect_timeout = \"100ms\"\n");
  ASSERT_TRUE(tier);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v1", 1), STRATA_OK);
  redis.kill();
  // First batch hits the dead connection, the next one cannot connect; both are retryable.
  for (int i = 0; i < 2; ++i) {
    Batch b;
    b.add(STRATA_TIER_SET, "k", "v2", 2);
    b.add(STRATA_TIER_GET, "k");
    tier->run(b);
    for (auto& op : b.ops) {
      EXPECT_EQ(op.status, STRATA_ERR_UNAVAILABLE);
      EXPECT_NE(std::string(op.error).find("redis " + redis.address()), std::string::npos)
          << op.error;
    }
    if (i == 1) {
      EXPECT_NE(std::string(b.ops[0].error).find("connect failed"), std::string::npos);
    }
  }
  std::string msg;
  EXPECT_EQ(tier->health(&msg), STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(msg.find("connect failed"), std::string::npos) << msg;

  ASSERT_TRUE(redis.start());  // same port, empty dataset
  // Every pooled connection was replaced: no caller after the restart sees a stale one.
  for (int i = 0; i < 6; ++i) EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v2", 2), STRATA_OK) << i;
  EXPECT_EQ(redis.redis_cli("GET k"), "v2");
  EXPECT_EQ(tier->health(&msg), STRATA_OK) << msg;
  EXPECT_GE(metric("strata_redis_reconnects_total"), 1);
}

TEST_F(RedisL2Test, TimeoutMidBatchKeepsAnsweredStatuses) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "connections = 1\ncommand_timeout = \"200ms\"\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "a", "1"), STRATA_OK);
  // Reads still run, the first write blocks the connection (and everything behind it).
  EXPECT_EQ(redis.redis_cli("CLIENT PAUSE 3000 WRITE"), "OK");
  Batch b;
  b.add(STRATA_TIER_GET, "a");
  b.add(STRATA_TIER_GET, "missing");
  b.add(STRATA_TIER_SET, "c", "3", 1);
  b.add(STRATA_TIER_GET, "a");
  tier->run(b);
  EXPECT_EQ(b.ops[0].status, STRATA_OK);
  EXPECT_EQ(b.results[0].value, "1");
  EXPECT_EQ(b.ops[1].status, STRATA_NOT_FOUND);
  EXPECT_EQ(b.ops[2].status, STRATA_ERR_UNAVAILABLE);
  EXPECT_NE(std::string(b.ops[2].error).find("timed out"), std::string::npos) << b.ops[2].error;
  EXPECT_EQ(b.ops[3].status, STRATA_ERR_UNAVAILABLE);
  EXPECT_EQ(redis.redis_cli("CLIENT UNPAUSE"), "OK");
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "c", "3", 1), STRATA_OK);  // retry is idempotent
  EXPECT_EQ(tier->get("c"), "3");
}

TEST_F(RedisL2Test, PasswordAuth) {
  ServerProcess redis(ServerProcess::Kind::Redis, 0, {"--requirepass", "s3cret"});
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "password = \"s3cret\"\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v", 1), STRATA_OK);
  EXPECT_EQ(redis.redis_cli("-a s3cret --no-auth-warning GET k"), "v");

  for (const char* bad : {"", "password = \"nottheone\"\n"}) {
    auto inst = create(addr(redis) + bad);
    ASSERT_TRUE(inst.ok()) << inst.error();
    auto started = inst.value()->start();
    ASSERT_FALSE(started.ok());
    EXPECT_NE(started.error().find(*bad ? "AUTH failed" : "NOAUTH"), std::string::npos)
        << started.error();
    EXPECT_EQ(started.error().find("nottheone"), std::string::npos);  // secret not echoed
  }
}

TEST_F(RedisL2Test, AclUserAndUrlWithDb) {
  ServerProcess redis(ServerProcess::Kind::Redis, 0,
                      {"--user", "alice", "on", ">pw", "~*", "+@all"});
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "username = \"alice\"\npassword = \"pw\"\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "alice-wrote", 1), STRATA_OK);
  EXPECT_EQ(redis.redis_cli("GET k"), "alice-wrote");

  auto url =
      open("address = \"redis://alice:pw@127.0.0.1:" + std::to_string(redis.port()) + "/3\"\n");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->one(STRATA_TIER_SET, "in3", "db3", 7), STRATA_OK);
  EXPECT_EQ(redis.redis_cli("-n 3 GET in3"), "db3");
  EXPECT_EQ(redis.redis_cli("-n 0 EXISTS in3"), "0");

  auto bad =
      create("address = \"redis://alice:nope@127.0.0.1:" + std::to_string(redis.port()) + "\"\n");
  ASSERT_TRUE(bad.ok());
  auto started = bad.value()->start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().find("AUTH as user failed"), std::string::npos) << started.error();
  EXPECT_EQ(started.error().find("nope"), std::string::npos);
}

TEST_F(RedisL2Test, UnixSocket) {
  char tmpl[] = "/tmp/strata-redis-sock-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string sock = std::string(tmpl) + "/redis.sock";
  {
    ServerProcess redis(ServerProcess::Kind::Redis, 0,
                        {"--unixsocket", sock, "--unixsocketperm", "700"});
    ASSERT_TRUE(redis.start());
    auto tier = open("address = \"" + sock + "\"\ndb = 2\n");
    ASSERT_TRUE(tier);
    EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "via-socket", 1), STRATA_OK);
    EXPECT_EQ(test::run_command("redis-cli -s " + sock + " -n 2 GET k"), "via-socket\n");
  }
  test::run_command(std::string("rm -rf ") + tmpl);
}

TEST_F(RedisL2Test, BadAddressIsRefusedAtCreate) {
  for (const char* a : {"127.0.0.1:99999", "rediss://h:1", "redis://h:1/x", "http://h"}) {
    auto inst = create(std::string("address = \"") + a + "\"\n");
    ASSERT_FALSE(inst.ok()) << a;
    EXPECT_NE(inst.error().find("address"), std::string::npos) << inst.error();
  }
}

TEST_F(RedisL2Test, BatchLargerThanPipelineDepthTakesSeveralRounds) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "pipeline_depth = 100\nconnections = 1\nversioned_batch = 5\n");
  ASSERT_TRUE(tier);
  double before = metric("strata_redis_roundtrips_total");
  Batch plain;  // one command per op: 1050 commands
  for (int i = 0; i < 1050; ++i)
    plain.add(STRATA_TIER_SET, "k" + std::to_string(i), "p" + std::to_string(i));
  ASSERT_EQ(tier->run(plain), STRATA_OK);
  for (auto& op : plain.ops) ASSERT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(metric("strata_redis_roundtrips_total") - before, 11);
  // Versioned sets: 5 per EVALSHA, so 210 commands in 3 rounds of at most 100.
  before = metric("strata_redis_roundtrips_total");
  long long evalsha_before = evalsha_calls(redis);
  Batch sets;
  for (int i = 0; i < 1050; ++i)
    sets.add(STRATA_TIER_SET, "k" + std::to_string(i), "v" + std::to_string(i), 1);
  ASSERT_EQ(tier->run(sets), STRATA_OK);
  for (auto& op : sets.ops) ASSERT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(metric("strata_redis_roundtrips_total") - before, 3);
  EXPECT_EQ(evalsha_calls(redis) - evalsha_before, 210);
  Batch gets;
  for (int i = 0; i < 1050; ++i) gets.add(STRATA_TIER_GET, "k" + std::to_string(i));
  ASSERT_EQ(tier->run(gets), STRATA_OK);
  for (int i = 0; i < 1050; ++i) {
    ASSERT_EQ(gets.ops[i].status, STRATA_OK);
    ASSERT_EQ(gets.results[i].value, "v" + std::to_string(i));
  }
  EXPECT_EQ(redis.redis_cli("DBSIZE"), "2100");  // 1050 values + 1050 version keys
}

TEST_F(RedisL2Test, LargeValuesSplitRoundsByBytes) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "connections = 1\n");
  ASSERT_TRUE(tier);
  const std::string big(5 << 20, 'x');
  double before = metric("strata_redis_roundtrips_total");
  Batch b;
  for (int i = 0; i < 3; ++i) b.add(STRATA_TIER_SET, "big" + std::to_string(i), big, 1);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  for (auto& op : b.ops) ASSERT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(metric("strata_redis_roundtrips_total") - before, 2);  // 8 MiB cap per round
  EXPECT_EQ(tier->get("big2"), big);
  EXPECT_EQ(redis.redis_cli("STRLEN big1"), std::to_string(big.size()));
}

TEST_F(RedisL2Test, ThousandVersionedSetsAreOnePipelinedRoundTrip) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis));
  ASSERT_TRUE(tier);
  long long evalsha_before = evalsha_calls(redis);
  double trips_before = metric("strata_redis_roundtrips_total");
  Batch b;
  for (int i = 0; i < 1000; ++i) b.add(STRATA_TIER_SET, "p" + std::to_string(i), "x", 100 + i);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  for (auto& op : b.ops) ASSERT_EQ(op.status, STRATA_OK) << op.error;
  // versioned_batch = 100: ten script calls, pipelined in one round trip.
  EXPECT_EQ(evalsha_calls(redis) - evalsha_before, 10);
  EXPECT_EQ(metric("strata_redis_roundtrips_total") - trips_before, 1);
  EXPECT_EQ(redis.redis_cli("GET '{p999}:strata-ver'"), "1099");

  // versioned_batch = 1: one script call per op, still one round trip.
  name_ += "_single";
  auto single = open(addr(redis) + "versioned_batch = 1\nkey_prefix = \"one:\"\n");
  ASSERT_TRUE(single);
  evalsha_before = evalsha_calls(redis);
  ASSERT_EQ(single->run(b), STRATA_OK);
  for (auto& op : b.ops) ASSERT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(evalsha_calls(redis) - evalsha_before, 1000);
  EXPECT_EQ(metric("strata_redis_roundtrips_total"), 1);
}

TEST_F(RedisL2Test, ConcurrentCallersShareThePool) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "connections = 3\n");
  ASSERT_TRUE(tier);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        Batch b;
        for (int i = 0; i < 20; ++i)
          b.add(STRATA_TIER_SET, "t" + std::to_string(t) + ":" + std::to_string(i),
                std::to_string(round), static_cast<uint64_t>(round + 1));
        tier->run(b);
        for (auto& op : b.ops) failures[t] += op.status != STRATA_OK;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0);
  EXPECT_EQ(tier->get("t2:7"), "49");
}

// What the versioned-write semantics say each op of a batch gets, applied one op at a time:
// older -> NOT_STORED (nothing changes), equal or newer -> applied, a delete leaves a
// tombstone version and says NOT_FOUND when there was no value.
struct Model {
  struct Item {
    bool has_value = false;
    std::string value;
    uint64_t version = 0;  // 0: no companion key
  };
  std::map<std::string, Item> items;

  strata_status apply(const strata_tier_op& op, const std::string& key, const std::string& value,
                      std::string* got) {
    if (key.empty()) return STRATA_ERR_BAD_KEY;
    Item& it = items[key];
    switch (op.kind) {
      case STRATA_TIER_GET:
        *got = it.value;
        return it.has_value ? STRATA_OK : STRATA_NOT_FOUND;
      case STRATA_TIER_SET:
        if (op.version != 0 && it.version > op.version) return STRATA_NOT_STORED;
        if (op.version != 0) it.version = op.version;
        it.has_value = true;
        it.value = value;
        return STRATA_OK;
      default: {  // versioned DELETE
        if (it.version > op.version) return STRATA_NOT_STORED;
        it.version = op.version;
        bool had = it.has_value;
        it.has_value = false;
        it.value.clear();
        return had ? STRATA_OK : STRATA_NOT_FOUND;
      }
    }
  }
};

// A mixed batch (versioned sets and deletes, older / equal / newer versions on a few keys, TTLs,
// plain GETs and SETs that end a run, an empty key) gives every op the same status whether the
// script takes 1, 7 or 100 ops per call, and the status the one-op-at-a-time semantics say.
TEST_F(RedisL2Test, BatchedScriptCallsGiveTheSameStatusesAsOneCallPerOp) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  const std::vector<int> sizes = {1, 7, 100};
  std::vector<std::unique_ptr<TierHandle>> tiers;
  const std::string base = name_;
  for (int size : sizes) {
    name_ = base + std::to_string(size);
    tiers.push_back(open(addr(redis) +
                         "tombstone_ttl = \"10m\"\nversioned_batch = " + std::to_string(size) +
                         "\nkey_prefix = \"b" + std::to_string(size) + ":\"\n"));
    ASSERT_TRUE(tiers.back());
  }
  Batch b;
  Model model;
  std::vector<strata_status> expected;
  std::vector<std::string> expected_get;
  uint32_t seed = 12345;
  auto rnd = [&](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
  };
  for (int i = 0; i < 600; ++i) {
    std::string key = "m" + std::to_string(rnd(6));
    uint32_t pick = rnd(100);
    uint64_t version = 1 + rnd(40);
    int64_t ttl = std::vector<int64_t>{0, -1, 600000}[rnd(3)];
    std::string value = "v" + std::to_string(i);
    if (pick < 55)
      b.add(STRATA_TIER_SET, key, value, version, ttl);
    else if (pick < 80)
      b.add(STRATA_TIER_DELETE, key, "", version);
    else if (pick < 92)
      b.add(STRATA_TIER_GET, key);
    else if (pick < 96)
      b.add(STRATA_TIER_SET, key, value, 0, ttl);  // plain: no version check, companion kept
    else
      b.add(STRATA_TIER_SET, "", value, version);
    std::string got;
    expected.push_back(model.apply(b.ops.back(), b.keys.back(), b.values.back(), &got));
    expected_get.push_back(got);
  }
  for (size_t t = 0; t < tiers.size(); ++t) {
    ASSERT_EQ(tiers[t]->run(b), STRATA_OK);
    for (size_t i = 0; i < b.ops.size(); ++i) {
      ASSERT_EQ(b.ops[i].status, expected[i])
          << "versioned_batch " << sizes[t] << ", op " << i << ": " << b.ops[i].error;
      if (b.ops[i].kind == STRATA_TIER_GET && expected[i] == STRATA_OK) {
        ASSERT_EQ(b.results[i].value, expected_get[i]) << i;
      }
    }
  }
  // Same stored state (values, versions, which keys expire) under every prefix.
  for (auto& [key, item] : model.items) {
    if (key.empty()) continue;
    for (int size : sizes) {
      std::string k = "b" + std::to_string(size) + ":" + key, vk = "{" + k + "}:strata-ver";
      EXPECT_EQ(redis.redis_cli("GET " + k), item.has_value ? item.value : "") << k;
      EXPECT_EQ(redis.redis_cli("GET '" + vk + "'"), std::to_string(item.version)) << vk;
      auto pttl = [&](const std::string& x) {
        return std::atoll(redis.redis_cli("PTTL '" + x + "'").c_str());
      };
      std::string ref = "b1:" + key;
      EXPECT_EQ(pttl(k) > 0, pttl(ref) > 0) << k;
      EXPECT_EQ(pttl(vk) > 0, pttl("{" + ref + "}:strata-ver") > 0) << vk;
    }
  }
  name_ = base + "100";
  EXPECT_GT(metric("strata_redis_version_rejects_total"), 0);
}

// A call boundary between two ops of one key: the second call sees what the first wrote.
TEST_F(RedisL2Test, CallBoundaryBetweenTwoOpsOfOneKey) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "versioned_batch = 3\n");
  ASSERT_TRUE(tier);
  long long evalsha_before = evalsha_calls(redis);
  Batch b;
  b.add(STRATA_TIER_SET, "a", "a1", 1);
  b.add(STRATA_TIER_SET, "k", "k10", 10);
  b.add(STRATA_TIER_SET, "k", "k12", 12, 600000);  // last op of the first call
  b.add(STRATA_TIER_SET, "k", "k11", 11);          // first op of the second: older
  b.add(STRATA_TIER_DELETE, "k", "", 12);          // equal: applied
  b.add(STRATA_TIER_SET, "k", "k12", 12);          // equal again: rewrites
  b.add(STRATA_TIER_DELETE, "k", "", 13);          // third call
  ASSERT_EQ(tier->run(b), STRATA_OK);
  std::vector<strata_status> want = {STRATA_OK, STRATA_OK, STRATA_OK, STRATA_NOT_STORED,
                                     STRATA_OK, STRATA_OK, STRATA_OK};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(b.ops[i].status, want[i]) << i;
  EXPECT_EQ(evalsha_calls(redis) - evalsha_before, 3);
  EXPECT_EQ(redis.redis_cli("EXISTS k"), "0");
  EXPECT_EQ(redis.redis_cli("GET '{k}:strata-ver'"), "13");
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "k12", 12), STRATA_NOT_STORED);  // tombstone
}

// A companion key of the wrong type fails only its own ops; the others of the call proceed.
TEST_F(RedisL2Test, WrongTypeFailsOnlyItsOpInsideABatchedCall) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis));
  ASSERT_TRUE(tier);
  redis.redis_cli("RPUSH '{bad}:strata-ver' 1");
  Batch b;
  b.add(STRATA_TIER_SET, "x", "x1", 1);
  b.add(STRATA_TIER_SET, "bad", "b", 1);
  b.add(STRATA_TIER_DELETE, "bad", "", 2);
  b.add(STRATA_TIER_SET, "y", "y1", 1);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  EXPECT_EQ(b.ops[0].status, STRATA_OK);
  EXPECT_EQ(b.ops[1].status, STRATA_ERR_INVALID) << b.ops[1].error;
  EXPECT_NE(std::string(b.ops[1].error).find("WRONGTYPE"), std::string::npos) << b.ops[1].error;
  EXPECT_EQ(b.ops[2].status, STRATA_ERR_INVALID);
  EXPECT_EQ(b.ops[3].status, STRATA_OK);
  EXPECT_EQ(redis.redis_cli("EXISTS bad"), "0");
  EXPECT_EQ(redis.redis_cli("GET y"), "y1");
}

// NOSCRIPT for a batched run spread over several calls and rounds: the refused calls are
// replayed once in order after one reload, the plain op between them ran once.
TEST_F(RedisL2Test, NoscriptInABatchedRunReplaysTheRefusedCalls) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "connections = 1\nversioned_batch = 4\npipeline_depth = 3\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v5", 5), STRATA_OK);
  EXPECT_EQ(redis.redis_cli("SCRIPT FLUSH"), "OK");
  Batch b;
  for (int i = 0; i < 6; ++i) b.add(STRATA_TIER_SET, "r" + std::to_string(i), "x", 1);
  b.add(STRATA_TIER_SET, "k", "v4", 4);  // 7th op: second call, older
  b.add(STRATA_TIER_SET, "k", "v6", 6);
  b.add(STRATA_TIER_GET, "r0");  // plain op between two runs
  for (int i = 0; i < 10; ++i) b.add(STRATA_TIER_SET, "k", "v" + std::to_string(7 + i), 7 + i);
  ASSERT_EQ(tier->run(b), STRATA_OK);
  // Round 1 = call(r0..r3), call(r4 r5 k:4 k:6), GET r0; round 2 = the three calls after it.
  // The GET ran before the replay of the refused calls (documented), so r0 was not there yet.
  for (size_t i = 0; i < b.ops.size(); ++i) {
    strata_status want = i == 6 ? STRATA_NOT_STORED : i == 8 ? STRATA_NOT_FOUND : STRATA_OK;
    EXPECT_EQ(b.ops[i].status, want) << i << " " << b.ops[i].error;
  }
  EXPECT_EQ(tier->get("k"), "v16");
  EXPECT_EQ(tier->get("r5"), "x");
  EXPECT_EQ(metric("strata_redis_noscript_reloads_total"), 1);
}

// A pause that blocks writes mid-batch: answered calls keep their statuses, every op of a call
// whose reply was not read is ERR_UNAVAILABLE, and the retry applies them exactly once.
TEST_F(RedisL2Test, TimeoutMidBatchedRunKeepsAnsweredStatuses) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier =
      open(addr(redis) + "connections = 1\ncommand_timeout = \"200ms\"\nversioned_batch = 2\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "a", "1"), STRATA_OK);
  EXPECT_EQ(redis.redis_cli("CLIENT PAUSE 3000 WRITE"), "OK");
  Batch b;
  b.add(STRATA_TIER_GET, "a");
  b.add(STRATA_TIER_GET, "missing");
  for (int i = 0; i < 5; ++i) b.add(STRATA_TIER_SET, "c", "c" + std::to_string(i), 1 + i);
  b.add(STRATA_TIER_GET, "a");
  tier->run(b);
  EXPECT_EQ(b.ops[0].status, STRATA_OK);
  EXPECT_EQ(b.results[0].value, "1");
  EXPECT_EQ(b.ops[1].status, STRATA_NOT_FOUND);
  for (size_t i = 2; i < b.ops.size(); ++i) {
    EXPECT_EQ(b.ops[i].status, STRATA_ERR_UNAVAILABLE) << i;
    EXPECT_NE(std::string(b.ops[i].error).find("timed out"), std::string::npos) << b.ops[i].error;
  }
  EXPECT_EQ(redis.redis_cli("CLIENT UNPAUSE"), "OK");
  Batch retry;
  for (int i = 0; i < 5; ++i) retry.add(STRATA_TIER_SET, "c", "c" + std::to_string(i), 1 + i);
  ASSERT_EQ(tier->run(retry), STRATA_OK);
  for (auto& op : retry.ops) EXPECT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(tier->get("c"), "c4");
}

// A server killed before a batch of several calls: every op is ERR_UNAVAILABLE, none is lost
// silently, and after the restart the same batch applies.
TEST_F(RedisL2Test, KilledServerFailsEveryOpOfABatchedRun) {
  ServerProcess redis(ServerProcess::Kind::Redis);
  ASSERT_TRUE(redis.start());
  auto tier = open(addr(redis) + "connections = 1\nversioned_batch = 3\n");
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->one(STRATA_TIER_SET, "k", "v1", 1), STRATA_OK);
  redis.kill();
  Batch b;
  for (int i = 0; i < 10; ++i) b.add(STRATA_TIER_SET, "k" + std::to_string(i), "x", 2);
  tier->run(b);
  for (auto& op : b.ops) EXPECT_EQ(op.status, STRATA_ERR_UNAVAILABLE) << op.error;
  ASSERT_TRUE(redis.start());
  ASSERT_EQ(tier->run(b), STRATA_OK);
  for (auto& op : b.ops) EXPECT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(redis.redis_cli("GET '{k9}:strata-ver'"), "2");
}

}  // namespace
}  // namespace strata
