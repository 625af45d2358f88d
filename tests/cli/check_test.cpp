// `strata check`: a valid file passes; every error is one `FILE:LINE:COL: message` line at the
// position computed from the text the test wrote; all errors of a file are reported at once.
#include <gtest/gtest.h>

#include <chrono>
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

// [pipelines.NAME.script_config] reaches init(config): `check` compiles the script and runs
// init, which here fails unless it sees every value with its type.
TEST_F(CliCheck, ScriptConfigReachesInit) {
  write_file(dir_ + "/init.lua", R"(function init(config)
  assert(config.pipeline == "main", "pipeline")
  assert(config.prefix == "acct" and config.ttl == 30 and config.ratio == 0.5, "scalars")
  assert(config.on == true and #config.tags == 2 and config.tags[2] == "b", "array")
  assert(config.nested.deep.k == "v", "nested")
end
function key(r) return r.key end
)");
  std::string good = config_text("", "redis_l2", "init.lua") +
                     "\n[pipelines.main.script_config]\nprefix = \"acct\"\nttl = 30\n"
                     "ratio = 0.5\non = true\ntags = [\"a\", \"b\"]\n"
                     "nested = { deep = { k = \"v\" } }\n";
  Outcome o = check(good);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  Outcome wrong = check(replace_all(good, "k = \"v\"", "k = \"w\""));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("init() failed: " + dir_ + "/init.lua:5: nested"), std::string::npos)
      << wrong.err;
  Outcome bad = check(replace_all(good, "ttl = 30", "ttl = 1979-05-27"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(at("1979-05-27") + "pipelines.main.script_config.ttl: dates and times"),
            std::string::npos)
      << bad.err;
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

// --- Issue 9 ---------------------------------------------------------------------------------

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST_F(CliCheck, Issue9DeepDottedKeyIsAnErrorNotACrash) {
  // Before: SIGSEGV in toml++ (exit 139).
  Outcome o = check("log_level = \"warn\"\n" + std::string("a") + repeat(".a", 49999) + " = 1\n");
  EXPECT_EQ(o.exit_code, 1) << o.err.substr(0, 500);
  EXPECT_EQ(o.err.rfind(path_ + ":2:256: the configuration nests deeper than 128 levels", 0), 0u)
      << o.err.substr(0, 500);
  EXPECT_NE(o.err.find("is invalid (1 error)"), std::string::npos) << o.err.substr(0, 500);
  Outcome arrays = check("x = " + repeat("[", 50000) + "\n");
  EXPECT_EQ(arrays.exit_code, 1);
  EXPECT_EQ(arrays.err.rfind(path_ + ":1:133: the configuration nests deeper", 0), 0u)
      << arrays.err.substr(0, 500);
}

TEST_F(CliCheck, Issue9ADirectoryOrADeviceIsNotAConfiguration) {
  // Before: "valid (0 pipelines)" for a folder; /dev/zero never returned.
  Outcome d = strata({"check", "-c", dir_});
  EXPECT_EQ(d.exit_code, 1) << d.out << d.err;
  EXPECT_NE(
      d.err.find(dir_ + ": cannot read the configuration file: it is a directory, not a file"),
      std::string::npos)
      << d.err;
  EXPECT_EQ(d.out.find("valid"), std::string::npos) << d.out;
  Outcome z = run({strata_bin(), "check", "-c", "/dev/zero"}, {}, 10000);
  EXPECT_EQ(z.exit_code, 1) << z.err;
  EXPECT_NE(z.err.find("/dev/zero: cannot read the configuration file: it is not a regular file"),
            std::string::npos)
      << z.err;
  // `run` refuses a folder instead of idling forever.
  Outcome r = run({strata_bin(), "run", "-c", dir_}, {}, 10000);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("it is a directory, not a file"), std::string::npos) << r.err;
}

TEST_F(CliCheck, Issue9AScriptThatIsAFolderIsAnErrorAtTheScriptOption) {
  ASSERT_EQ(std::system(("mkdir -p '" + dir_ + "/hooks'").c_str()), 0);
  Outcome o = check(config_text("", "redis_l2", "hooks"));
  EXPECT_EQ(o.exit_code, 1);
  std::string want = at("\"hooks\"") + "pipelines.main.script: cannot use '" + dir_ +
                     "/hooks': it is a directory, not a Lua script\n";
  EXPECT_NE(o.err.find(want), std::string::npos) << "expected: " << want << "got:\n" << o.err;
  EXPECT_EQ(o.err.find("defines no"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("is invalid (1 error)"), std::string::npos) << o.err;
}

TEST_F(CliCheck, Issue9ShellDefaultIsOneErrorNotTwo) {
  ::unsetenv("STRATA_CLI_TEST_UNSET_VAR");
  // Before: the expansion error, then redis_l2's own "create failed" for the value it was given.
  Outcome o = check(replace_all(config_text(), "address = \"127.0.0.1:6379\"",
                                "address = \"${STRATA_CLI_TEST_UNSET_VAR:-127.0.0.1:6379}\""));
  EXPECT_EQ(o.exit_code, 1);
  std::string want = at("\"${") +
                     "tiers.l2.address: '${STRATA_CLI_TEST_UNSET_VAR:-...}': defaults and other "
                     "shell modifiers are not supported, only ${NAME}";
  EXPECT_NE(o.err.find(want), std::string::npos) << "expected: " << want << "\ngot:\n" << o.err;
  EXPECT_EQ(o.err.find("create failed"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("is invalid (1 error)"), std::string::npos) << o.err;
  // An unset ${VAR} in a value a module checks is one error too.
  Outcome plain = check(replace_all(config_text(), "address = \"127.0.0.1:6379\"",
                                    "address = \"${STRATA_CLI_TEST_UNSET_VAR}\""));
  EXPECT_EQ(plain.err.find("create failed"), std::string::npos) << plain.err;
  EXPECT_NE(plain.err.find("is invalid (1 error)"), std::string::npos) << plain.err;
}

// Found by tests/docs (issue 11): a section that has only a sub-table ([sources.events.rdkafka]
// without [sources.events]'s module) gave, besides the missing-key error, a second one with an
// empty position and `module "" not found`.
TEST_F(CliCheck, Issue11NoModuleKeyIsOneErrorAtTheSection) {
  Outcome o = check(replace_all(config_text(), "[sources.events]\nmodule = \"kafka_source\"\n",
                                "[sources.events.rdkafka]\n\"fetch.wait.max.ms\" = 50\n") +
                    "\n[fronts.mc]\ntiers = [\"l1\"]\n");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(
      o.err.find(at("[sources.events.rdkafka]") + "sources.events: missing required key 'module'"),
      std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find(at("[fronts.mc]") + "fronts.mc: missing required key 'module'"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(o.err.find("module \"\" not found"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("\n: "), std::string::npos) << "an error without a position:\n" << o.err;
  EXPECT_EQ(o.err.rfind(": ", 0), std::string::npos) << "an error without a position:\n" << o.err;
}

TEST_F(CliCheck, Issue9ModulesDirIsHonouredByCheckRunAndCache) {
  // cli_probe exists only in the probe folders: found there only through --modules-dir.
  std::string text = "[policies.p]\nmodule = \"cli_probe\"\nprobe_level = 5\n";
  Outcome without = check(text);
  EXPECT_EQ(without.exit_code, 1);
  EXPECT_NE(without.err.find("module \"cli_probe\" not found"), std::string::npos) << without.err;

  Outcome c = strata({"check", "-c", path_, "--modules-dir", probe_modules_dir("a")});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  // The level is checked against the probe's own schema (1 .. 99) found there.
  write_file(path_, replace_all(text, "= 5", "= 500"));
  Outcome bad = strata({"check", "-c", path_, "--modules-dir", probe_modules_dir("a")});
  EXPECT_NE(bad.err.find("policies.p.probe_level: 500 is above the maximum 99"), std::string::npos)
      << bad.err;
  write_file(path_, text);

  Outcome r = run({strata_bin(), "run", "-c", path_, "--modules-dir", probe_modules_dir("a"),
                   "--exit-when-idle", "100ms"},
                  {}, 20000);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("not found"), std::string::npos) << r.err;

  // `cache` gets past loading the modules (and stops at the missing pipeline).
  Outcome k = strata({"cache", "get", "-c", path_, "--modules-dir", probe_modules_dir("a"), "k"});
  EXPECT_EQ(k.exit_code, 1);
  EXPECT_EQ(k.err.find("not found"), std::string::npos) << k.err;
  EXPECT_NE(k.err.find("defines no pipeline"), std::string::npos) << k.err;
}

// The output is bounded; that the cost grows linearly is ConfigLimits.Issue9UnknownKeysCost
// GrowsLinearly (no wall-clock bound here: a loaded machine or a sanitizer would decide it).
// 5,000 errors are enough to show the cap through the CLI (under TSan, 50,000 took strata check
// past the test's 30 s limit on a loaded machine); ConfigLimits covers 50,000 in-process.
TEST_F(CliCheck, Issue9ManyErrorsPrintTheFirstHundred) {
  std::string extra;
  for (int i = 0; i < 5000; ++i) extra += "unknown_" + std::to_string(i) + " = 1\n";
  Outcome o = check(config_text(extra));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(lines_of(o.err).size(), 102u)
      << o.err.substr(o.err.size() > 300 ? o.err.size() - 300 : 0);
  EXPECT_NE(o.err.find(path_ + ": ... and 4900 more errors\n"), std::string::npos);
  EXPECT_NE(o.err.find("is invalid (5000 errors)"), std::string::npos);
}

}  // namespace
}  // namespace strata::cli_test

namespace strata::cli_test {
namespace {

// Tags are written in the watermark's atomic step: a script with tags() under a per-key order
// is refused at check time, at the pipeline's position, with one sentence.
TEST_F(CliCheck, Issue10TagsNeedPartitionOrder) {
  write_file(dir_ + "/tags.lua",
             "function key(r) return r.key end\nfunction tags(r) return 'all' end\n");
  std::string good = config_text("", "redis_l2", "tags.lua");
  Outcome ok = check(good);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  std::string bad =
      replace_all(good, "policy = \"wt\"\n", "policy = \"wt\"\norder = \"version\"\n");
  Outcome o = check(bad);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find(at("[pipelines.main]") + "pipelines.main: the script defines tags(), "
                                                "which needs order = \"partition\""),
            std::string::npos)
      << o.err;
}

}  // namespace
}  // namespace strata::cli_test
