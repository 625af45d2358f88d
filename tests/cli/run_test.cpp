// `strata run`: SIGHUP reload (a bad file is rejected with its FILE:LINE:COL error and the
// running configuration keeps working; a good one replaces it), SIGTERM (exit 0, summary), and
// the admin listener (/metrics, /healthz). Real memcached and redis-server; Kafka is
// strata-mock-kafka (its own process, records produced with kcat) or the embedded mock.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.hpp"
#include "servers.hpp"

namespace strata::cli_test {
namespace {

using strata::test::ServerProcess;

class CliRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("STRATA_MODULES_PATH", modules_dir().c_str(), 1); }
  void SetUp() override {
    dir_ = make_temp_dir();
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(redis_.start());
    admin_port_ = strata::test::free_port();
  }
  void TearDown() override {
    strata_.stop(SIGKILL, 10000);
    std::string err = read_file(dir_ + "/strata.err");
    EXPECT_EQ(err.find("Sanitizer"), std::string::npos);
    EXPECT_EQ(err.find("runtime error:"), std::string::npos);
    if (::testing::Test::HasFailure()) {
      std::fprintf(stderr, "--- strata stderr ---\n%s\n--- strata stdout ---\n%s\n",
                   read_file(dir_ + "/strata.err").c_str(),
                   read_file(dir_ + "/strata.out").c_str());
    }
    mock_.stop(SIGTERM, 10000);
    remove_tree(dir_);
  }

  // strata-mock-kafka with one topic; its bootstrap address from --bootstrap-file.
  bool start_mock_kafka() {
    std::string file = dir_ + "/bootstrap";
    if (!mock_.start({mock_kafka_bin(), "--brokers", "1", "--topics", "events", "--partitions", "2",
                      "--bootstrap-file", file},
                     dir_ + "/mock.out", dir_ + "/mock.err"))
      return false;
    return wait_until(
        [&] {
          std::string b = read_file(file);
          while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
          bootstrap_ = b;
          return !b.empty();
        },
        20000);
  }

  std::string tiers_and_admin() const {
    return "log_level = \"info\"\n\n[admin]\nport = " + std::to_string(admin_port_) +
           "\n\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" + memcached_.address() +
           "\"]\n@L1@\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" + redis_.address() +
           "\"\n\n";
  }

  // The reload test's configuration: source over strata-mock-kafka, pipeline p.
  std::string reload_config(const std::string& script, const std::string& dead_letters,
                            const std::string& l1_extra = "") const {
    std::string t = tiers_and_admin();
    t.replace(t.find("@L1@"), 4, l1_extra);
    return t + "[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"" + bootstrap_ +
           "\"\ntopics = [\"events\"]\ngroup_id = \"cli-reload\"\nmax_wait = \"20ms\"\n"
           "commit_interval = \"200ms\"\n"
           // The mock re-forms a group only after a session timeout: keep it short.
           "rdkafka = { \"session.timeout.ms\" = \"6000\", \"heartbeat.interval.ms\" = \"500\" }\n"
           "\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\nscript = \"" +
           script + "\"\ndead_letter_file = \"" + dead_letters + "\"\n";
  }

  bool start_strata() {
    return strata_.start({strata_bin(), "run", "-c", path_}, dir_ + "/strata.out",
                         dir_ + "/strata.err");
  }
  std::string log() const { return read_file(dir_ + "/strata.err"); }
  bool log_has(const std::string& s, int timeout_ms) const {
    return wait_until([&] { return log().find(s) != std::string::npos; }, timeout_ms);
  }
  bool healthy() const {
    HttpReply r = http_get(admin_port_, "/healthz");
    return r.status == 200 && r.body.rfind("ok", 0) == 0;
  }
  // Produces "KEY|VALUE" lines with kcat.
  void produce(const std::string& lines) {
    static int n = 0;
    std::string file = dir_ + "/produce-" + std::to_string(++n) + ".txt";
    write_file(file, lines);
    int status = -1;
    std::string out = strata::test::run_command(
        "kcat -P -b " + bootstrap_ + " -t events -K '|' -X enable.idempotence=true -l " + file +
            " 2>&1",
        &status);
    ASSERT_EQ(status, 0) << "kcat: " << out;
  }
  bool redis_has(const std::string& key, const std::string& value, int timeout_ms) const {
    return wait_until([&] { return redis_.redis_cli("GET " + key) == value; }, timeout_ms);
  }

  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  Background mock_, strata_;
  std::string dir_, path_, bootstrap_;
  int admin_port_ = 0;
};

