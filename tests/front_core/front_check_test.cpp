// [fronts.NAME] once the modules are loaded (Runtime in Check mode, what `strata check` runs):
// the module must exist and be a front, its options are validated against its schema beside the
// host's keys, and a node with only tiers and fronts is a valid configuration.
#include <gtest/gtest.h>

#include "cli_support.hpp"
#include "files.hpp"
#include "runtime/runtime.hpp"

namespace strata::front_test {
namespace {

class FrontCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("strata-front-check");
    path_ = dir_ + "/f.toml";
  }
  void TearDown() override { test::remove_tree(dir_); }

  // The diagnostics of checking `toml` ("" when it is valid).
  std::string check(const std::string& toml) {
    test::write_file(path_, toml);
    Diagnostics diags;
    auto rt = Runtime::load(path_, Runtime::Mode::Check, diags, STRATA_TEST_FRONT_DIR);
    if (rt) {
      EXPECT_TRUE(diags.empty());
    }
    return diags.str();
  }
  std::string at(const std::string& toml, const std::string& needle) {
    return path_ + ":" + cli_test::line_col(toml, needle) + ": ";
  }

  std::string dir_, path_;
};

const std::string kTiers =
    "[tiers.l1]\nmodule = \"memcached_l1\"\nservers = [\"127.0.0.1:1\"]\n\n"
    "[tiers.l2]\nmodule = \"redis_l2\"\naddress = \"127.0.0.1:1\"\n\n";

TEST_F(FrontCheck, TiersAndAFrontWithoutPipelinesAreValid) {
  EXPECT_EQ(check(kTiers + "[fronts.t]\nmodule = \"test_front\"\ntiers = [\"l1\", \"l2\"]\n"
                           "port = 0\nneg_ttl = \"2s\"\nchain_threads = 2\n"),
            "");
}

TEST_F(FrontCheck, ATierModuleInFrontsIsAKindMismatch) {
  const std::string toml = kTiers + "[fronts.t]\nmodule = \"memcached_l1\"\ntiers = [\"l1\"]\n";
  std::string err = check(toml);
  EXPECT_EQ(err, at(toml, "\"memcached_l1\"\ntiers") +
                     "fronts.t: module \"memcached_l1\" is a tier, not a front\n");
}

TEST_F(FrontCheck, AFrontModuleInTiersIsAKindMismatch) {
  const std::string toml = kTiers + "[tiers.f]\nmodule = \"test_front\"\n";
  EXPECT_EQ(check(toml), at(toml, "\"test_front\"") +
                             "tiers.f: module \"test_front\" is a front, not a tier\n");
}

TEST_F(FrontCheck, UnknownModule) {
  const std::string toml = kTiers + "[fronts.t]\nmodule = \"no_such_front\"\ntiers = [\"l1\"]\n";
  std::string err = check(toml);
  EXPECT_EQ(err.rfind(at(toml, "\"no_such_front\"") +
                          "fronts.t: module \"no_such_front\" not found in: ",
                      0),
            0u)
      << err;
}

TEST_F(FrontCheck, ModuleOptionsAreValidatedBesideTheHostKeys) {
  const std::string toml =
      kTiers + "[fronts.t]\nmodule = \"test_front\"\ntiers = [\"l1\"]\nprot = 11311\n"
               "port = \"high\"\n";
  std::string err = check(toml);
  EXPECT_NE(err.find(at(toml, "prot") + "fronts.t.prot: unknown option (did you mean 'port'?)"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(at(toml, "\"high\"") + "fronts.t.port: expected an integer"),
            std::string::npos)
      << err;
}

TEST_F(FrontCheck, HostKeysHaveTheirTypes) {
  const std::string toml =
      kTiers + "[fronts.t]\nmodule = \"test_front\"\ntiers = \"l1\"\nchain_threads = -1\n";
  std::string err = check(toml);
  EXPECT_NE(err.find(at(toml, "\"l1\"\nchain") + "fronts.t.tiers: expected an array of strings"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(at(toml, "-1") + "fronts.t.chain_threads: "), std::string::npos) << err;
}

TEST_F(FrontCheck, StrataCheckReportsFrontErrorsWithPositions) {
  const std::string toml = kTiers + "[fronts.t]\nmodule = \"test_front\"\ntiers = [\"l9\"]\n";
  test::write_file(path_, toml);
  auto out = cli_test::strata({"check", "-c", path_, "--modules-dir", STRATA_TEST_FRONT_DIR});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_NE(out.err.find(at(toml, "\"l9\"") + "fronts.t.tiers[0]: tier 'l9' is not defined"),
            std::string::npos)
      << out.err;

  test::write_file(path_, kTiers + "[fronts.t]\nmodule = \"test_front\"\ntiers = [\"l1\"]\n");
  out = cli_test::strata({"check", "-c", path_, "--modules-dir", STRATA_TEST_FRONT_DIR});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.out.find("(0 pipelines, 0 sources, 2 tiers, 1 front)"), std::string::npos)
      << out.out;
}

}  // namespace
}  // namespace strata::front_test
