// Integration tests of the tier chain over REAL memcached and redis-server processes with the
// real memcached_l1 and redis_l2 modules (loaded from $STRATA_MODULES_PATH): read-through and
// refill, single-flight against Redis's own command counters, each server killed and restarted.
#include <gtest/gtest.h>
#include <libmemcached-1.0/memcached.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <optional>
#include <thread>

#include "chain/tier.hpp"
#include "chain/tier_chain.hpp"
#include "config/config.hpp"
#include "loader/loader.hpp"
#include "servers.hpp"

namespace strata {
namespace {

using test::ServerProcess;
using namespace std::chrono_literals;

// A plain libmemcached client: what any other application would see in memcached.
class RawMemcached {
 public:
  explicit RawMemcached(int port) : mc_(memcached_create(nullptr)) {
    memcached_server_add(mc_, "127.0.0.1", static_cast<in_port_t>(port));
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 200);
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 200);
  }
  ~RawMemcached() { memcached_free(mc_); }
  std::optional<std::string> get(const std::string& key, uint32_t* flags_out = nullptr) {
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char* v = memcached_get(mc_, key.data(), key.size(), &len, &flags, &rc);
    if (flags_out) *flags_out = flags;
    if (!v) {
      // libmemcached returns NULL for an empty value too.
      if (rc == MEMCACHED_SUCCESS) return std::string();
      return std::nullopt;
    }
    std::string out(v, len);
    free(v);
    return out;
  }

 private:
  memcached_st* mc_;
};

// Remaining TTL of `key` in seconds from memcached's meta get ("mg KEY t" -> "HD t17"; -1 =
// no expiry), or INT_MIN when the key is absent or the answer is not understood.
int memcached_ttl(int port, const std::string& key) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return INT_MIN;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string cmd = "mg " + key + " t\r\n";
    if (::write(fd, cmd.data(), cmd.size()) == static_cast<ssize_t>(cmd.size())) {
      char buf[256];
      ssize_t n;
      while (reply.find("\r\n") == std::string::npos && (n = ::read(fd, buf, sizeof buf)) > 0)
        reply.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  if (reply.rfind("HD t", 0) != 0) return INT_MIN;
  return std::atoi(reply.c_str() + 4);
}

ModuleLoader& loader() {
  static ModuleLoader l(ModuleLoader::default_search_path(""));
  return l;
}

// Loads `module`, validates `options` against its schema and starts an instance.
std::unique_ptr<ModuleInstance> start_instance(const std::string& module,
                                               const std::string& instance,
                                               const toml::table& options) {
  auto mod = loader().load(module);
  EXPECT_TRUE(mod.ok()) << mod.error();
  if (!mod.ok()) return nullptr;
  const LoadedModule* m = mod.value();
  Diagnostics diags;
  auto opts = validate_table(options, "chain_integration_test.toml", instance, m->desc->options,
                             m->desc->option_count, {}, diags);
  EXPECT_TRUE(opts.has_value()) << diags.str();
  if (!opts) return nullptr;
  auto inst = ModuleInstance::create(*m, instance, "", std::move(*opts));
  EXPECT_TRUE(inst.ok()) << inst.error();
  if (!inst.ok()) return nullptr;
  auto started = inst.value()->start();
  EXPECT_TRUE(started.ok()) << started.error();
  return std::move(inst.value());
}

// Calls of one command since the last CONFIG RESETSTAT, from INFO commandstats.
long redis_calls(const ServerProcess& redis, const std::string& command) {
  std::string info = redis.redis_cli("INFO commandstats");
  std::string tag = "cmdstat_" + command + ":calls=";
  size_t at = info.find(tag);
  if (at == std::string::npos) return 0;
  return std::stol(info.substr(at + tag.size()));
}