TEST_F(CliRun, SighupRejectsABadFileAppliesAGoodOneAndSigtermExitsCleanly) {
  ASSERT_TRUE(start_mock_kafka()) << read_file(dir_ + "/mock.err");
  write_file(dir_ + "/keys1.lua", "function key(r) return \"one:\" .. r.key end\n");
  write_file(dir_ + "/keys2.lua",
             "function key(r)\n"
             "  if r.value == \"poison\" then error(\"poison record\") end\n"
             "  return \"two:\" .. r.key\n"
             "end\n");
  path_ = dir_ + "/strata.toml";
  write_file(path_, reload_config("keys1.lua", "dead1.jsonl"));
  ASSERT_TRUE(start_strata());
  ASSERT_TRUE(wait_until([&] { return healthy(); }, 30000)) << "no healthy admin listener";
  produce("a1|v1\n");
  ASSERT_TRUE(redis_has("one:a1", "v1", 45000)) << "first record not processed";

  // (a) An invalid file: rejected with its position, the running configuration stays.
  std::string bad = reload_config("keys2.lua", "dead2.jsonl", "sevrers = [\"x:1\"]\n");
  write_file(path_, bad);
  strata_.signal(SIGHUP);
  std::string where = path_ + ":" + line_col(bad, "sevrers") + ": tiers.l1.sevrers: unknown option";
  ASSERT_TRUE(log_has("reload rejected", 20000)) << log();
  // One complete line per diagnostic, then one saying the old configuration stays.
  EXPECT_TRUE(log_has("ERROR reload rejected: " + where, 5000))
      << "expected 'reload rejected: " << where << "' in:\n"
      << log();
  EXPECT_TRUE(log_has("reload rejected, the running configuration stays\n", 5000)) << log();
  EXPECT_EQ(log().find("stays:\\n"), std::string::npos) << "diagnostics glued into one line";
  EXPECT_TRUE(strata_.running());
  EXPECT_TRUE(healthy());
  produce("a2|v2\n");
  EXPECT_TRUE(redis_has("one:a2", "v2", 45000)) << "old configuration stopped processing";

  // (b) A valid, changed file: new script and dead-letter file take effect.
  write_file(path_, reload_config("keys2.lua", "dead2.jsonl"));
  strata_.signal(SIGHUP);
  ASSERT_TRUE(log_has("configuration reloaded", 30000)) << log();
  produce("b1|w1\nb2|poison\n");
  EXPECT_TRUE(redis_has("two:b1", "w1", 60000)) << "record after the reload not processed";
  EXPECT_TRUE(wait_until(
      [&] { return read_file(dir_ + "/dead2.jsonl").find("poison record") != std::string::npos; },
      30000))
      << "no dead letter in the new dead_letter_file";
  EXPECT_EQ(redis_.redis_cli("EXISTS one:b1"), "0") << "old script still running";
  EXPECT_TRUE(healthy());

  // (c) SIGTERM: graceful stop, exit 0, the summary on stdout.
  int rc = strata_.stop(SIGTERM, 30000);
  EXPECT_EQ(rc, 0);
  std::string out = read_file(dir_ + "/strata.out");
  EXPECT_NE(out.find("pipeline p: records="), std::string::npos) << out;
  EXPECT_NE(out.find("dead_letters=1"), std::string::npos) << out;
}

