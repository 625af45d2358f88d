// End to end on a real 3-master Redis Cluster (issue 10 item 3): a strata process consumes
// 100,000 records over keys in every one of the 16384 slots from the mock Kafka cluster into
// memcached + redis_l2 (cluster mode) while `redis-cli --cluster reshard` moves slots between
// the masters; every key ends at its highest sequence in the cluster and in memcached, the
// offsets are committed to the end, and the read path (a TierChain over memcached_l1 +
// redis_l2, memcached flushed first) reads every key back from the cluster.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <libmemcached/memcached.h>
#include <toml++/toml.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "../../modules/redis_l2/crc16.hpp"
#include "chain/tier.hpp"
#include "chain/tier_chain.hpp"
#include "config/config.hpp"
#include "e2e_support.hpp"
#include "loader/loader.hpp"
#include "redis_cluster.hpp"
#include "servers.hpp"

namespace strata::test {
namespace {

constexpr int kPartitions = 8;
constexpr int kRecords = 100000;
const char* kTopic = "events";

const char* kKeysLua = R"(
local decode = strata.json.decode
function key(r)
  return "c:" .. decode(r.value).k
end
)";

// Key names whose cache keys ("c:" + name) fall into every slot, one each.
std::vector<std::string> names_in_every_slot() {
  std::vector<std::string> names(redis_l2::kClusterSlots);
  size_t filled = 0;
  for (int n = 0; filled < names.size() && n < 10000000; ++n) {
    std::string name = "k" + std::to_string(n);
    std::string& s = names[redis_l2::key_slot("c:" + name)];
    if (s.empty()) {
      s = name;
      ++filled;
    }
  }
  return names;
}

std::unique_ptr<ModuleInstance> start_instance(ModuleLoader& loader, const std::string& module,
                                               const std::string& name, const toml::table& t) {
  auto mod = loader.load(module);
  EXPECT_TRUE(mod.ok()) << mod.error();
  if (!mod.ok()) return nullptr;
  Diagnostics diags;
  auto opts = validate_table(t, "cluster_e2e.toml", name, mod.value()->desc->options,
                             mod.value()->desc->option_count, {}, diags);
  EXPECT_TRUE(opts.has_value()) << diags.str();
  if (!opts) return nullptr;
  auto inst = ModuleInstance::create(*mod.value(), name, "", std::move(*opts));
  EXPECT_TRUE(inst.ok()) << inst.error();
  if (!inst.ok()) return nullptr;
  auto started = inst.value()->start();
  EXPECT_TRUE(started.ok()) << started.error();
  return std::move(inst.value());
}

class ClusterEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    export_e2e_paths(STRATA_E2E_BIN, STRATA_E2E_MOCK_KAFKA, STRATA_E2E_MODULES);
  }
  void SetUp() override {
    dir_ = make_temp_dir("strata-cluster-e2e");
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(cluster_.start()) << "the 3-master cluster did not come up";
    ASSERT_TRUE(kafka_.start(kTopic, kPartitions, dir_)) << "strata-mock-kafka did not start";
    write_file(dir_ + "/keys.lua", kKeysLua);
  }
  void TearDown() override {
    if (HasFailure())
      std::fprintf(stderr, "kept %s for the failed test\n", dir_.c_str());
    else
      remove_tree(dir_);
  }

  std::string config() {
    std::string path = dir_ + "/strata.toml";
    write_file(path, "[admin]\nport = " + std::to_string(admin_port_) +
                         "\n\n[sources.events]\nmodule = \"kafka_source\"\n"
                         "brokers = \"" +
                         kafka_.bootstrap() + "\"\ntopics = [\"" + kTopic +
                         "\"]\ngroup_id = \"g\"\nbatch_size = 5000\nmax_wait = \"20ms\"\n"
                         "commit_interval = \"200ms\"\n"
                         "rdkafka = { \"session.timeout.ms\" = \"6000\", "
                         "\"heartbeat.interval.ms\" = \"500\" }\n"
                         "\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" +
                         memcached_.address() +
                         "\"]\nio_timeout = \"1s\"\n"
                         "\n[tiers.l2]\nmodule = \"redis_l2\"\nnodes = [\"" +
                         cluster_.seed() +
                         "\"]\ncommand_timeout = \"5s\"\nbreaker_failures = 3\n"
                         "breaker_open = \"300ms\"\n"
                         "\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\n"
                         "script = \"keys.lua\"\ndead_letter_file = \"dead.jsonl\"\n"
                         "retry_backoff = \"50ms\"\nretry_backoff_max = \"500ms\"\n");
    return path;
  }

  // `n` records: every name once, then random names; remembers each key's highest seq.
  std::string records(const std::vector<std::string>& names, int n, uint32_t seed, bool all) {
    std::mt19937 rng(seed);
    std::string out;
    for (int i = 0; i < n; ++i) {
      const std::string& k =
          all && size_t(i) < names.size() ? names[size_t(i)] : names[rng() % names.size()];
      int64_t s = ++max_seq_[k];
      out += k + "|{\"k\":\"" + k + "\",\"seq\":" + std::to_string(s) + "}\n";
    }
    return out;
  }
  bool produce(const std::string& lines) {
    std::string f = dir_ + "/produce-" + std::to_string(files_++) + ".txt";
    write_file(f, lines);
    return kcat_produce(kafka_.bootstrap(), kTopic, f);
  }
  int64_t committed() {
    return committed_and_end(kafka_.bootstrap(), "g", kTopic, kPartitions).first;
  }

  // Reads every key with plain hiredis: from node 0, following its MOVED to the master that
  // serves the slot now.
  void expect_latest_in_the_cluster() {
    std::map<int, redisContext*> conns;
    auto conn = [&](int port) {
      auto& c = conns[port];
      if (!c) c = redisConnect("127.0.0.1", port);
      return c;
    };
    int wrong = 0;
    for (auto& [k, seq] : max_seq_) {
      std::string key = "c:" + k, v;
      int port = cluster_.node(0).port();
      for (int hop = 0; hop < 3; ++hop) {
        auto* rep =
            static_cast<redisReply*>(redisCommand(conn(port), "GET %b", key.data(), key.size()));
        ASSERT_NE(rep, nullptr);
        v = rep->type == REDIS_REPLY_STRING  ? std::string(rep->str, rep->len)
            : rep->type == REDIS_REPLY_ERROR ? std::string(rep->str, rep->len)
                                             : "";
        freeReplyObject(rep);
        if (v.rfind("MOVED ", 0) != 0) break;
        port = std::atoi(v.c_str() + v.rfind(':') + 1);
      }
      if (seq_of(v) != seq && wrong++ < 5)
        ADD_FAILURE() << "redis " << key << " = '" << v << "', want seq " << seq;
    }
    EXPECT_EQ(wrong, 0);
    for (auto& [p, c] : conns) redisFree(c);
  }

  // memcached (L1, written through by the pipeline) holds every key at its highest sequence.
  void expect_latest_in_memcached() {
    std::string conf = "--SERVER=" + memcached_.address();
    memcached_st* mc = memcached(conf.c_str(), conf.size());
    ASSERT_NE(mc, nullptr);
    int wrong = 0;
    for (auto& [k, seq] : max_seq_) {
      std::string key = "c:" + k;
      size_t len = 0;
      uint32_t flags = 0;
      memcached_return_t rc;
      char* got = memcached_get(mc, key.data(), key.size(), &len, &flags, &rc);
      std::string v = got ? std::string(got, len) : "";
      free(got);
      if (seq_of(v) != seq && wrong++ < 5)
        ADD_FAILURE() << "memcached " << key << " = '" << v << "', want seq " << seq;
    }
    EXPECT_EQ(wrong, 0);
    memcached_free(mc);
  }

  // The read path: a TierChain over memcached_l1 and redis_l2 in cluster mode.
  void expect_chain_reads_every_key() {
    ModuleLoader loader(ModuleLoader::default_search_path(""));
    auto l1i = start_instance(
        loader, "memcached_l1", "tiers.l1",
        toml::table{{"servers", toml::array{memcached_.address()}}, {"io_timeout", "1s"}});
    auto l2i = start_instance(
        loader, "redis_l2", "tiers.l2",
        toml::table{{"nodes", toml::array{cluster_.node(2).address()}}, {"command_timeout", "5s"}});
    ASSERT_TRUE(l1i && l2i);
    // Flush memcached: every read then goes through to the cluster and refills L1.
    int fd = connect_loopback(memcached_.port(), 2000);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "flush_all\r\n", 11), 11);
    char buf[16];
    ASSERT_GT(::read(fd, buf, sizeof buf), 0);
    ::close(fd);
    Tier l1(*l1i, BreakerSettings{}), l2(*l2i, BreakerSettings{});
    TierChain chain({&l1, &l2}, ChainSettings{});
    int wrong = 0, from_l2 = 0;
    for (auto& [k, seq] : max_seq_) {
      GetResult r = chain.get("c:" + k);
      if (r.tier == "tiers.l2") ++from_l2;
      if ((r.status != STRATA_OK || seq_of(r.value) != seq) && wrong++ < 5)
        ADD_FAILURE() << "chain get c:" << k << ": status " << r.status << " " << r.error
                      << " value '" << r.value << "', want seq " << seq;
    }
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(size_t(from_l2), max_seq_.size());
  }

  std::string dir_;
  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  RedisCluster cluster_{3};
  MockKafka kafka_;
  std::map<std::string, int64_t> max_seq_;
  int files_ = 0;
  int admin_port_ = free_port();
};

