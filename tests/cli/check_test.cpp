// `strata check`: a valid file passes; every error is one `FILE:LINE:COL: message` line at the
// position computed from the text the test wrote; all errors of a file are reported at once.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "cli_support.hpp"

namespace strata::cli_test {
namespace {

const char* kKeysLua = "function key(r)\n  return \"k:\" .. r.key\nend\n";
// A syntax error on line 3: `..` with nothing after it.
const char* kBadLua = "function key(r)\n  return \"k:\" ..\nend\n";

// Placeholders: @L1@ (extra lines in [tiers.l1]), @L2MOD@, @SCRIPT@.
const char* kTemplate = R"(log_level = "warn"

[sources.events]
module = "kafka_source"
brokers = "mock"
topics = ["events"]

[tiers.l1]
module = "memcached_l1"
servers = ["127.0.0.1:11211"]
@L1@
[tiers.l2]
module = "@L2MOD@"
address = "127.0.0.1:6379"

[policies.wt]
module = "write_through"

[pipelines.main]
source = "events"
tiers = ["l1", "l2"]
policy = "wt"
script = "@SCRIPT@"
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

std::string config_text(const std::string& l1_extra = "", const std::string& l2_module = "redis_l2",
                        const std::string& script = "keys.lua") {
  std::string t = replace_all(kTemplate, "@L1@", l1_extra);
  t = replace_all(t, "@L2MOD@", l2_module);
  return replace_all(t, "@SCRIPT@", script);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class CliCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("STRATA_MODULES_PATH", modules_dir().c_str(), 1); }
  void SetUp() override {
    dir_ = make_temp_dir();
    write_file(dir_ + "/keys.lua", kKeysLua);
    write_file(dir_ + "/bad.lua", kBadLua);
  }
  void TearDown() override { remove_tree(dir_); }

  // Writes `text` as strata.toml and runs `strata check -c` on it.
  Outcome check(const std::string& text, const Env& env = {}) {
    path_ = dir_ + "/strata.toml";
    text_ = text;
    write_file(path_, text);
    return strata({"check", "-c", path_}, env);
  }
  // "PATH:LINE:COL: " for the first occurrence of `needle` in the checked text.
  std::string at(const std::string& needle) {
    std::string lc = line_col(text_, needle);
    EXPECT_FALSE(lc.empty()) << "the test's own text has no '" << needle << "'";
    return path_ + ":" + lc + ": ";
  }