TEST_F(CliRun, AdminServesMetricsAndHealth) {
  write_file(dir_ + "/seed.tsv", "u1\tv1\nu2\tv2\nu3\tv3\n");
  std::string t = tiers_and_admin();
  t.replace(t.find("@L1@"), 4, "");
  path_ = dir_ + "/strata.toml";
  write_file(path_, t +
                        "[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"mock\"\n"
                        "topics = [\"events\"]\nmock_partitions = 2\nseed_file = \"" +
                        dir_ +
                        "/seed.tsv\"\n\n[pipelines.p]\nsource = \"events\"\n"
                        "tiers = [\"l1\", \"l2\"]\n");
  ASSERT_TRUE(start_strata());
  ASSERT_TRUE(redis_has("u3", "v3", 45000)) << "seeded records not processed";

  std::string metrics;
  EXPECT_TRUE(wait_until(
      [&] {
        HttpReply r = http_get(admin_port_, "/metrics");
        metrics = r.body;
        return r.status == 200 &&
               metrics.find("strata_pipeline_records_total{pipeline=\"p\"} 3\n") !=
                   std::string::npos;
      },
      20000))
      << metrics;
  EXPECT_NE(metrics.find("# TYPE strata_pipeline_records_total counter"), std::string::npos);
  EXPECT_NE(metrics.find("strata_tier_latency_seconds_count{tier=\"tiers.l2\"}"), std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find("strata_pipeline_keys_written_total{pipeline=\"p\",tier=\"tiers.l2\"} 3\n"),
      std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("module_instance=\"tiers.l1\""), std::string::npos) << metrics;

  HttpReply h = http_get(admin_port_, "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body.rfind("ok\n", 0), 0u) << h.body;
  EXPECT_NE(h.body.find("tiers.l2 breaker=closed"), std::string::npos) << h.body;
  EXPECT_EQ(http_get(admin_port_, "/nope").status, 404);

  EXPECT_EQ(strata_.stop(SIGTERM, 30000), 0);
  EXPECT_NE(read_file(dir_ + "/strata.out").find("pipeline p: records=3 "), std::string::npos)
      << read_file(dir_ + "/strata.out");
}

TEST_F(CliRun, RefusesToStartOnABadFileOrATakenAdminPort) {
  path_ = dir_ + "/strata.toml";
  std::string t = tiers_and_admin();
  t.replace(t.find("@L1@"), 4, "sevrers = []\n");
  write_file(path_, t);
  Outcome bad = run({strata_bin(), "run", "-c", path_});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(path_ + ":" + line_col(t, "sevrers") + ": tiers.l1.sevrers"),
            std::string::npos)
      << bad.err;

  // The admin port is Redis's: taken.
  t = "log_level = \"warn\"\n[admin]\nport = " + std::to_string(redis_.port()) +
      "\n[sources.events]\nmodule = \"kafka_source\"\ntopics = [\"events\"]\n"
      "[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" +
      redis_.address() + "\"\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l2\"]\n";
  write_file(path_, t);
  Outcome taken = run({strata_bin(), "run", "-c", path_});
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_NE(taken.err.find("cannot bind 127.0.0.1:" + std::to_string(redis_.port()) +
                           ": Address already in use"),
            std::string::npos)
      << taken.err;
}

// Editing the script in place with a syntax error and sending SIGHUP must be a rejected reload:
// the running pipelines (with the script they compiled) keep going.
TEST_F(CliRun, SighupWithABrokenScriptKeepsRunning) {
  std::string t = tiers_and_admin();
  t.replace(t.find("@L1@"), 4, "");
  path_ = dir_ + "/strata.toml";
  write_file(path_, t + "[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"mock\"\n"
                        "topics = [\"events\"]\nmock_partitions = 1\n\n[pipelines.p]\n"
                        "source = \"events\"\ntiers = [\"l1\", \"l2\"]\nscript = \"keys.lua\"\n");
  write_file(dir_ + "/keys.lua", "function key(r) return \"k:\" .. r.key end\n");
  ASSERT_TRUE(start_strata());
  ASSERT_TRUE(wait_until([&] { return healthy(); }, 30000)) << "no healthy admin listener";
  // The listener answers before the pipelines start (and compile the script): editing it
  // earlier would fail the start itself, not a reload.
  ASSERT_TRUE(log_has("strata running", 30000)) << log();

  write_file(dir_ + "/keys.lua", "function key(r)\n  return \"k:\" ..\nend\n");
  strata_.signal(SIGHUP);
  // Whatever the outcome, it is logged: rejected, reloaded, or failed to start.
  ASSERT_TRUE(wait_until(
      [&] {
        std::string l = log();
        return l.find("reload rejected") != std::string::npos ||
               l.find("configuration reloaded") != std::string::npos ||
               l.find("reload failed") != std::string::npos || !strata_.running();
      },
      30000))
      << log();
  EXPECT_TRUE(log_has("keys.lua:3:", 5000)) << "the script error is not named:\n" << log();
  EXPECT_NE(log().find("reload rejected"), std::string::npos) << log();
  ASSERT_TRUE(strata_.running()) << "strata exited after a SIGHUP with a broken script";
  EXPECT_TRUE(healthy());
  EXPECT_EQ(strata_.stop(SIGTERM, 30000), 0);
}