template <typename F>
bool eventually(F&& condition, std::chrono::milliseconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

class ChainIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(redis_.start());

    toml::table l1{{"servers", toml::array{memcached_.address()}},
                   {"connect_timeout", "200ms"},
                   {"io_timeout", "500ms"},
                   {"retry_timeout", "1s"},
                   {"ttl", "1m"}};
    // Generous timeouts: a slow, shared machine must not turn into spurious failures.
    toml::table l2{{"address", redis_.address()},
                   {"connect_timeout", "500ms"},
                   {"command_timeout", "5s"},
                   {"connections", 4}};
    l1_instance_ = start_instance("memcached_l1", "tiers.l1", l1);
    l2_instance_ = start_instance("redis_l2", "tiers.l2", l2);
    ASSERT_TRUE(l1_instance_ && l2_instance_);
    BreakerSettings breaker{2, 200, 1};  // short, so recovery is quick
    l1_ = std::make_unique<Tier>(*l1_instance_, breaker);
    l2_ = std::make_unique<Tier>(*l2_instance_, breaker);
    chain_ = std::make_unique<TierChain>(std::vector<Tier*>{l1_.get(), l2_.get()}, ChainSettings{});
  }

  void TearDown() override {
    chain_.reset();
    l1_.reset();
    l2_.reset();
    l1_instance_.reset();
    l2_instance_.reset();
  }

  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  // CLIENT PAUSE needs no extra configuration; the rest are the harness's defaults.
  ServerProcess redis_{ServerProcess::Kind::Redis};
  std::unique_ptr<ModuleInstance> l1_instance_, l2_instance_;
  std::unique_ptr<Tier> l1_, l2_;
  std::unique_ptr<TierChain> chain_;
};

TEST_F(ChainIntegrationTest, KeyOnlyInRedisIsReadThroughAndLandsInMemcached) {
  ASSERT_EQ(redis_.redis_cli("SET user:1 alice"), "OK");
  RawMemcached raw(memcached_.port());
  EXPECT_FALSE(raw.get("user:1"));

  GetResult r = chain_->get("user:1");
  ASSERT_EQ(r.status, STRATA_OK) << r.error;
  EXPECT_EQ(r.value, "alice");
  EXPECT_EQ(r.tier, "tiers.l2");
  EXPECT_EQ(raw.get("user:1"), "alice");  // refilled, readable by any memcached client

  r = chain_->get("user:1");
  ASSERT_EQ(r.status, STRATA_OK) << r.error;
  EXPECT_EQ(r.value, "alice");
  EXPECT_EQ(r.tier, "tiers.l1");

  EXPECT_EQ(chain_->get("user:none").status, STRATA_NOT_FOUND);
}

// A key with a TTL in Redis: the refilled memcached copy gets the remaining TTL minus 2 s (so it
// expires before Redis's copy), not L1's default of 1 minute; a key without one gets the default.
TEST_F(ChainIntegrationTest, RefillExpiresBeforeTheRedisCopy) {
  ASSERT_EQ(redis_.redis_cli("SET short v PX 20000"), "OK");
  ASSERT_EQ(redis_.redis_cli("SET forever v"), "OK");
  EXPECT_EQ(chain_->get("short").tier, "tiers.l2");
  EXPECT_EQ(chain_->get("forever").tier, "tiers.l2");
  int short_ttl = memcached_ttl(memcached_.port(), "short");
  EXPECT_GT(short_ttl, 0);
  EXPECT_LE(short_ttl, 18);
  int forever_ttl = memcached_ttl(memcached_.port(), "forever");
  EXPECT_GT(forever_ttl, 18);
  EXPECT_LE(forever_ttl, 60);
  EXPECT_EQ(chain_->get("short").tier, "tiers.l1");

  // Less than 2 s left: no refill, the next read asks Redis again.
  ASSERT_EQ(redis_.redis_cli("SET dying v PX 1500"), "OK");
  EXPECT_NE(chain_->get("dying").tier, "tiers.l1");  // (NOT_FOUND if it expired already)
  EXPECT_EQ(memcached_ttl(memcached_.port(), "dying"), INT_MIN);
}

TEST_F(ChainIntegrationTest, ConcurrentMissesMakeOneRedisGet) {
  ASSERT_EQ(redis_.redis_cli("SET hot v"), "OK");
  ASSERT_EQ(redis_.redis_cli("CONFIG RESETSTAT"), "OK");
  // Hold every Redis client for a moment so the misses below overlap with the first GET.
  ASSERT_EQ(redis_.redis_cli("CLIENT PAUSE 300 ALL"), "OK");
  constexpr int kThreads = 6;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      GetResult r = chain_->get("hot");
      if (r.status == STRATA_OK && r.value == "v") ++answered;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(answered.load(), kThreads);
  EXPECT_EQ(redis_calls(redis_, "get"), 1);
}

