// The admin listener of a real `strata run` (issue 11): strata_build_info, /version, the
// process_* series, /readyz, and strata_config_last_reload_successful with its timestamp across a
// rejected and an accepted SIGHUP reload. Real memcached and redis-server; Kafka is the
// kafka_source's embedded mock with a seed file. Also the examples: the Prometheus rules pass
// `promtool check rules`, the Grafana dashboard is JSON, and every metric either one names is
// in a real scrape.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <set>
#include <string>

#include "cli_support.hpp"
#include "servers.hpp"

namespace strata::cli_test {
namespace {

using strata::test::ServerProcess;

// The value of the unlabelled series `name`; NAN when absent.
double sample(const std::string& body, const std::string& name) {
  size_t p = body.find("\n" + name + " ");
  if (p == std::string::npos) return std::nan("");
  return std::stod(body.substr(p + name.size() + 2));
}

class AdminRun : public ::testing::Test {
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
    if (::testing::Test::HasFailure())
      std::fprintf(stderr, "--- strata stderr ---\n%s\n", log().c_str());
    remove_tree(dir_);
  }
  std::string config(const std::string& l1_extra = "") const {
    return "log_level = \"info\"\n\n[admin]\nport = " + std::to_string(admin_port_) +
           "\n\n[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"" + memcached_.address() +
           "\"]\n" + l1_extra + "\n[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"" +
           redis_.address() +
           "\"\n\n[sources.events]\nmodule = \"kafka_source\"\nbrokers = \"mock\"\n"
           "topics = [\"events\"]\nmock_partitions = 2\nseed_file = \"" +
           dir_ + "/seed.tsv\"\n\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\n";
  }
  std::string log() const { return read_file(dir_ + "/strata.err"); }
  std::string metrics() const {
    HttpReply r = http_get(admin_port_, "/metrics");
    return r.status == 200 ? r.body : "";
  }

  ServerProcess memcached_{ServerProcess::Kind::Memcached};
  ServerProcess redis_{ServerProcess::Kind::Redis};
  Background strata_;
  std::string dir_;
  int admin_port_ = 0;
};

TEST_F(AdminRun, Issue11BuildInfoVersionProcessAndReloadMetrics) {
  write_file(dir_ + "/seed.tsv", "u1\tv1\nu2\tv2\n");
  std::string path = dir_ + "/strata.toml";
  write_file(path, config());
  ASSERT_TRUE(
      strata_.start({strata_bin(), "run", "-c", path}, dir_ + "/strata.out", dir_ + "/strata.err"));
  ASSERT_TRUE(wait_until([&] { return redis_.redis_cli("GET u2") == "v2"; }, 45000))
      << "seeded records not processed";

  std::string m = metrics();
  EXPECT_NE(m.find("\nstrata_build_info{version=\""), std::string::npos) << m;
  EXPECT_NE(m.find("librdkafka=\""), std::string::npos) << m;
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_open_fds", "process_start_time_seconds"})
    EXPECT_GT(sample(m, name), 0) << name << " in\n" << m;
  EXPECT_EQ(sample(m, "strata_config_last_reload_successful"), 1) << m;
  double loaded_at = sample(m, "strata_config_last_reload_success_timestamp_seconds");
  EXPECT_GE(loaded_at, sample(m, "process_start_time_seconds") - 1) << m;

  HttpReply ready = http_get(admin_port_, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.body, "ready\n");
  // The runtime's health body carries no "not ready" line while all is well.
  EXPECT_EQ(http_get(admin_port_, "/healthz").body.find("not ready"), std::string::npos);

  HttpReply v = http_get(admin_port_, "/version");
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(v.body.rfind("version: ", 0), 0u) << v.body;
  EXPECT_NE(v.body.find("\nluajit: "), std::string::npos) << v.body;

  // A rejected reload: 0, and the timestamp of the last good one stays.
  write_file(path, config("sevrers = [\"x:1\"]\n"));
  strata_.signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] {
        return log().find("reload rejected, the running configuration stays") != std::string::npos;
      },
      20000))
      << log();
  ASSERT_TRUE(wait_until(
      [&] { return sample(metrics(), "strata_config_last_reload_successful") == 0; }, 10000))
      << metrics();
  EXPECT_EQ(sample(metrics(), "strata_config_last_reload_success_timestamp_seconds"), loaded_at);

  // An accepted one: 1 again, and a timestamp no older than the first.
  write_file(path, config());
  strata_.signal(SIGHUP);
  ASSERT_TRUE(
      wait_until([&] { return log().find("configuration reloaded") != std::string::npos; }, 30000))
      << log();
  ASSERT_TRUE(wait_until(
      [&] { return sample(metrics(), "strata_config_last_reload_successful") == 1; }, 10000))
      << metrics();
  EXPECT_GE(sample(metrics(), "strata_config_last_reload_success_timestamp_seconds"), loaded_at);
  EXPECT_EQ(strata_.stop(SIGTERM, 30000), 0);
}

