// The fault matrix (issue 9): strata members over strata-mock-kafka, real memcached and
// redis-server, records with per-key increasing sequences, and a seeded schedule of faults.
// Afterwards every key in Redis holds its highest sequence, memcached holds it or nothing,
// no Redis read during the run ever saw a sequence go down, and the duplicates are counted.
//
// CI runs FAULTS_SCHEDULES=1 schedule of FAULTS_SECONDS=20 s of faults; `make faults` runs
// many. A failure prints STRATA_FAULTS_SEED=... which repeats the same schedule.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "e2e_support.hpp"
#include "fault_checks.hpp"
#include "fault_schedule.hpp"
#include "fault_world.hpp"
#include "files.hpp"

namespace strata::test::faults {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kPartitions = 8;
constexpr int kKeys = 400;
constexpr int kRate = 1500;  // records a second while faults run

long env_int(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}

uint64_t base_seed() {
  for (const char* name : {"STRATA_FAULTS_SEED", "FAULTS_SEED"})
    if (const char* v = std::getenv(name); v && *v) return std::strtoull(v, nullptr, 10);
  // Without a seed (ctest, CI) each run draws a new schedule, so every CI run explores one
  // more; a failure prints the seed that repeats it.
  return std::random_device{}();
}

template <typename Pred>
bool wait_until(int timeout_ms, Pred pred) {
  auto deadline = Clock::now() + milliseconds(timeout_ms);
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(250));
  }
  return true;
}

std::string tail(const std::string& path, size_t bytes = 3000) {
  std::string t = read_file(path);
  return path + ":\n" + (t.size() > bytes ? "..." + t.substr(t.size() - bytes) : t);
}

struct Figures {
  int faults = 0;
  int64_t records = 0;  // in the Kafka log
  double duplicates =
      0;              // durable writes refused as replays (strata_pipeline_replays_skipped_total)
  double reread = 0;  // records read more than once (sum of strata_pipeline_records_total - log)
  int64_t lost = 0;   // keys whose Redis copy is below the log's highest sequence
  int64_t rolled_back = 0;     // Redis reads that saw a key's sequence go down
  int64_t l1_stale = 0;        // memcached copies neither the highest nor absent at the end
  int64_t l1_regressions = 0;  // memcached reads that saw a lower sequence (transient, counted)
  int64_t l1_misses = 0;
  double seconds = 0;
  bool ok = false;
};

// Failures reported so far in this test (gtest records failures, not passing expectations).
int failure_parts() {
  return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
}

