// `strata run`'s log (issue 11 items 2 and 4): the periodic progress line (progress_interval,
// off with 0, changed by a reload), log_format = "json" (every line a JSON object), one
// prefixed line per event on a rejected reload, and journald priority prefixes when
// JOURNAL_STREAM is set. Real memcached and redis-server; Kafka is the embedded mock.
#include <gtest/gtest.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "servers.hpp"

namespace strata::cli_test {
namespace {

using strata::test::ServerProcess;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class CliLog : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("STRATA_MODULES_PATH", modules_dir().c_str(), 1); }
  void SetUp() override {
    dir_ = make_temp_dir();
    path_ = dir_ + "/strata.toml";
    ASSERT_TRUE(memcached_.start());
    ASSERT_TRUE(redis_.start());
    front_port_ = strata::test::free_port();
  }
  void TearDown() override {
    strata_.stop(SIGKILL, 10000);
    if (::testing::Test::HasFailure())
      std::fprintf(stderr, "--- strata stderr ---\n%s\n", log().c_str());
    remove_tree(dir_);
  }

  // top: extra top-level keys; l1_extra: extra keys of [tiers.l1] (a typo makes it invalid).
  std::string config(const std::string& top, const std::string& l1_extra = "",
                     bool front = false) const {
    std::string c = "log_level = \"info\"\n" + top +
                    "\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" +
                    memcached_.address() + "\"]\n" + l1_extra +
                    "\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" + redis_.address() +
                    "\"\n\n[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"mock\"\n"
                    "topics = [\"events\"]\nmock_partitions = 1\n\n[pipelines.p]\n"
                    "source = \"events\"\ntiers = [\"l1\", \"l2\"]\n";
    if (front)
      c += "\n[fronts.mc]\nmodule = \"memcached_front\"\nlisten = \"127.0.0.1\"\nport = " +
           std::to_string(front_port_) + "\npipeline = \"p\"\n";
    return c;
  }
  // Through env(1): JOURNAL_STREAM is unset unless a test sets it (the tests may themselves
  // run under systemd).
  bool start_strata(const std::vector<std::string>& env_prefix = {"/usr/bin/env", "-u",
                                                                  "JOURNAL_STREAM"}) {
    std::vector<std::string> argv = env_prefix;
    for (const char* a : {"run", "-c"}) argv.push_back(a);
    argv.insert(argv.begin() + static_cast<long>(env_prefix.size()), strata_bin());
    argv.push_back(path_);
    return strata_.start(argv, dir_ + "/strata.out", dir_ + "/strata.err");
  }
  std::string log() const { return read_file(dir_ + "/strata.err"); }
  bool log_has(const std::string& s, int timeout_ms) const {
    return wait_until([&] { return log().find(s) != std::string::npos; }, timeout_ms);
  }
  // The first log line that contains `s` ("" if none).
  std::string line_with(const std::string& s) const {
    for (const std::string& l : lines_of(log()))
      if (l.find(s) != std::string::npos) return l;
    return "";
  }
  // Writes a configuration with a typo and sends SIGHUP; waits for the rejection to be logged.
  void rejected_reload(const std::string& top) {
    write_file(path_, config(top, "sevrers = []\n"));
    strata_.signal(SIGHUP);
    ASSERT_TRUE(log_has("reload rejected, the running configuration stays", 20000)) << log();
  }

  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  Background strata_;
  std::string dir_, path_;
  int front_port_ = 0;
};

TEST_F(CliLog, ProgressLineNamesEachPipelineAndFrontWithItsFields) {
  write_file(path_, config("progress_interval = \"200ms\"\n", "", /*front=*/true));
  ASSERT_TRUE(start_strata());
  ASSERT_TRUE(log_has("strata running", 30000)) << log();
  // A read through the front, so that its chain has something to count.
  memcached_command(front_port_, "get progress-probe");
  ASSERT_TRUE(log_has("[pipeline=p] progress records_per_s=", 20000)) << log();
  ASSERT_TRUE(log_has("[fronts.mc] progress commands_per_s=", 20000)) << log();
  std::string p = line_with("[pipeline=p] progress ");
  EXPECT_NE(p.find(" INFO "), std::string::npos) << p;
  for (const char* field : {"records_per_s=", "keys_per_s.l1=", "keys_per_s.l2=", "lag=",
                            "dead_letters=", "hit_ratio.l1=", "hit_ratio.l2="})
    EXPECT_NE(p.find(field), std::string::npos) << field << " missing in: " << p;
  EXPECT_TRUE(std::regex_search(p, std::regex(R"(records_per_s=[0-9]+\.[0-9] )"))) << p;
  EXPECT_TRUE(std::regex_search(p, std::regex(R"(dead_letters=[0-9]+ )"))) << p;
  EXPECT_TRUE(std::regex_search(p, std::regex(R"(hit_ratio\.l1=(-|[01]\.[0-9][0-9]))"))) << p;
  std::string f = line_with("[fronts.mc] progress ");
  for (const char* field : {"commands_per_s=", "hit_ratio.l1=", "hit_ratio.l2="})
    EXPECT_NE(f.find(field), std::string::npos) << field << " missing in: " << f;
  EXPECT_EQ(strata_.stop(SIGTERM), 0) << log();
}