std::string example(const std::string& rel) {
  return read_file(std::string(STRATA_SOURCE_DIR) + "/examples/" + rel);
}

// Every strata_* and process_* metric an example names (histogram suffixes stripped when the
// base is a histogram in `scrape`) must be a family in `scrape`.
void expect_names_exist(const std::string& file, const std::string& text,
                        const std::string& scrape) {
  std::set<std::string> names;
  std::regex name("\\b(strata|process)_[a-z0-9_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator();
       ++it)
    names.insert(it->str());
  EXPECT_GE(names.size(), 5u) << file << " names hardly any metric";
  for (std::string n : names) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string base = n.size() > std::strlen(suffix) && n.compare(n.size() - std::strlen(suffix),
                                                                     std::string::npos, suffix) == 0
                             ? n.substr(0, n.size() - std::strlen(suffix))
                             : "";
      if (!base.empty() && scrape.find("# TYPE " + base + " histogram\n") != std::string::npos)
        n = base;
    }
    EXPECT_NE(scrape.find("# TYPE " + n + " "), std::string::npos)
        << file << " names " << n << ", which /metrics does not have";
  }
}

TEST_F(AdminRun, Issue11EveryMetricTheExamplesNameIsScraped) {
  write_file(dir_ + "/seed.tsv", "u1\tv1\n");
  std::string path = dir_ + "/strata.toml";
  write_file(path, config() + "dead_letter_file = \"" + dir_ + "/dead.jsonl\"\n");
  ASSERT_TRUE(
      strata_.start({strata_bin(), "run", "-c", path}, dir_ + "/strata.out", dir_ + "/strata.err"));
  ASSERT_TRUE(wait_until([&] { return redis_.redis_cli("GET u1") == "v1"; }, 45000))
      << "seeded record not processed";
  std::string m = metrics();
  ASSERT_FALSE(m.empty());
  std::string rules = example("prometheus/strata.rules.yml");
  std::string dashboard = example("grafana/strata.json");
  ASSERT_FALSE(rules.empty());
  ASSERT_FALSE(dashboard.empty());
  expect_names_exist("strata.rules.yml", rules, m);
  expect_names_exist("strata.json", dashboard, m);
}

TEST(AdminExamples, Issue11PromtoolAcceptsTheRules) {
  int status = -1;
  strata::test::run_command("command -v promtool >/dev/null 2>&1", &status);
  if (status != 0) {
    // scripts/install-deps.sh installs it (Debian's prometheus), so CI runs this check; a
    // machine set up another way skips only when it says so.
    const char* allow = std::getenv("STRATA_ALLOW_SKIP");
    if (allow && *allow && std::string(allow) != "0")
      GTEST_SKIP() << "promtool is not installed and STRATA_ALLOW_SKIP is set";
    FAIL() << "promtool is not installed: run scripts/install-deps.sh (Debian's prometheus "
              "package), or set STRATA_ALLOW_SKIP=1 to skip this check";
  }
  std::string out =
      strata::test::run_command("promtool check rules " + std::string(STRATA_SOURCE_DIR) +
                                    "/examples/prometheus/strata.rules.yml 2>&1",
                                &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("SUCCESS"), std::string::npos) << out;
}

TEST(AdminExamples, Issue11TheDashboardIsJson) {
  int status = -1;
  strata::test::run_command("command -v python3 >/dev/null 2>&1", &status);
  if (status != 0) GTEST_SKIP() << "python3 (its json module checks the file) is not installed";
  std::string out = strata::test::run_command(
      "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
      "assert d[\"panels\"], \"no panels\"; "
      "[p[\"targets\"][0][\"expr\"] for p in d[\"panels\"]]' " +
          std::string(STRATA_SOURCE_DIR) + "/examples/grafana/strata.json 2>&1",
      &status);
  EXPECT_EQ(status, 0) << out;
}

}  // namespace
}  // namespace strata::cli_test