  std::string dir_, path_, text_;
};

TEST_F(CliCheck, ValidConfigurationPasses) {
  Outcome o = check(config_text());
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(
      o.out.find("strata: configuration " + path_ + " is valid (1 pipeline, 1 source, 2 tiers)"),
      std::string::npos)
      << o.out << o.err;
}

TEST_F(CliCheck, UnknownOptionNamesPositionAllowedOptionsAndSuggestion) {
  Outcome o = check(config_text("sevrers = [\"127.0.0.1:11212\"]\n"));
  EXPECT_EQ(o.exit_code, 1);
  std::string expected =
      at("sevrers") + "tiers.l1.sevrers: unknown option (did you mean 'servers'?)";
  EXPECT_NE(o.err.find(expected), std::string::npos) << "expected: " << expected << "\ngot:\n"
                                                     << o.err;
  size_t allowed = o.err.find("allowed: ");
  ASSERT_NE(allowed, std::string::npos) << o.err;
  std::string list = o.err.substr(allowed, o.err.find('\n', allowed) - allowed);
  // memcached_l1's own options, then the tier host keys.
  for (const char* name :
       {"servers", "ketama", "connect_timeout", "io_timeout", "ttl", "key_prefix", "max_value_size",
        "eject_failed", "server_failure_limit", "retry_timeout", "username", "password",
        "connections", "module", "breaker_failures", "breaker_open", "breaker_probes"})
    EXPECT_NE(list.find(std::string(" ") + name), std::string::npos)
        << name << " missing from: " << list;
  EXPECT_NE(o.err.find("is invalid (1 error)"), std::string::npos) << o.err;
}

TEST_F(CliCheck, MissingModuleNamesEveryFolderSearched) {
  std::string extra = dir_ + "/extra-modules";
  ASSERT_EQ(std::system(("mkdir -p '" + extra + "' '" + dir_ + "/own-modules'").c_str()), 0);
  Outcome o = check("modules_dir = \"own-modules\"\n" + config_text("", "no_such_module"),
                    {{"STRATA_MODULES_PATH", extra + ":" + modules_dir()}});
  EXPECT_EQ(o.exit_code, 1);
  std::string expected = at("\"no_such_module\"") +
                         "tiers.l2: module \"no_such_module\" not found in: " + dir_ +
                         "/own-modules, " + extra + ", " + modules_dir() + ", ";
  EXPECT_NE(o.err.find(expected), std::string::npos) << "expected: " << expected << "\ngot:\n"
                                                     << o.err;
  EXPECT_NE(o.err.find("lib/strata/modules"), std::string::npos) << o.err;  // install prefix
}

TEST_F(CliCheck, ThreeErrorsGiveThreeLines) {
  std::string text = config_text("sevrers = [\"x:1\"]\n");
  text = replace_all(text, "address = \"127.0.0.1:6379\"", "address = \"127.0.0.1:6379\"\ndb = -1");
  text = replace_all(text, "policy = \"wt\"", "policy = \"wt\"\nlua_budget = \"lots\"");
  Outcome o = check(text);
  EXPECT_EQ(o.exit_code, 1);
  std::vector<std::string> want = {
      at("sevrers") + "tiers.l1.sevrers: unknown option (did you mean 'servers'?)",
      at("-1") + "tiers.l2.db: -1 is below the minimum 0",
      at("\"lots\"") + "pipelines.main.lua_budget: expected an integer, got string",
  };
  std::vector<std::string> got;
  for (auto& l : lines_of(o.err))
    if (l.rfind(path_ + ":", 0) == 0) got.push_back(l);
  ASSERT_EQ(got.size(), 3u) << o.err;
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(got[i].substr(0, want[i].size()), want[i]) << "line " << i << " of:\n" << o.err;
  EXPECT_NE(o.err.find("is invalid (3 errors)"), std::string::npos) << o.err;
}

TEST_F(CliCheck, EachKindOfErrorAtItsPosition) {
  ::unsetenv("STRATA_CLI_TEST_UNSET_VAR");
  std::string text = R"([sources.events]
module = "kafka_source"
brokers = "mock"
topics = ["events"]
batch_size = "many"
start = "latests"

[tiers.l1]
module = "memcached_l1"
servers = ["127.0.0.1:11211"]
connections = 0
password = "${STRATA_CLI_TEST_UNSET_VAR}"

[tiers.l2]
module = "redis_l2"

[tiers.odd]
module = "kafka_source"

[pipelines.main]
source = "events"
tiers = ["l1", "l3"]
)";
  Outcome o = check(text);
  EXPECT_EQ(o.exit_code, 1);
  for (const std::string& want : {
           at("\"many\"") + "sources.events.batch_size: expected an integer, got string",
           at("\"latests\"") +
               "sources.events.start: 'latests' is not one of: earliest, latest (did you mean "
               "'latest'?)",
           at("0\npassword") + "tiers.l1.connections: 0 is below the minimum 1",
           at("\"${") +
               "tiers.l1.password: environment variable 'STRATA_CLI_TEST_UNSET_VAR' is not set",
           at("\"kafka_source\"\n\n[pipelines") +
               "tiers.odd: module \"kafka_source\" is a source, not a tier",
           at("\"l3\"") +
               "pipelines.main.tiers[1]: tier 'l3' is not defined (did you mean 'l1'?); defined "
               "tiers: l1, l2, odd",
       })
    EXPECT_NE(o.err.find(want + "\n"), std::string::npos) << "expected: " << want << "\ngot:\n"
                                                          << o.err;
  EXPECT_NE(o.err.find("is invalid (6 errors)"), std::string::npos) << o.err;
}

TEST_F(CliCheck, LuaSyntaxErrorNamesScriptAndLine) {
  Outcome o = check(config_text("", "redis_l2", "bad.lua"));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.err.rfind(path_ + ":", 0), 0u) << o.err;  // FILE:LINE:COL first
  EXPECT_NE(o.err.find("pipelines.main: Lua syntax error: "), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("bad.lua:3: unexpected symbol near 'end'"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("is invalid (1 error)"), std::string::npos) << o.err;
}

// "Every error in one run": a script error must not hide behind an option error elsewhere.
TEST_F(CliCheck, LuaSyntaxErrorReportedTogetherWithOptionErrors) {
  Outcome o = check(config_text("sevrers = [\"x:1\"]\n", "redis_l2", "bad.lua"));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("tiers.l1.sevrers: unknown option"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("bad.lua:3: unexpected symbol near 'end'"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("is invalid (2 errors)"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace strata::cli_test