// Off with 0; a reload that sets an interval turns it on (the positive control: the same
// process, so the absence above is not a line that was merely slow to come).
TEST_F(CliLog, ProgressIntervalZeroLogsNoneUntilAReloadSetsOne) {
  write_file(path_, config("progress_interval = 0\n"));
  ASSERT_TRUE(start_strata());
  ASSERT_TRUE(log_has("strata running", 30000)) << log();
  // An observation window (not a synchronisation): several 200 ms run-loop ticks pass.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  wait_until([&] { return std::chrono::steady_clock::now() >= until; }, 5000);
  EXPECT_EQ(log().find("progress records_per_s"), std::string::npos) << log();
  write_file(path_, config("progress_interval = \"200ms\"\n"));
  strata_.signal(SIGHUP);
  ASSERT_TRUE(log_has("configuration reloaded", 30000)) << log();
  EXPECT_TRUE(log_has("progress records_per_s=", 20000)) << log();
}

TEST_F(CliLog, ProgressIntervalIsCheckedLikeOtherDurations) {
  write_file(path_, config("progress_interval = \"soon\"\n"));
  Outcome o = strata({"check", "-c", path_});
  EXPECT_EQ(o.exit_code, 1) << o.out << o.err;
  std::string where = path_ + ":" + line_col(read_file(path_), "\"soon\"");
  EXPECT_NE((o.out + o.err).find(where), std::string::npos) << "expected " << where << " in:\n"
                                                            << o.out << o.err;
  write_file(path_, config("log_format = \"yaml\"\n"));
  o = strata({"check", "-c", path_});
  EXPECT_EQ(o.exit_code, 1) << o.out << o.err;
  EXPECT_NE((o.out + o.err).find("log_format"), std::string::npos) << o.out << o.err;
}

TEST_F(CliLog, JsonFormatWritesOneObjectPerLine) {
  const std::string top = "log_format = \"json\"\nprogress_interval = \"200ms\"\n";
  write_file(path_, config(top));
  ASSERT_TRUE(start_strata());
  ASSERT_TRUE(log_has("strata running", 30000)) << log();
  ASSERT_TRUE(log_has("progress records_per_s=", 20000)) << log();
  rejected_reload(top);
  ASSERT_EQ(strata_.stop(SIGTERM), 0) << log();
  int rejected = 0, progress = 0;
  std::vector<std::string> lines = lines_of(log());
  ASSERT_FALSE(lines.empty());
  for (const std::string& l : lines) {
    nlohmann::json v;
    try {
      v = nlohmann::json::parse(l);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << l;
      continue;
    }
    ASSERT_TRUE(v.is_object()) << l;
    ASSERT_TRUE(v.contains("ts") && v.contains("level") && v.contains("msg")) << l;
    EXPECT_TRUE(std::regex_match(v.at("ts").get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << l;
    const std::string& level = v.at("level").get<std::string>();
    EXPECT_TRUE(level == "debug" || level == "info" || level == "warn" || level == "error") << l;
    const std::string& msg = v.at("msg").get<std::string>();
    if (msg.rfind("reload rejected", 0) == 0) {
      ++rejected;
      EXPECT_EQ(level, "error") << l;
    }
    if (msg.rfind("progress ", 0) == 0) {
      ++progress;
      ASSERT_TRUE(v.contains("pipeline")) << l;
      EXPECT_EQ(v.at("pipeline").get<std::string>(), "p") << l;
    }
  }
  // The diagnostic (with the file's path, quoted as JSON) and the closing line.
  EXPECT_GE(rejected, 2) << log();
  EXPECT_GE(progress, 1) << log();
}

const std::regex kTextLine(
    R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) .*)");
const std::regex kJournalLine(R"(<([3467])>(DEBUG|INFO |WARN |ERROR) .*)");

TEST_F(CliLog, RejectedReloadLogsOnlyPrefixedLines) {
  write_file(path_, config(""));
  ASSERT_TRUE(start_strata());
  ASSERT_TRUE(log_has("strata running", 30000)) << log();
  rejected_reload("");
  std::string where = path_ + ":" + line_col(read_file(path_), "sevrers");
  EXPECT_NE(line_with("ERROR reload rejected: " + where), "") << log();
  ASSERT_EQ(strata_.stop(SIGTERM), 0) << log();
  for (const std::string& l : lines_of(log()))
    EXPECT_TRUE(std::regex_match(l, kTextLine)) << "unprefixed line: '" << l << "'";
}

TEST_F(CliLog, JournalStreamSwitchesToPriorityPrefixes) {
  write_file(path_, config(""));
  ASSERT_TRUE(start_strata({"/usr/bin/env", "JOURNAL_STREAM=8:12345"}));
  ASSERT_TRUE(log_has("strata running", 30000)) << log();
  rejected_reload("");
  ASSERT_EQ(strata_.stop(SIGTERM), 0) << log();
  int errors = 0, infos = 0;
  for (const std::string& l : lines_of(log())) {
    std::smatch m;
    if (!std::regex_match(l, m, kJournalLine)) {
      ADD_FAILURE() << "not a journald line: '" << l << "'";
      continue;
    }
    const std::string prio = m[1].str(), level = m[2].str();
    if (level == "ERROR") {
      ++errors;
      EXPECT_EQ(prio, "3") << l;
    } else if (level == "WARN ") {
      EXPECT_EQ(prio, "4") << l;
    } else if (level == "INFO ") {
      ++infos;
      EXPECT_EQ(prio, "6") << l;
    } else {
      EXPECT_EQ(prio, "7") << l;
    }
  }
  EXPECT_GE(errors, 2) << log();
  EXPECT_GE(infos, 1) << log();
}

}  // namespace
}  // namespace strata::cli_test