// A rejected reload must leave everything as it was, the log level included: the second SIGHUP's
// "received SIGHUP" (info) line must still be logged after a bad file asked for log_level=error.
TEST_F(CliRun, RejectedReloadKeepsTheLogLevel) {
  std::string t = tiers_and_admin();
  t.replace(t.find("@L1@"), 4, "");
  std::string good = t +
                     "[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"mock\"\n"
                     "topics = [\"events\"]\nmock_partitions = 1\n\n[pipelines.p]\n"
                     "source = \"events\"\ntiers = [\"l1\", \"l2\"]\n";
  std::string bad = good;
  bad.replace(bad.find("log_level = \"info\""), 18, "log_level = \"error\"");
  bad.replace(bad.find("module = \"memcached_l1\"\n"), 24,
              "module = \"memcached_l1\"\nsevrers = []\n");
  ASSERT_NE(bad.find("log_level = \"error\""), std::string::npos);
  ASSERT_NE(bad.find("sevrers"), std::string::npos);
  path_ = dir_ + "/strata.toml";
  write_file(path_, good);
  ASSERT_TRUE(start_strata());
  ASSERT_TRUE(log_has("strata running", 30000)) << log();

  write_file(path_, bad);
  strata_.signal(SIGHUP);
  ASSERT_TRUE(log_has("reload rejected", 20000)) << log();
  write_file(path_, good);
  strata_.signal(SIGHUP);
  ASSERT_TRUE(log_has("configuration reloaded", 30000)) << log();
  std::string l = log();
  size_t count = 0;
  for (size_t p = l.find("received SIGHUP"); p != std::string::npos;
       p = l.find("received SIGHUP", p + 1))
    ++count;
  EXPECT_EQ(count, 2u) << "the rejected file's log_level was applied:\n" << l;
  EXPECT_EQ(strata_.stop(SIGTERM, 30000), 0);
}