class Faults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("STRATA_BIN", STRATA_FAULTS_BIN, 0);
    setenv("STRATA_MOCK_KAFKA", STRATA_FAULTS_MOCK_KAFKA, 0);
    setenv("STRATA_MODULES_PATH", STRATA_FAULTS_MODULES, 0);
  }

  // One schedule, start to verdict. Failures are reported with gtest; the figures are kept.
  Figures run_schedule_with_seed(uint64_t seed, int fault_seconds) {
    Figures fig;
    auto t0 = Clock::now();
    std::string dir = make_temp_dir("strata-faults");
    const char* skip = std::getenv("FAULTS_SKIP");
    std::vector<Fault> schedule = draw_schedule(seed, fault_seconds, skip ? skip : "");
    std::string repeat = "repeat with STRATA_FAULTS_SEED=" + std::to_string(seed) +
                         " FAULTS_SCHEDULES=1 FAULTS_SECONDS=" + std::to_string(fault_seconds) +
                         (skip ? " FAULTS_SKIP='" + std::string(skip) + "'" : "") + " (logs in " +
                         dir + ")\nschedule:\n" + describe(schedule);
    SCOPED_TRACE(repeat);
    int failures_before = failure_parts();
    {
      FaultWorld w(dir, kPartitions, kKeys);
      std::string why;
      if (!w.start(&why)) {
        ADD_FAILURE() << "the world did not start: " << why;
        return fig;
      }
      std::vector<std::string> keys;
      for (int i = 0; i < kKeys; ++i) keys.push_back(kKeyPrefix + w.key_name(i));
      RollbackWatch watch(w.redis().port(), w.memcached().port(), keys);
      w.start_producing(kRate, static_cast<uint32_t>(seed));
      InjectionResult inj = run_schedule(w, schedule);
      fig.faults = inj.total;
      for (auto& d : inj.defects) ADD_FAILURE() << "defect while injecting: " << d;

      // Errors still pushed for Fetch / OffsetCommit would hit the log reader below.
      for (const char* api : {"1", "8"}) w.mock_command(std::string("clear ") + api);
      wait_until(10000,
                 [&] { return w.mock_log().find("control: clear 8: ok") != std::string::npos; });
      Produced p = w.stop_producing(120000);
      EXPECT_EQ(p.failed, 0) << "harness: the producer lost deliveries: " << p.first_error;
      EXPECT_EQ(p.delivered, p.sent) << "harness: undelivered records";
      LogTruth truth = read_log(w.bootstrap(), kTopic, kPartitions);
      EXPECT_EQ(truth.error, "");
      EXPECT_EQ(truth.order_violations, 0) << "harness: the log is out of per-key order";
      // Each delivery is in the log once, or twice when the mock broker stored a retry again.
      EXPECT_EQ(truth.records - truth.producer_duplicates, p.delivered);
      fig.records = truth.records;

      // Everything in the log becomes durable: every partition's watermark reaches its end.
      Member& a = w.member("A");
      bool durable = wait_until(180000, [&] {
        if (!a.proc.alive()) return true;
        auto wm = redis_watermarks(w.redis().port(), kPipeline, kTopic, kPartitions);
        if (!wm || wm->size() != truth.ends.size()) return false;
        for (size_t i = 0; i < wm->size(); ++i)
          if ((*wm)[i] < truth.ends[i]) return false;
        return true;
      });
      EXPECT_TRUE(a.proc.alive()) << "strata A died, status " << a.proc.last_status() << "\n"
                                  << tail(a.log);
      EXPECT_TRUE(durable) << "watermarks did not reach the end of the log in 180 s\n"
                           << tail(a.log) << "\n"
                           << tail(w.member("B").log);
      // And Kafka's committed offsets follow (they only lag by commit_interval).
      bool committed = wait_until(60000, [&] {
        auto progress = group_progress(w.bootstrap(), "faults", kTopic, kPartitions);
        for (int i = 0; i < kPartitions; ++i)
          if (progress[i].committed < truth.ends[static_cast<size_t>(i)]) return false;
        return true;
      });
      EXPECT_TRUE(committed) << "committed offsets did not reach the end of the log in 60 s\n"
                             << tail(a.log);
      // Keys a failed volatile write left suspect are deleted once memcached answers again.
      bool swept = wait_until(30000, [&] { return w.total_suspects() == 0; });
      EXPECT_TRUE(swept) << "L1 suspects not swept in 30 s";
      watch.stop();
      fig.rolled_back = watch.redis_rollbacks();
      fig.l1_regressions = watch.l1_regressions();
      EXPECT_EQ(fig.rolled_back, 0) << "Redis sequences went down:\n" << watch.first_rollbacks();
      EXPECT_GT(watch.redis_reads(), 10) << "the watcher hardly ever read Redis";

      auto rv = redis_mget(w.redis().port(), keys, 5000);
      auto mv = memcached_get(w.memcached().port(), keys, 5000);
      EXPECT_TRUE(rv.has_value() && mv.has_value()) << "tiers unreadable at the end";
      std::string examples;
      for (auto& k : keys) {
        auto t = truth.max_seq.find(k);
        int64_t want = t == truth.max_seq.end() ? 0 : t->second;
        int64_t got = 0;
        if (rv) {
          auto it = rv->find(k);
          got = it == rv->end() ? 0 : seq_of(it->second);
          if (got != want && fig.lost++ < 5)
            examples += "  redis " + k + ": seq " + std::to_string(got) + ", want " +
                        std::to_string(want) + "\n";
        }
        if (mv) {
          auto it = mv->find(k);
          if (it == mv->end()) {
            fig.l1_misses++;
          } else if (seq_of(it->second) != want && fig.l1_stale++ < 5) {
            examples += "  memcached " + k + ": " + it->second + ", want seq " +
                        std::to_string(want) + "\n";
          }
        }
      }
      EXPECT_EQ(fig.lost, 0) << examples;
      EXPECT_EQ(fig.l1_stale, 0) << examples;

      fig.duplicates = w.total_replays();
      fig.reread = w.total_records() - static_cast<double>(fig.records);
      for (const char* name : {"A", "B"}) {
        Member& m = w.member(name);
        if (!m.proc.alive()) continue;
        auto st = w.stop_member(m, 30000);
        EXPECT_TRUE(st.has_value()) << "strata " << name << ": SIGTERM did not complete in 30 s";
        if (st) {
          EXPECT_EQ(*st, 0) << tail(m.log);
        }
      }
      for (const char* name : {"A", "B"}) {
        std::string dead = read_file(dir + "/dead-" + std::string(name) + ".jsonl");
        EXPECT_EQ(dead, "") << "dead letters of strata " << name;
      }
    }
    fig.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    fig.ok = failure_parts() == failures_before;
    if (fig.ok) remove_tree(dir);
    return fig;
  }
};

