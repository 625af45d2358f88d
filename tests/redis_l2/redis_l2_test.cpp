// Integration tests of the redis_l2 tier module (issue #3) against real redis-server processes:
// the module is loaded as a .so through the host's loader, options go through the host's
// validator, and results are checked with redis-cli (a plain client) and INFO commandstats.
#include <gtest/gtest.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "loader/loader.hpp"
#include "metrics/metrics.hpp"
#include "servers.hpp"

namespace strata {
namespace {

using test::ServerProcess;

// A batch of tier ops with stable storage for keys, values and GET results.
struct Batch {
  std::vector<std::string> keys, values;
  std::vector<strata_tier_op> ops;
  std::vector<OpResult> results;

  void add(strata_tier_op_kind kind, std::string key, std::string value = "", uint64_t version = 0,
           int64_t ttl_ms = 0) {
    keys.push_back(std::move(key));
    values.push_back(std::move(value));
    strata_tier_op op{};
    op.struct_size = sizeof op;
    op.kind = kind;
    op.version = version;
    op.ttl_ms = ttl_ms;
    ops.push_back(op);
  }
  // Fixes the pointers once the vectors stop growing.
  strata_tier_op* prepare() {
    results.assign(ops.size(), OpResult{});
    for (size_t i = 0; i < ops.size(); ++i) {
      ops[i].key = {keys[i].data(), keys[i].size()};
      ops[i].value = {values[i].data(), values[i].size()};
      ops[i].host_result = &results[i];
      ops[i].status = STRATA_ERR_INTERNAL;
    }
    return ops.data();
  }
};

class TierHandle {
 public:
  explicit TierHandle(std::unique_ptr<ModuleInstance> inst) : inst_(std::move(inst)) {}
  int run(Batch& b, std::string* err_out = nullptr) {
    strata_error err{};
    int rc = inst_->tier()->execute(inst_->handle(), b.prepare(), b.ops.size(), &err);
    if (err_out) *err_out = err.message;
    return rc;
  }
  // One op; returns its status (and the GET value / the error in *out).
  strata_status one(strata_tier_op_kind kind, const std::string& key, const std::string& value = "",
                    uint64_t version = 0, int64_t ttl_ms = 0, std::string* out = nullptr) {
    Batch b;
    b.add(kind, key, value, version, ttl_ms);
    run(b);
    if (out)
      *out =
          kind == STRATA_TIER_GET && b.results[0].has_value ? b.results[0].value : b.ops[0].error;
    return b.ops[0].status;
  }
  std::string get(const std::string& key) {
    std::string v;
    return one(STRATA_TIER_GET, key, "", 0, 0, &v) == STRATA_OK ? v : "<missing>";
  }
  int health(std::string* msg) {
    strata_error err{};
    int rc = inst_->tier()->health(inst_->handle(), &err);
    *msg = err.message;
    return rc;
  }
  ModuleInstance& instance() { return *inst_; }

 private:
  std::unique_ptr<ModuleInstance> inst_;
};

class RedisL2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    loader_ = new ModuleLoader(ModuleLoader::default_search_path(""));
    auto m = loader_->load("redis_l2");
    ASSERT_TRUE(m.ok()) << m.error();
    module_ = m.value();
  }
  static void TearDownTestSuite() {
    delete loader_;
    loader_ = nullptr;
  }

  // Validated options from TOML text; the instance is created but not started.
  Result<std::unique_ptr<ModuleInstance>> create(const std::string& toml_text) {
    toml::table table = toml::parse(toml_text);
    Diagnostics diags;
    auto opts = validate_table(table, "redis_l2_test.toml", "tiers." + name_,
                               module_->desc->options, module_->desc->option_count, {}, diags);
    if (!opts) return fail(diags.str());
    return ModuleInstance::create(*module_, "tiers." + name_, "", std::move(*opts));
  }
  // Created and started; fails the test otherwise.
  std::unique_ptr<TierHandle> open(const std::string& toml_text) {
    auto inst = create(toml_text);
    EXPECT_TRUE(inst.ok()) << inst.error();
    if (!inst.ok()) return nullptr;
    auto started = inst.value()->start();
    EXPECT_TRUE(started.ok()) << started.error();
    return std::make_unique<TierHandle>(std::move(inst.value()));
  }
  std::string addr(const ServerProcess& r) { return "address = \"" + r.address() + "\"\n"; }

  double metric(const std::string& name) {
    Series* s = MetricsRegistry::global().find(name, "instance=\"tiers." + name_ + "\"");
    return s ? s->value() : 0.0;
  }
  static long long evalsha_calls(const ServerProcess& r) {
    std::string info = r.redis_cli("INFO commandstats");
    size_t p = info.find("cmdstat_evalsha:calls=");
    return p == std::string::npos ? 0 : std::atoll(info.c_str() + p + 22);
  }

  void SetUp() override {
    // A per-test instance name keeps metric series apart.
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  std::string name_;
  static ModuleLoader* loader_;
  static const LoadedModule* module_;
};

ModuleLoader* RedisL2Test::loader_ = nullptr;
const LoadedModule* RedisL2Test::module_ = nullptr;

TEST_F(RedisL2Test, DescriptorIsADurableVersionedTier) {
  EXPECT_EQ(module_->desc->kind, STRATA_KIND_TIER);
  auto* hooks = static_cast<const strata_tier_hooks*>(module_->desc->kind_hooks);
  EXPECT_EQ(hooks->tier_flags, STRATA_TIER_DURABLE | STRATA_TIER_VERSIONED);
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
  auto tier = open(addr(redis) + "pipeline_depth = 100\nconnections = 1\n");
  ASSERT_TRUE(tier);
  double before = metric("strata_redis_roundtrips_total");
  Batch sets;
  for (int i = 0; i < 1050; ++i)
    sets.add(STRATA_TIER_SET, "k" + std::to_string(i), "v" + std::to_string(i), 1);
  ASSERT_EQ(tier->run(sets), STRATA_OK);
  for (auto& op : sets.ops) ASSERT_EQ(op.status, STRATA_OK) << op.error;
  EXPECT_EQ(metric("strata_redis_roundtrips_total") - before, 11);
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
  EXPECT_EQ(evalsha_calls(redis) - evalsha_before, 1000);
  EXPECT_EQ(metric("strata_redis_roundtrips_total") - trips_before, 1);
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

}  // namespace
}  // namespace strata