TEST_F(ClusterEndToEnd, HundredThousandRecordsOverEverySlotSurviveAReshardDuringIngest) {
  std::vector<std::string> names = names_in_every_slot();
  ASSERT_EQ(names.back().empty(), false);
  // 20,000 records first (every name once), then chunks of 2,000 while the reshard runs,
  // the rest after it: records are applied before, during and after the slots move.
  int left = kRecords - 20000;
  ASSERT_TRUE(produce(records(names, 20000, 1, true)));
  ChildProcess strata;
  ASSERT_TRUE(
      strata.start({std::getenv("STRATA_BIN"), "run", "-c", config()}, dir_ + "/strata.log"));
  for (int i = 0; i < 600 && committed() < 5000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_GE(committed(), 5000) << "ingest did not start";
  std::string from = cluster_.id_of(0), to = cluster_.id_of(1);
  int reshard_status = -1;
  std::string reshard_out;
  std::atomic<bool> resharded{false};
  auto t0 = std::chrono::steady_clock::now();
  int64_t committed_at_reshard_start = committed();
  std::thread reshard([&] {
    reshard_out =
        run_command("redis-cli --cluster reshard " + cluster_.seed() + " --cluster-from " + from +
                        " --cluster-to " + to + " --cluster-slots 3000 --cluster-yes 2>&1",
                    &reshard_status);
    resharded = true;
  });
  bool produced = true;
  for (uint32_t seed = 2; !resharded && left > 20000 && produced; ++seed, left -= 2000) {
    produced = produce(records(names, 2000, seed, false));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  reshard.join();
  double reshard_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t committed_when_resharded = committed();
  ASSERT_TRUE(produced);
  ASSERT_EQ(reshard_status, 0) << reshard_out;
  ASSERT_TRUE(produce(records(names, left, 99, false)));
  bool all = false;
  for (int i = 0; i < 180 * 4 && !all; ++i) {
    auto [c, end] = committed_and_end(kafka_.bootstrap(), "g", kTopic, kPartitions);
    all = consumed_to_the_end(c, end, kRecords);
    if (!all) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_TRUE(all) << "committed " << committed() << " of " << kRecords;
  double ingest_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The pipeline met the moving slots: redirections followed while the reshard ran.
  std::string m = http_get(admin_port_, "/metrics");
  double moved = metric_value(m, "strata_redis_cluster_moved_total"),
         asked = metric_value(m, "strata_redis_cluster_ask_total"),
         again = metric_value(m, "strata_redis_cluster_tryagain_total"),
         maps = metric_value(m, "strata_redis_cluster_map_refreshes_total");
  std::printf(
      "reshard of 3000 slots took %.1f s, ingest from its start %.1f s; MOVED %.0f, "
      "ASK %.0f, TRYAGAIN %.0f, slot maps read %.0f\n",
      reshard_s, ingest_s, moved, asked, again, maps);
  EXPECT_GT(moved + asked + again, 0) << "the pipeline never met a moved slot";
  std::printf("committed: %lld when the reshard started, %lld when it ended, of %d\n",
              (long long)committed_at_reshard_start, (long long)committed_when_resharded, kRecords);
  EXPECT_GT(committed_when_resharded, committed_at_reshard_start) << "no ingest during the reshard";
  ASSERT_TRUE(cluster_.wait_ok());
  EXPECT_EQ(strata.stop(), 0);
  EXPECT_EQ(read_file(dir_ + "/dead.jsonl"), "");
  expect_latest_in_the_cluster();
  expect_latest_in_memcached();
  expect_chain_reads_every_key();
  // The slots really moved: node 1 serves more than its third.
  EXPECT_GT(std::atoll(cluster_.node(1).redis_cli("DBSIZE").c_str()),
            std::atoll(cluster_.node(2).redis_cli("DBSIZE").c_str()));
}

}  // namespace
}  // namespace strata::test