TEST_F(Faults, SeededSchedulesLoseNothingAndNeverRollBack) {
  uint64_t seed = base_seed();
  long schedules = env_int("FAULTS_SCHEDULES", 1);
  int seconds = static_cast<int>(env_int("FAULTS_SECONDS", 20));
  std::printf("fault matrix: %ld schedule(s) of %d s from seed %llu\n", schedules, seconds,
              static_cast<unsigned long long>(seed));
  Figures sum;
  int passed = 0, failed = 0;
  // FAULTS_KEEP_GOING=1: run every schedule and count the failed ones instead of stopping.
  bool keep_going = env_int("FAULTS_KEEP_GOING", 0) != 0;
  for (long i = 0; i < schedules; ++i) {
    uint64_t s = seed + static_cast<uint64_t>(i);
    Figures f = run_schedule_with_seed(s, seconds);
    std::printf(
        "schedule %ld seed %llu: %d faults, %lld records, %.0f duplicates (replays skipped), "
        "%.0f re-read, %lld lost, %lld rolled back; L1: %lld stale, %lld misses, %lld "
        "transient regressions; %.1f s\n",
        i + 1, static_cast<unsigned long long>(s), f.faults, static_cast<long long>(f.records),
        f.duplicates, f.reread, static_cast<long long>(f.lost),
        static_cast<long long>(f.rolled_back), static_cast<long long>(f.l1_stale),
        static_cast<long long>(f.l1_misses), static_cast<long long>(f.l1_regressions), f.seconds);
    std::fflush(stdout);
    if (!f.ok) {
      ADD_FAILURE() << "schedule " << i + 1 << " failed: repeat with STRATA_FAULTS_SEED=" << s
                    << " FAULTS_SCHEDULES=1";
      failed++;
      if (!keep_going) break;
      continue;
    }
    passed++;
    sum.faults += f.faults;
    sum.records += f.records;
    sum.duplicates += f.duplicates;
    sum.reread += f.reread;
    sum.lost += f.lost;
    sum.rolled_back += f.rolled_back;
    sum.l1_regressions += f.l1_regressions;
    sum.seconds += f.seconds;
  }
  std::printf(
      "fault matrix: %d of %ld schedules passed (%d failed): %d faults, %lld records, %.0f "
      "duplicates, %.0f re-read, %lld lost, %lld rolled back, %lld L1 transient regressions, "
      "%.0f s\n",
      passed, schedules, failed, sum.faults, static_cast<long long>(sum.records), sum.duplicates,
      sum.reread, static_cast<long long>(sum.lost), static_cast<long long>(sum.rolled_back),
      static_cast<long long>(sum.l1_regressions), sum.seconds);
}

}  // namespace
}  // namespace strata::test::faults
