// `strata replay` end to end (issue 11 item 1): a live `strata run` and a `strata replay` of the
// same pipeline against strata-mock-kafka, memcached and redis-server processes. Records carry
// per-key sequence numbers, so "rolled back" is measurable: a key seen at a lower sequence than
// seen before. The progress bar is checked under script(1) (a pty) and the log line without.
#include <gtest/gtest.h>
#include <hiredis.h>
#include <libmemcached/memcached.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "e2e_support.hpp"
#include "servers.hpp"

namespace strata::test {
namespace {

constexpr int kPartitions = 4;
const char* kTopic = "events";

const char* kKeysLua = R"(
function key(r)
  return "rp:" .. r.key
end
)";

class Replay : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    export_e2e_paths(STRATA_E2E_BIN, STRATA_E2E_MOCK_KAFKA, STRATA_E2E_MODULES);
  }
  void SetUp() override {
    dir_ = make_temp_dir("strata-replay");
    ASSERT_NE(std::getenv("STRATA_BIN"), nullptr);
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(redis_.start());
    ASSERT_TRUE(kafka_.start(kTopic, kPartitions, dir_)) << "strata-mock-kafka did not start";
    write_file(dir_ + "/keys.lua", kKeysLua);
  }
  void TearDown() override {
    if (HasFailure())
      std::fprintf(stderr, "kept %s for the failed test\n", dir_.c_str());
    else
      remove_tree(dir_);
  }

  std::string config(const std::string& progress_interval = "30s") {
    std::string path = dir_ + "/strata.toml";
    write_file(path, "progress_interval = \"" + progress_interval +
                         "\"\n[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"" +
                         kafka_.bootstrap() + "\"\ntopics = [\"" + kTopic +
                         "\"]\ngroup_id = \"live\"\nbatch_size = 500\nmax_wait = \"20ms\"\n"
                         "commit_interval = \"200ms\"\n"
                         "rdkafka = { \"session.timeout.ms\" = \"6000\", "
                         "\"heartbeat.interval.ms\" = \"500\" }\n"
                         "\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" +
                         memcached_.address() + "\"]\nio_timeout = \"1s\"\n" +
                         "\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" + redis_.address() +
                         "\"\n\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\n"
                         "script = \"keys.lua\"\ndead_letter_file = \"dead.jsonl\"\n"
                         "retry_backoff = \"50ms\"\n");
    return path;
  }

  // `n` records over keys key<first>..key<first+keys-1>, each with the key's next sequence.
  bool produce(int n, int keys, uint32_t seed, int first = 0) {
    std::mt19937 rng(seed);
    std::string out;
    for (int i = 0; i < n; ++i) {
      std::string k = "key" + std::to_string(first + rng() % keys);
      out += k + "|{\"k\":\"" + k + "\",\"seq\":" + std::to_string(++max_seq_[k]) + "}\n";
    }
    produced_ += n;
    std::string f = dir_ + "/produce-" + std::to_string(files_++) + ".txt";
    write_file(f, out);
    return kcat_produce(kafka_.bootstrap(), kTopic, f);
  }

  bool wait_committed(const std::string& group, int seconds = 180) {
    for (int i = 0; i < seconds * 4; ++i) {
      auto [committed, end] = committed_and_end(kafka_.bootstrap(), group, kTopic, kPartitions);
      if (consumed_to_the_end(committed, end, produced_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }

  // Waits (bounded) for a child to exit; its status, or -1 if it still ran (then stopped).
  static int wait_exit(ChildProcess& p, int seconds) {
    int code = p.wait(seconds * 1000);
    if (code == -1) p.stop();
    return code;
  }

  // Waits (bounded) until `text` is in the file.
  bool wait_for_log(const std::string& file, const std::string& text, int seconds = 60) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (read_file(file).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // seq per key in Redis (MGET); -1 for a missing key.
  std::map<std::string, int64_t> redis_seqs(redisContext* r) {
    std::vector<std::string> keys;
    std::vector<const char*> argv{"MGET"};
    std::vector<size_t> lens{4};
    for (auto& [k, s] : max_seq_) keys.push_back("rp:" + k);
    for (auto& k : keys) {
      argv.push_back(k.c_str());
      lens.push_back(k.size());
    }
    std::map<std::string, int64_t> out;
    auto* rep = static_cast<redisReply*>(
        redisCommandArgv(r, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
      if (rep) freeReplyObject(rep);
      return out;
    }
    for (size_t i = 0; i < rep->elements && i < keys.size(); ++i) {
      redisReply* e = rep->element[i];
      out[keys[i]] =
          e->type == REDIS_REPLY_STRING ? seq_of(std::string(e->str, e->len)) : int64_t(-1);
    }
    freeReplyObject(rep);
    return out;
  }

  int64_t memcached_seq(memcached_st* mc, const std::string& key) {
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char* got = memcached_get(mc, key.data(), key.size(), &len, &flags, &rc);
    std::string v = got ? std::string(got, len) : "";
    free(got);
    return got ? seq_of(v) : -1;
  }

  void flush_both() {
    EXPECT_EQ(redis_.redis_cli("FLUSHALL"), "OK");
    memcached_st* mc =
        memcached(("--SERVER=" + memcached_.address()).c_str(), memcached_.address().size() + 9);
    ASSERT_NE(mc, nullptr);
    EXPECT_EQ(memcached_flush(mc, 0), MEMCACHED_SUCCESS);
    memcached_free(mc);
  }

  std::vector<std::string> replay_argv(const std::string& cfg) {
    return {
        std::getenv("STRATA_BIN"), "replay", "-c", cfg, "--pipeline", "p", "--from", "earliest"};
  }

  std::string dir_;
  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  MockKafka kafka_;
  std::map<std::string, int64_t> max_seq_;
  int64_t produced_ = 0;
  int files_ = 0;
};

// The issue's must-show: Redis and memcached flushed, the live pipeline running and writing
// newer records, the replay rebuilds both from the topic; Redis is polled all along and no key
// is ever seen at a lower sequence than seen before.
TEST_F(Replay, RebuildsFlushedRedisAndMemcachedBesideTheLivePipelineWithoutRollingBack) {
  const std::string cfg = config();
  ASSERT_TRUE(produce(20000, 300, 1));
  ChildProcess live;
  ASSERT_TRUE(live.start({std::getenv("STRATA_BIN"), "run", "-c", cfg}, dir_ + "/live.log"));
  ASSERT_TRUE(wait_committed("live")) << read_file(dir_ + "/live.log");
  flush_both();

  redisContext* r = redisConnect("127.0.0.1", redis_.port());
  ASSERT_TRUE(r && !r->err);
  std::map<std::string, int64_t> seen;
  int64_t rollbacks = 0, polls = 0;
  std::string first_rollback;
  auto poll_once = [&] {
    ++polls;
    for (auto& [k, s] : redis_seqs(r)) {
      int64_t& before = seen.try_emplace(k, -1).first->second;  // -1: not seen yet
      if (s < before && rollbacks++ == 0)
        first_rollback =
            k + " seen at seq " + std::to_string(before) + ", then " + std::to_string(s);
      before = std::max(before, s);
    }
  };
  ChildProcess replay;
  ASSERT_TRUE(replay.start(replay_argv(cfg), dir_ + "/replay.log"));
  ASSERT_TRUE(wait_for_log(dir_ + "/replay.log", "replaying events"))
      << read_file(dir_ + "/replay.log");
  // Newer records for a third of the keys while the replay runs: the live pipeline writes
  // them, the replay must not overwrite them with older ones. The other keys only the replay
  // brings back.
  std::thread producer([&] {
    for (int round = 0; round < 5; ++round) {
      produce(300, 100, 100 + round);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  int code = -1;
  for (int i = 0; i < 3000 && code == -1; ++i) {
    poll_once();
    code = replay.wait(20);
  }
  producer.join();
  if (code == -1) code = wait_exit(replay, 60);
  EXPECT_EQ(code, 0) << read_file(dir_ + "/replay.log");
  ASSERT_TRUE(wait_committed("live")) << read_file(dir_ + "/live.log");
  poll_once();
  EXPECT_EQ(rollbacks, 0) << first_rollback;
  EXPECT_GT(polls, 3);

  // Everything is back: every key at its highest sequence in Redis and in memcached.
  memcached_st* mc =
      memcached(("--SERVER=" + memcached_.address()).c_str(), memcached_.address().size() + 9);
  ASSERT_NE(mc, nullptr);
  auto final_seqs = redis_seqs(r);
  int wrong_redis = 0, wrong_mc = 0;
  for (auto& [k, s] : max_seq_) {
    if (final_seqs["rp:" + k] != s && wrong_redis++ < 5)
      ADD_FAILURE() << "redis rp:" << k << " at " << final_seqs["rp:" + k] << ", want " << s;
    int64_t m = memcached_seq(mc, "rp:" + k);
    if (m != s && wrong_mc++ < 5)
      ADD_FAILURE() << "memcached rp:" << k << " at " << m << ", want " << s;
  }
  EXPECT_EQ(wrong_redis, 0);
  EXPECT_EQ(wrong_mc, 0);
  memcached_free(mc);
  redisFree(r);
  EXPECT_EQ(live.stop(), 0);
  std::string log = read_file(dir_ + "/replay.log");
  // It stopped at the end each partition had when it was assigned: the 20000 records, and
  // none or some of the ones produced meanwhile.
  EXPECT_NE(log.find("replay p: done: "), std::string::npos) << log;
  EXPECT_NE(log.find("done job=replay pipeline=p done="), std::string::npos) << log;
  EXPECT_EQ(log.find(" 0 durable writes"), std::string::npos) << log;
}

// A key the live pipeline deletes after the replay fixed its range but before the replay
// wrote it: the replay's older record would bring it back; the reconcile pass (the records the
// live pipeline applied meanwhile) deletes it again. key0..key19 come last in the topic, after
// 40000 records of other keys; the replay is held (SIGSTOP) as soon as it has its range, and
// the test goes on only if it had not reached those keys yet (else it is skipped: it could not
// show anything), so that the live delete comes first.
TEST_F(Replay, KeyDeletedByTheLivePipelineDuringTheReplayIsNotResurrected) {
  const std::string cfg = config();
  ASSERT_TRUE(produce(40000, 80, 3, 20));
  ASSERT_TRUE(produce(200, 20, 4));
  ChildProcess live;
  ASSERT_TRUE(live.start({std::getenv("STRATA_BIN"), "run", "-c", cfg}, dir_ + "/live.log"));
  ASSERT_TRUE(wait_committed("live")) << read_file(dir_ + "/live.log");
  flush_both();
  ChildProcess replay;
  ASSERT_TRUE(replay.start(replay_argv(cfg), dir_ + "/replay.log"));
  ASSERT_TRUE(wait_for_log(dir_ + "/replay.log", "replaying events"))
      << read_file(dir_ + "/replay.log");
  ASSERT_TRUE(stop_process(replay.pid()));
  {
    redisContext* r = redisConnect("127.0.0.1", redis_.port());
    ASSERT_TRUE(r && !r->err);
    auto seqs = redis_seqs(r);
    redisFree(r);
    for (int i = 0; i < 20; ++i)
      if (seqs["rp:key" + std::to_string(i)] != -1) {
        ::kill(replay.pid(), SIGCONT);
        wait_exit(replay, 180);
        EXPECT_EQ(live.stop(), 0);
        GTEST_SKIP() << "the replay reached key" << i << " before it was held";
      }
  }
  // Tombstones (kcat -Z: an empty value is a null one) for key0..key19, applied by the live
  // pipeline while the replay is held.
  std::string lines;
  for (int i = 0; i < 20; ++i) lines += "key" + std::to_string(i) + "|\n";
  std::string f = dir_ + "/tombstones.txt";
  write_file(f, lines);
  int status = -1;
  run_command("kcat -P -b " + kafka_.bootstrap() + " -t " + kTopic +
                  " -K '|' -Z -X enable.idempotence=true -l " + f,
              &status);
  ASSERT_EQ(status, 0);
  produced_ += 20;
  bool committed = wait_committed("live", 30);
  ::kill(replay.pid(), SIGCONT);
  ASSERT_TRUE(committed) << read_file(dir_ + "/live.log");
  EXPECT_EQ(wait_exit(replay, 180), 0) << read_file(dir_ + "/replay.log");
  EXPECT_NE(read_file(dir_ + "/replay.log").find("replay: reading what was produced meanwhile"),
            std::string::npos);

  redisContext* r = redisConnect("127.0.0.1", redis_.port());
  ASSERT_TRUE(r && !r->err);
  memcached_st* mc =
      memcached(("--SERVER=" + memcached_.address()).c_str(), memcached_.address().size() + 9);
  ASSERT_NE(mc, nullptr);
  auto seqs = redis_seqs(r);
  for (auto& [k, s] : max_seq_) {
    bool deleted = std::stoi(k.substr(3)) < 20;
    EXPECT_EQ(seqs["rp:" + k], deleted ? -1 : s) << "redis rp:" << k;
    EXPECT_EQ(memcached_seq(mc, "rp:" + k), deleted ? -1 : s) << "memcached rp:" << k;
  }
  memcached_free(mc);
  redisFree(r);
  EXPECT_EQ(live.stop(), 0);
}

// Without a terminal: periodic progress lines in the log; on a pty (script -c): the bar.
TEST_F(Replay, ProgressLineInTheLogAndBarOnATerminal) {
  const std::string cfg = config("100ms");
  ASSERT_TRUE(produce(30000, 500, 2));
  ChildProcess replay;
  ASSERT_TRUE(replay.start(replay_argv(cfg), dir_ + "/replay.log"));
  EXPECT_EQ(wait_exit(replay, 180), 0) << read_file(dir_ + "/replay.log");
  std::string log = read_file(dir_ + "/replay.log");
  EXPECT_NE(log.find("progress job=replay pipeline=p done="), std::string::npos) << log;
  EXPECT_NE(log.find(" left="), std::string::npos) << log;
  EXPECT_NE(log.find("done job=replay pipeline=p done=30000"), std::string::npos) << log;

  // Again on a pty, into a fresh Redis (the first run's values would be left alone as the
  // live pipeline's) with a group of its own.
  flush_both();
  std::string cmd;
  for (auto& w : replay_argv(cfg)) cmd += "'" + w + "' ";
  cmd += "--group tty-replay";
  int status = 0;
  std::string out =
      run_command("TERM=xterm timeout 180 script -qfec \"" + cmd + "\" /dev/null", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\rreplay pipeline=p"), std::string::npos) << out;
  EXPECT_NE(out.find("30,000 records"), std::string::npos) << out;
  EXPECT_NE(out.find("] 100%\x1b[K  done\r\n"), std::string::npos) << out;
}

// --from that no source can mean is a usage error (exit 2), before anything is consumed.
TEST_F(Replay, BadFromIsAUsageError) {
  int status = 0;
  std::string out = run_command("'" + std::string(std::getenv("STRATA_BIN")) + "' replay -c '" +
                                    config() + "' --from yesterday 2>&1",
                                &status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("--from: 'yesterday' is none of"), std::string::npos) << out;
}

}  // namespace
}  // namespace strata::test
