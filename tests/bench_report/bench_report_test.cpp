// bench/common's Report: the JSON file every benchmark writes beside its printed figures.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_report.hpp"

namespace {

namespace fs = std::filesystem;
using strata::bench::Report;

class BenchReport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("strata-bench-report-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    setenv("STRATA_BENCH_RESULTS", (dir_ / "results").c_str(), 1);
    setenv("STRATA_BENCH_RUN_ID", "run-1", 1);
    setenv("STRATA_BENCH_COMMIT", "0123456789ab", 1);
  }
  void TearDown() override {
    unsetenv("STRATA_BENCH_RESULTS");
    unsetenv("STRATA_BENCH_RUN_ID");
    unsetenv("STRATA_BENCH_COMMIT");
    fs::remove_all(dir_);
  }
  nlohmann::json read(const std::string& name) {
    std::ifstream in(dir_ / "results" / name);
    return nlohmann::json::parse(in);
  }
  fs::path dir_;
};

TEST_F(BenchReport, WritesEveryFigureAndRatioWithTheRunsContext) {
  char arg0[] = "bench_x", arg1[] = "--seconds", arg2[] = "5";
  char* argv[] = {arg0, arg1, arg2};
  Report r("bench_x", 3, argv);
  r.param("connections", "50");
  r.figure("front", "gets/s", 120000);
  r.figure("direct", "gets/s", 150000);
  EXPECT_DOUBLE_EQ(r.ratio("front/direct", "front", "direct", 0.9), 0.8);
  ASSERT_TRUE(r.write());

  nlohmann::json doc = read("bench_x-run-1.json");
  EXPECT_EQ(doc["format"], "strata-bench/1");
  EXPECT_EQ(doc["bench"], "bench_x");
  EXPECT_EQ(doc["run_id"], "run-1");
  EXPECT_EQ(doc["git_commit"], "0123456789ab");
  EXPECT_EQ(doc["args"], nlohmann::json::array({"--seconds", "5"}));
  EXPECT_EQ(doc["params"]["connections"], "50");
  ASSERT_TRUE(doc["date"].is_string());
  EXPECT_EQ(doc["date"].get<std::string>().size(), 20u);  // 2026-12-02T06:00:00Z
  EXPECT_GT(doc["machine"]["cpus"].get<int>(), 0);
  EXPECT_EQ(doc["machine"]["load_before"].size(), 3u);
  EXPECT_EQ(doc["machine"]["load_after"].size(), 3u);
  ASSERT_EQ(doc["figures"].size(), 2u);
  EXPECT_EQ(doc["figures"][0]["name"], "front");
  EXPECT_EQ(doc["figures"][0]["unit"], "gets/s");
  EXPECT_EQ(doc["figures"][0]["value"], 120000.0);
  ASSERT_EQ(doc["ratios"].size(), 1u);
  const auto& ratio = doc["ratios"][0];
  EXPECT_EQ(ratio["name"], "front/direct");
  EXPECT_DOUBLE_EQ(ratio["value"].get<double>(), 0.8);
  EXPECT_EQ(ratio["of"], "front");
  EXPECT_EQ(ratio["of_value"], 120000.0);
  EXPECT_EQ(ratio["ceiling"], "direct");
  EXPECT_EQ(ratio["ceiling_value"], 150000.0);
  EXPECT_EQ(ratio["unit"], "gets/s");
  EXPECT_DOUBLE_EQ(ratio["target"].get<double>(), 0.9);
  EXPECT_FALSE(fs::exists(dir_ / "results" / "bench_x-run-1.json.tmp"));
}

// A run left out (INGEST_ONLY, a filter) or failed: null, never NaN (not JSON) or a made-up 0.
TEST_F(BenchReport, ARatioOfAMissingOrUnmeasuredFigureIsNull) {
  Report r("bench_y", 0, nullptr);
  r.figure("c", "records/s", 100);
  r.figure("a", "records/s", std::nan(""));
  r.figure("zero", "records/s", 0);
  EXPECT_TRUE(std::isnan(r.ratio("c/a", "c", "a", 0.6)));
  EXPECT_TRUE(std::isnan(r.ratio("c/zero", "c", "zero")));
  EXPECT_TRUE(std::isnan(r.ratio("c/nothing", "c", "nothing")));
  ASSERT_TRUE(r.write());
  nlohmann::json doc = read("bench_y-run-1.json");
  EXPECT_TRUE(doc["figures"][1]["value"].is_null());
  for (const auto& ratio : doc["ratios"]) EXPECT_TRUE(ratio["value"].is_null()) << ratio.dump();
  EXPECT_TRUE(doc["ratios"][1]["target"].is_null());
  EXPECT_TRUE(doc["ratios"][2]["ceiling_value"].is_null());
}

TEST_F(BenchReport, NothingIsWrittenUnlessAsked) {
  unsetenv("STRATA_BENCH_RESULTS");
  Report r("bench_z", 0, nullptr);
  r.figure("x", "ops/s", 1);
  EXPECT_TRUE(r.write());
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

TEST_F(BenchReport, AnUnwritableDirectoryFailsWithoutThrowing) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "results") << "a file, not a directory";
  Report r("bench_w", 0, nullptr);
  testing::internal::CaptureStderr();
  EXPECT_FALSE(r.write());
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("bench_w: cannot"), std::string::npos) << err;
}

TEST_F(BenchReport, WithoutARunIdEachRunGetsItsOwnFile) {
  unsetenv("STRATA_BENCH_RUN_ID");
  Report r("bench_v", 0, nullptr);
  ASSERT_TRUE(r.write());
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "results")) {
    std::string name = e.path().filename();
    EXPECT_EQ(name.rfind("bench_v-", 0), 0u) << name;
    EXPECT_NE(name.find("-" + std::to_string(::getpid()) + ".json"), std::string::npos) << name;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

}  // namespace
