// Tags end to end (issue 10 item 1): node 1 runs a Kafka pipeline whose script tags keys
// (tags()) and invalidates tags (invalidate_tags()) into its own memcached L1 and the shared
// Redis L2 with the bus on; node 2 serves reads through its own memcached L1 and runs
// redis_bus. A tag's invalidation must leave none of its keys in Redis, in node 1's L1 (the
// pipeline drops the keys the tier handed back) or in node 2's (the bus), and keep every key
// without the tag. A huge tag goes in chunks; node 1 killed with SIGKILL between two chunks
// leaves the tag index consistent with the keys, and the replay after its restart finishes.
#include <gtest/gtest.h>
#include <libmemcached/memcached.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "e2e_support.hpp"
#include "files.hpp"
#include "servers.hpp"

namespace strata::test {
namespace {

constexpr int kPartitions = 2;
const char* kTopic = "events";
const char* kStream = "strata:bus";

// {"k":K,"tag":T} writes tg:K carrying tag T (none when absent); {"drop":T} invalidates tag T.
const char* kTagsLua = R"(
local decode = strata.json.decode
function key(r)
  local ev = decode(r.value)
  if ev.drop then return nil end
  return "tg:" .. ev.k
end
function tags(r) return decode(r.value).tag end
function invalidate_tags(r) return decode(r.value).drop end
)";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class McClient {  // one memcached (or node 2's front)
 public:
  explicit McClient(int port) {
    std::string cfg = "--SERVER=127.0.0.1:" + std::to_string(port);
    mc_ = memcached(cfg.c_str(), cfg.size());
    memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 5000);
  }
  ~McClient() { memcached_free(mc_); }
  bool set(const std::string& key, const std::string& value) {
    return memcached_set(mc_, key.data(), key.size(), value.data(), value.size(), 0, 0) ==
           MEMCACHED_SUCCESS;
  }
  std::optional<std::string> get(const std::string& key) {
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char* v = memcached_get(mc_, key.data(), key.size(), &len, &flags, &rc);
    if (!v) return std::nullopt;
    std::string out(v, len);
    free(v);
    return out;
  }

 private:
  memcached_st* mc_;
};