TEST_F(ChainIntegrationTest, MemcachedDownReadsRedisAndComesBackAfterRestart) {
  ASSERT_TRUE(chain_->set("k0", "v0").ok());
  memcached_.kill();
  for (int i = 0; i < 5; ++i) {
    GetResult r = chain_->get("k0");
    ASSERT_EQ(r.status, STRATA_OK) << r.error;
    EXPECT_EQ(r.value, "v0");
    EXPECT_EQ(r.tier, "tiers.l2");
  }
  EXPECT_NE(l1_->breaker().state(), CircuitBreaker::State::Closed);
  EXPECT_GE(l1_->breaker().opens(), 1u);

  ASSERT_TRUE(memcached_.start());  // same port, empty
  RawMemcached raw(memcached_.port());
  int n = 0;
  bool refilled = eventually([&] {
    std::string key = "after:" + std::to_string(n++);
    redis_.redis_cli("SET " + key + " back");
    GetResult r = chain_->get(key);
    return r.status == STRATA_OK && raw.get(key) == std::optional<std::string>("back");
  });
  EXPECT_TRUE(refilled) << "no refill reached the restarted memcached";
  EXPECT_TRUE(eventually([&] {
    chain_->get("after:0");
    return l1_->breaker().state() == CircuitBreaker::State::Closed;
  }));
}

TEST_F(ChainIntegrationTest, RedisDownKeepsL1HitsAndFailsWritesUntilRestart) {
  ASSERT_TRUE(chain_->set("cached", "v1").ok());
  redis_.kill();

  GetResult r = chain_->get("cached");
  ASSERT_EQ(r.status, STRATA_OK) << r.error;
  EXPECT_EQ(r.value, "v1");
  EXPECT_EQ(r.tier, "tiers.l1");

  auto w = chain_->set("other", "x");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().find("tiers.l2"), std::string::npos) << w.error();
  r = chain_->get("uncached");
  EXPECT_TRUE(r.status == STRATA_ERR_UNAVAILABLE || r.status == STRATA_ERR_BREAKER_OPEN)
      << r.status << " " << r.error;
  EXPECT_NE(r.error.find("tiers.l2"), std::string::npos) << r.error;
  for (int i = 0; i < 3; ++i) (void)chain_->set("other", "x");
  EXPECT_NE(l2_->breaker().state(), CircuitBreaker::State::Closed);
  auto refused = chain_->set("other", "x");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("tiers.l2"), std::string::npos) << refused.error();

  r = chain_->get("cached");  // L1 still answers, flagged as possibly stale
  ASSERT_EQ(r.status, STRATA_OK) << r.error;
  EXPECT_TRUE(r.stale);

  ASSERT_TRUE(redis_.start());  // same port, empty (no persistence in tests)
  EXPECT_TRUE(eventually([&] { return chain_->set("other", "y").ok(); }));
  EXPECT_EQ(redis_.redis_cli("GET other"), "y");
  EXPECT_EQ(chain_->get("other").value, "y");
}

TEST_F(ChainIntegrationTest, OlderVersionDoesNotOverwriteNewerInRedis) {
  ASSERT_TRUE(chain_->set("doc", "new", 0, 20).ok());
  ASSERT_TRUE(chain_->set("doc", "old", 0, 10).ok());  // superseded replay: not an error
  EXPECT_EQ(redis_.redis_cli("GET doc"), "new");
  EXPECT_EQ(chain_->get("doc").value, "new");
  ASSERT_TRUE(chain_->del("doc", 15).ok());  // older than the stored version: no effect
  EXPECT_EQ(redis_.redis_cli("GET doc"), "new");
  ASSERT_TRUE(chain_->del("doc", 21).ok());
  EXPECT_EQ(redis_.redis_cli("GET doc"), "");
  EXPECT_EQ(chain_->get("doc").status, STRATA_NOT_FOUND);
}

TEST_F(ChainIntegrationTest, NegativeEntryLandsInMemcached) {
  chain_ = std::make_unique<TierChain>(std::vector<Tier*>{l1_.get(), l2_.get()},
                                       ChainSettings{/*neg_ttl_ms=*/30000});
  ASSERT_EQ(redis_.redis_cli("CONFIG RESETSTAT"), "OK");
  EXPECT_EQ(chain_->get("ghost").status, STRATA_NOT_FOUND);
  RawMemcached raw(memcached_.port());
  uint32_t flags = 0;
  EXPECT_EQ(raw.get("ghost", &flags), "");  // an empty negative entry
  EXPECT_EQ(flags, STRATA_ITEM_NEGATIVE);
  GetResult r = chain_->get("ghost");
  EXPECT_EQ(r.status, STRATA_NOT_FOUND);
  EXPECT_EQ(r.tier, "tiers.l1");
  EXPECT_EQ(redis_calls(redis_, "get"), 1);
}

}  // namespace
}  // namespace strata