// Issue 9 item 5: a hook stuck where nothing can interrupt it (no budget, an endless loop: the
// same as one long C call) used to make SIGTERM and --exit-when-idle wait forever. The stop is
// bounded by --shutdown-timeout: one ERROR line names what is still running, exit 1, nothing
// more committed. The hook has been entered once the pipeline counted the seeded record.
class CliRunStuckHook : public CliRun {
 protected:
  void start_stuck(const std::vector<std::string>& extra) {
    write_file(dir_ + "/seed.tsv", "s1\tv1\n");
    write_file(dir_ + "/stuck.lua", "function key(r)\n  while true do end\nend\n");
    std::string t = tiers_and_admin();
    t.replace(t.find("@L1@"), 4, "");
    path_ = dir_ + "/strata.toml";
    write_file(path_, t +
                          "[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"mock\"\n"
                          "topics = [\"events\"]\nmock_partitions = 1\nseed_file = \"" +
                          dir_ +
                          "/seed.tsv\"\n\n[pipelines.p]\nsource = \"events\"\n"
                          "tiers = [\"l1\", \"l2\"]\nscript = \"stuck.lua\"\nlua_budget = 0\n");
    std::vector<std::string> argv = {strata_bin(), "run", "-c", path_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(strata_.start(argv, dir_ + "/strata.out", dir_ + "/strata.err"));
  }
  bool hook_entered() {
    return wait_until(
        [&] {
          return http_get(admin_port_, "/metrics")
                     .body.find("strata_pipeline_records_total{pipeline=\"p\"} 1\n") !=
                 std::string::npos;
        },
        45000);
  }
  static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  const std::string gave_up_ =
      "still running: pipeline p (its batch in hand: a hook or a tier call has not returned); "
      "exiting now without committing: records not yet committed will be read again after a "
      "restart";
};

TEST_F(CliRunStuckHook, Issue9SigtermWithAStuckHookExitsAtTheShutdownDeadline) {
  start_stuck({"--shutdown-timeout", "2s"});
  ASSERT_TRUE(hook_entered()) << log();
  int64_t t0 = now_ms();
  int rc = strata_.stop(SIGTERM, 20000);
  int64_t took = now_ms() - t0;
  EXPECT_EQ(rc, 1);
  EXPECT_GE(took, 1900);
  EXPECT_LT(took, 10000) << "the stop was not bounded by --shutdown-timeout";
  EXPECT_NE(log().find("(deadline 2s, then exit 1 without committing)"), std::string::npos)
      << log();
  EXPECT_NE(log().find("ERROR the stop did not finish within --shutdown-timeout 2s; " + gave_up_),
            std::string::npos)
      << log();
  EXPECT_EQ(read_file(dir_ + "/strata.out").find("pipeline p: records="), std::string::npos)
      << "a summary after a forced exit";
  EXPECT_EQ(redis_.redis_cli("EXISTS s1"), "0");
}

// The common convention: a second SIGTERM (or ^C) while the stop waits exits at once.
TEST_F(CliRunStuckHook, Issue9SecondSigtermDuringAStuckStopExitsAtOnce) {
  start_stuck({"--shutdown-timeout", "5m"});
  ASSERT_TRUE(hook_entered()) << log();
  strata_.signal(SIGTERM);
  ASSERT_TRUE(log_has("received SIGTERM, stopping", 10000)) << log();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // past the admin listener's stop
  EXPECT_TRUE(strata_.running());
  int64_t t0 = now_ms();
  EXPECT_EQ(strata_.stop(SIGTERM, 20000), 1);
  EXPECT_LT(now_ms() - t0, 5000);
  EXPECT_NE(log().find("ERROR received a second SIGTERM; " + gave_up_), std::string::npos) << log();
}

// A SIGHUP reload stops the old pipelines on the main thread, which then takes no signal: the
// watchdog takes SIGTERM meanwhile, and the stuck stop ends at the deadline all the same.
TEST_F(CliRunStuckHook, Issue9SigtermDuringAReloadThatAStuckHookHoldsExitsAtTheDeadline) {
  start_stuck({"--shutdown-timeout", "2s"});
  ASSERT_TRUE(hook_entered()) << log();
  strata_.signal(SIGHUP);
  ASSERT_TRUE(log_has("received SIGHUP", 10000)) << log();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the old pipelines are stopping
  int64_t t0 = now_ms();
  EXPECT_EQ(strata_.stop(SIGTERM, 20000), 1);
  EXPECT_LT(now_ms() - t0, 10000);
  EXPECT_NE(log().find("received SIGTERM during a reload"), std::string::npos) << log();
  EXPECT_NE(log().find("ERROR the stop did not finish within --shutdown-timeout 2s; " + gave_up_),
            std::string::npos)
      << log();
}

// --exit-when-idle: the stuck worker takes no more records and the lag is 0, so the pipeline
// looks idle and the stop begins; the watchdog then bounds it like a SIGTERM's.
TEST_F(CliRunStuckHook, Issue9ExitWhenIdleWithAStuckHookEndsAtTheShutdownDeadline) {
  start_stuck({"--exit-when-idle", "1s", "--shutdown-timeout", "2s"});
  ASSERT_TRUE(hook_entered()) << log();
  EXPECT_EQ(strata_.wait(30000), 1) << "--exit-when-idle did not end the process";
  EXPECT_NE(log().find("idle for 1s, stopping (deadline 2s"), std::string::npos) << log();
  EXPECT_NE(log().find("ERROR the stop did not finish within --shutdown-timeout 2s; " + gave_up_),
            std::string::npos)
      << log();
}

// Issue 9: a file that used to overflow toml++'s stack killed the daemon on SIGHUP; now it is a
// rejected reload like any other bad file. No servers needed: one policy, no pipeline.
TEST(CliRunReload, Issue9SighupWithADeepFileIsRejectedAndTheDaemonLives) {
  std::string dir = make_temp_dir();
  std::string path = dir + "/strata.toml";
  write_file(path, "log_level = \"info\"\n[policies.p]\nmodule = \"write_through\"\n");
  Background strata_run;
  ASSERT_TRUE(strata_run.start({strata_bin(), "run", "-c", path, "--modules-dir", modules_dir()},
                               dir + "/strata.out", dir + "/strata.err"));
  auto log_has = [&](const std::string& s) {
    return wait_until([&] { return read_file(dir + "/strata.err").find(s) != std::string::npos; },
                      10000);
  };
  ASSERT_TRUE(log_has("strata running")) << read_file(dir + "/strata.err");
  std::string deep = "a";
  for (int i = 0; i < 49999; ++i) deep += ".a";
  write_file(path, deep + " = 1\n");
  strata_run.signal(SIGHUP);
  EXPECT_TRUE(log_has("reload rejected")) << read_file(dir + "/strata.err").substr(0, 2000);
  EXPECT_TRUE(log_has(path + ":1:256: the configuration nests deeper than 128 levels"))
      << read_file(dir + "/strata.err").substr(0, 2000);
  EXPECT_TRUE(strata_run.running()) << "strata died on a SIGHUP with a deep file";
  EXPECT_EQ(strata_run.stop(SIGTERM), 0);
  remove_tree(dir);
}

}  // namespace
}  // namespace strata::cli_test