class BusTags : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    export_e2e_paths(STRATA_E2E_BIN, STRATA_E2E_MOCK_KAFKA, STRATA_E2E_MODULES);
  }
  void SetUp() override {
    dir_ = make_temp_dir("strata-tags");
    ASSERT_TRUE(mc1_.start());
    ASSERT_TRUE(mc2_.start());
    ASSERT_TRUE(redis_.start());
    ASSERT_TRUE(kafka_.start(kTopic, kPartitions, dir_)) << "strata-mock-kafka did not start";
    write_file(dir_ + "/tags.lua", kTagsLua);
    front_port_ = free_port();
  }
  void TearDown() override {
    node2_.stop();
    node1_.stop();
    if (HasFailure())
      std::fprintf(stderr, "kept %s for the failed test\n", dir_.c_str());
    else
      remove_tree(dir_);
  }

  void start_node1(int tag_chunk) {
    write_file(dir_ + "/node1.toml",
               "[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"" + kafka_.bootstrap() +
                   "\"\ntopics = [\"" + kTopic +
                   "\"]\ngroup_id = \"node1\"\nbatch_size = 2000\nmax_wait = \"10ms\"\n"
                   "commit_interval = \"200ms\"\n"
                   "rdkafka = { \"session.timeout.ms\" = \"6000\", \"heartbeat.interval.ms\" = "
                   "\"500\" }\n"
                   "\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" +
                   mc1_.address() + "\"]\nio_timeout = \"1s\"\n" +
                   "\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" + redis_.address() +
                   "\"\nbus_stream = \"" + kStream +
                   "\"\nbus_node = \"node1\"\ntag_chunk = " + std::to_string(tag_chunk) +
                   "\n\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\n"
                   "script = \"tags.lua\"\ndead_letter_file = \"dead.jsonl\"\n" +
                   // Its own L1 learns through the bus too: the keys a chunk deleted before a
                   // crash are in the stream, not in the replay's answer (docs/bus.md, "Tags").
                   "\n[fronts.bus]\nmodule = \"redis_bus\"\npipeline = \"p\"\naddress = \"" +
                   redis_.address() + "\"\nstream = \"" + kStream + "\"\nstate_file = \"" + dir_ +
                   "/bus1.id\"\n");
    ASSERT_TRUE(node1_.start({std::getenv("STRATA_BIN"), "run", "-c", dir_ + "/node1.toml"},
                             dir_ + "/node1.log"));
  }
  void start_node2() {
    write_file(dir_ + "/node2.toml",
               "[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" + mc2_.address() +
                   "\"]\nio_timeout = \"1s\"\n\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" +
                   redis_.address() + "\"\n\n[fronts.mc]\nmodule = \"memcached_front\"\nport = " +
                   std::to_string(front_port_) +
                   "\ntiers = [\"l1\", \"l2\"]\n\n[fronts.bus]\nmodule = \"redis_bus\"\ntiers = "
                   "[\"l1\"]\naddress = \"" +
                   redis_.address() + "\"\nstream = \"" + kStream + "\"\nstate_file = \"" + dir_ +
                   "/bus.id\"\n");
    ASSERT_TRUE(node2_.start({std::getenv("STRATA_BIN"), "run", "-c", dir_ + "/node2.toml"},
                             dir_ + "/node2.log"));
    ASSERT_TRUE(wait_for_port(front_port_, 30000)) << read_file(dir_ + "/node2.log");
    // The front listens before the bus's first-start flush of this L1 has run: a read that
    // refilled the L1 before that flush would be gone after it.
    ASSERT_TRUE(wait_bus_caught_up(dir_ + "/bus.id")) << read_file(dir_ + "/node2.log");
  }

  // Records writing k<from>..k<to-1> with `tag` ("" = untagged), or one that drops `tag`.
  bool produce_keys(int from, int to, const std::string& tag) {
    std::string lines;
    for (int i = from; i < to; ++i) {
      std::string k = "k" + std::to_string(i);
      lines += k + "|{\"k\":\"" + k + "\"" + (tag.empty() ? "" : ",\"tag\":\"" + tag + "\"") +
               ",\"seq\":1}\n";
      ++produced_;
    }
    return produce_lines(lines);
  }
  bool produce_drop(const std::string& tag) {
    ++produced_;
    return produce_lines("drop-" + tag + "|{\"drop\":\"" + tag + "\"}\n");
  }
  bool produce_lines(const std::string& lines) {
    std::string f = dir_ + "/produce-" + std::to_string(files_++) + ".txt";
    write_file(f, lines);
    return kcat_produce(kafka_.bootstrap(), kTopic, f);
  }
  bool wait_committed(int seconds = 180) {
    for (int i = 0; i < seconds * 20; ++i) {
      auto [committed, end] = committed_and_end(kafka_.bootstrap(), "node1", kTopic, kPartitions);
      if (consumed_to_the_end(committed, end, produced_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  bool wait_until(const std::function<bool()>& cond, int seconds = 60) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // How many of tg:k<from>..tg:k<to-1> Redis holds, and how many of them disagree with the
  // tag's index (present but not a member, or a member but gone): one script, one round trip.
  std::pair<long long, long long> redis_state(int from, int to, const std::string& tag) {
    std::string out = redis_.redis_cli(
        "EVAL \"local p, bad = 0, 0 for i = tonumber(ARGV[1]), tonumber(ARGV[2]) - 1 do "
        "local e = redis.call('EXISTS', 'tg:k' .. i) "
        "local m = redis.call('SISMEMBER', KEYS[1], 'tg:k' .. i) "
        "p = p + e if e ~= m then bad = bad + 1 end end return {p, bad}\" 1 strata:tag:" +
        tag + " " + std::to_string(from) + " " + std::to_string(to));
    long long present = -1, bad = -1;
    std::sscanf(out.c_str(), "%lld\n%lld", &present, &bad);
    return {present, bad};
  }
  size_t cached(ServerProcess& mc, int from, int to) {
    McClient c(mc.port());
    size_t n = 0;
    for (int i = from; i < to; ++i) n += c.get("tg:k" + std::to_string(i)) ? 1 : 0;
    return n;
  }
  // A node's bus state file names the stream's newest entry: it applied (and saved) them all,
  // after the flush of its first start (no state file yet).
  bool wait_bus_caught_up(const std::string& state_file) {
    return wait_until([&] {
      std::string info = redis_.redis_cli("XINFO STREAM " + std::string(kStream));
      size_t p = info.find("last-generated-id\n");
      if (p == std::string::npos) return false;
      std::string last = info.substr(p + 18, info.find('\n', p + 18) - p - 18);
      return read_file(state_file).find(" " + last + " ") != std::string::npos;
    });
  }
  // Node 1's L1 holds the keys, as reads through it would leave them (its bus flushed the L1
  // at its first start and dropped the keys its own writes announced).
  void fill_node1_l1(int from, int to) {
    ASSERT_TRUE(wait_bus_caught_up(dir_ + "/bus1.id")) << read_file(dir_ + "/node1.log");
    McClient c(mc1_.port());
    for (int i = from; i < to; ++i) ASSERT_TRUE(c.set("tg:k" + std::to_string(i), "cached"));
  }
  size_t read_through_node2(int from, int to) {
    McClient front(front_port_);
    size_t n = 0;
    for (int i = from; i < to; ++i) n += front.get("tg:k" + std::to_string(i)) ? 1 : 0;
    return n;
  }

  std::string dir_;
  ServerProcess mc1_{ServerProcess::Kind::Memcached};
  ServerProcess mc2_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  MockKafka kafka_;
  ChildProcess node1_, node2_;
  int front_port_ = 0;
  int64_t produced_ = 0;
  int files_ = 0;
};

TEST_F(BusTags, Issue10TagInvalidationDropsItsKeysFromRedisAndBothL1s) {
  ASSERT_TRUE(produce_keys(0, 50, "g1"));
  ASSERT_TRUE(produce_keys(50, 80, "g2"));
  ASSERT_TRUE(produce_keys(80, 100, ""));
  start_node1(500);
  ASSERT_TRUE(wait_committed()) << read_file(dir_ + "/node1.log");
  start_node2();
  // Every key in both L1s: node 2 reads through its front; node 1 as its reads would.
  ASSERT_TRUE(wait_until([&] { return read_through_node2(0, 100) == 100; }));
  ASSERT_EQ(cached(mc2_, 0, 100), 100u);
  fill_node1_l1(0, 100);
  EXPECT_EQ(redis_.redis_cli("SCARD strata:tag:g1"), "50");

  ASSERT_TRUE(produce_drop("g1"));
  ASSERT_TRUE(wait_committed()) << read_file(dir_ + "/node1.log");
  EXPECT_EQ(redis_state(0, 50, "g1"), std::make_pair(0LL, 0LL));
  EXPECT_EQ(redis_.redis_cli("EXISTS strata:tag:g1"), "0");
  EXPECT_EQ(cached(mc1_, 0, 50), 0u) << "node 1's own L1 keeps keys of the dropped tag";
  EXPECT_TRUE(wait_until([&] { return cached(mc2_, 0, 50) == 0; }))
      << cached(mc2_, 0, 50) << " keys of the dropped tag stay in node 2's L1";
  // Keys of another tag and untagged keys stay everywhere.
  EXPECT_EQ(redis_state(50, 80, "g2"), std::make_pair(30LL, 0LL));
  EXPECT_EQ(cached(mc1_, 50, 100), 50u);
  EXPECT_EQ(cached(mc2_, 50, 100), 50u);
  McClient front(front_port_);
  EXPECT_FALSE(front.get("tg:k7")) << "node 2 serves a key of the dropped tag";
  EXPECT_TRUE(front.get("tg:k77"));
}

TEST_F(BusTags, Issue10HugeTagKilledBetweenChunksStaysConsistentAndFinishesOnReplay) {
  constexpr int kKeys = 12000;
  ASSERT_TRUE(produce_keys(0, kKeys, "big"));
  ASSERT_TRUE(produce_keys(kKeys, kKeys + 100, ""));
  start_node1(5);  // 2,400 chunks: the kill lands between two of them
  ASSERT_TRUE(wait_committed()) << read_file(dir_ + "/node1.log");
  ASSERT_EQ(redis_.redis_cli("SCARD strata:tag:big"), std::to_string(kKeys));
  fill_node1_l1(0, kKeys + 100);

  ASSERT_TRUE(produce_drop("big"));
  long long left = kKeys;
  for (int i = 0; i < 60000 && left == kKeys; ++i) {
    left = std::atoll(redis_.redis_cli("SCARD strata:tag:big").c_str());
    if (left == kKeys) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  node1_.kill9();
  left = std::atoll(redis_.redis_cli("SCARD strata:tag:big").c_str());
  std::printf("killed with %lld of %d keys of the tag left\n", left, kKeys);
  ASSERT_LT(left, kKeys) << "the invalidation never started";
  // Every key still in Redis is in the index and every deleted one is out of it.
  auto [present, bad] = redis_state(0, kKeys, "big");
  EXPECT_EQ(bad, 0) << present << " keys present";
  EXPECT_EQ(present, left);
  if (left == 0) std::printf("(the invalidation had finished before the kill)\n");

  // The drop was not committed: the restart replays it and it finishes.
  start_node1(5);
  ASSERT_TRUE(wait_committed()) << read_file(dir_ + "/node1.log");
  EXPECT_EQ(redis_state(0, kKeys, "big"), std::make_pair(0LL, 0LL));
  EXPECT_EQ(redis_.redis_cli("EXISTS strata:tag:big"), "0");
  EXPECT_TRUE(wait_until([&] { return cached(mc1_, 0, kKeys) == 0; }))
      << cached(mc1_, 0, kKeys) << " keys of the dropped tag stay in node 1's L1";
  EXPECT_EQ(cached(mc1_, kKeys, kKeys + 100), 100u);
  auto [untagged, none] = redis_state(kKeys, kKeys + 100, "big");
  EXPECT_EQ(untagged, 100);
  EXPECT_EQ(none, 100);  // present and, rightly, not members
}

}  // namespace
}  // namespace strata::test
