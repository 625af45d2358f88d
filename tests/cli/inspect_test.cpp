// `strata modules`, `strata describe`, `--version`, `--help` and usage errors. describe is shown
// to come from the module's schema alone with cli_probe.so, built twice from one source with two
// different descriptions (tests/cli/CMakeLists.txt).
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "cli_support.hpp"

namespace strata::cli_test {
namespace {

class CliInspect : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("STRATA_MODULES_PATH", modules_dir().c_str(), 1); }
};

// "1.2.3": three dot-separated runs of digits.
bool is_version(const std::string& v) {
  int dots = 0;
  bool digit = false;
  for (char c : v) {
    if (c == '.') {
      if (!digit) return false;
      ++dots;
      digit = false;
    } else if (c >= '0' && c <= '9') {
      digit = true;
    } else {
      return false;
    }
  }
  return dots == 2 && digit;
}

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The line of `text` that starts with `first_word` and a space ("" if none).
std::string line_starting(const std::string& text, const std::string& first_word) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(first_word + " ", 0) == 0) return l;
  return "";
}

TEST_F(CliInspect, ModulesListsEveryBuiltModuleWithKindAndVersion) {
  Outcome o = strata({"modules"});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("NAME"), std::string::npos) << o.out;
  const std::pair<const char*, const char*> expected[] = {
      {"kafka_source", "source"},  {"memcached_l1", "tier"},   {"redis_l2", "tier"},
      {"write_through", "policy"}, {"write_around", "policy"}, {"l2_only", "policy"},
      {"dead_letter_file", "source"}};
  for (auto& [name, kind] : expected) {
    std::string line = line_starting(o.out, name);
    ASSERT_FALSE(line.empty()) << name << " not listed:\n" << o.out << o.err;
    std::vector<std::string> w = words_of(line);  // NAME KIND VERSION DESCRIPTION...
    ASSERT_GE(w.size(), 4u) << line;
    EXPECT_EQ(w[1], kind) << line;
    EXPECT_TRUE(is_version(w[2])) << line;
  }
  EXPECT_NE(o.err.find("(searched: " + modules_dir()), std::string::npos) << o.err;
}

TEST_F(CliInspect, DescribeMemcachedPrintsEveryOption) {
  Outcome o = strata({"describe", "memcached_l1"});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out.rfind("memcached_l1 ", 0), 0u) << o.out;
  EXPECT_NE(o.out.find("(tier module, ABI "), std::string::npos) << o.out;
  const std::pair<const char*, const char*> options[] = {
      {"servers", "string list"},    {"ketama", "bool"},       {"connect_timeout", "duration"},
      {"io_timeout", "duration"},    {"ttl", "duration"},      {"key_prefix", "string"},
      {"max_value_size", "size"},    {"eject_failed", "bool"}, {"server_failure_limit", "int"},
      {"retry_timeout", "duration"}, {"username", "string"},   {"password", "string"},
      {"connections", "int"}};
  for (auto& [name, type] : options) {
    std::string line = line_starting(o.out, name);
    EXPECT_NE(line.find(std::string(" ") + type + " "), std::string::npos)
        << name << " (" << type << ") not described:\n"
        << o.out;
  }
  EXPECT_NE(line_starting(o.out, "password").find("(secret)"), std::string::npos) << o.out;
}

// Issue 12: describe shows what the kind hooks say, not only the options.
TEST_F(CliInspect, Issue12DescribeShowsTierFlagsAndKindHooks) {
  Outcome l2 = strata({"describe", "redis_l2", "--modules-dir", modules_dir()});
  EXPECT_EQ(l2.exit_code, 0) << l2.err;
  EXPECT_EQ(line_starting(l2.out, "tier flags:"),
            "tier flags: durable, versioned, watermark, rich, tags, scannable")
      << l2.out;
  EXPECT_EQ(line_starting(l2.out, "hooks:"), "hooks: execute, health") << l2.out;
  Outcome l1 = strata({"describe", "memcached_l1", "--modules-dir", modules_dir()});
  EXPECT_EQ(line_starting(l1.out, "tier flags:"), "tier flags: volatile, rich, flushable")
      << l1.out;
  Outcome src = strata({"describe", "kafka_source", "--modules-dir", modules_dir()});
  EXPECT_EQ(line_starting(src.out, "hooks:"), "hooks: poll, release_batch, ack, pause, resume, lag")
      << src.out;
  EXPECT_TRUE(line_starting(src.out, "tier flags:").empty()) << src.out;
  Outcome wb = strata({"describe", "write_back", "--modules-dir", modules_dir()});
  EXPECT_EQ(line_starting(wb.out, "policy flags:"), "policy flags: volatile_first (write-back)")
      << wb.out;
  EXPECT_EQ(line_starting(wb.out, "hooks:"), "hooks: decide") << wb.out;
  Outcome wt = strata({"describe", "write_through", "--modules-dir", modules_dir()});
  EXPECT_EQ(line_starting(wt.out, "policy flags:"), "policy flags: none") << wt.out;
}

// Issue 12: an invalid default in a module's own option table is reported by `modules` and
// `describe` (exit 1), not only once a config leaves that option unset.
TEST_F(CliInspect, Issue12InvalidDefaultInAModuleSchemaIsReportedWithoutAConfig) {
  std::string dir = strata::test::make_temp_dir("strata-bad-default");
  std::string copy = dir + "/bad_default.so";
  strata::test::write_file(copy, strata::test::read_file(STRATA_CLI_BAD_DEFAULT_MODULE));
  const std::string want = "strata: module \"bad_default\" (" + copy +
                           ") option retries: the module's schema has an invalid default 'ten' "
                           "(expected an integer); this is a bug in the module\n";
  Outcome m = strata({"modules", "--modules-dir", dir});
  EXPECT_EQ(m.exit_code, 1) << m.err;
  EXPECT_FALSE(line_starting(m.out, "bad_default").empty()) << m.out;  // still listed
  EXPECT_NE(m.err.find(want), std::string::npos) << m.err;
  Outcome d = strata({"describe", "bad_default", "--modules-dir", dir});
  EXPECT_EQ(d.exit_code, 1) << d.err;
  EXPECT_FALSE(line_starting(d.out, "retries").empty()) << d.out;  // the table is still printed
  EXPECT_NE(d.err.find(want), std::string::npos) << d.err;
  // A module whose table is fine says nothing of the kind.
  Outcome good = strata({"describe", "redis_l2", "--modules-dir", modules_dir()});
  EXPECT_EQ(good.err.find("invalid default"), std::string::npos) << good.err;
  strata::test::remove_tree(dir);
}

TEST_F(CliInspect, DescribeComesFromTheModuleSchema) {
  // Build a: found through --modules-dir.
  Outcome a = strata({"describe", "cli_probe", "--modules-dir", probe_modules_dir("a")});
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out.rfind("cli_probe 3.1.4 (policy module, ABI ", 0), 0u) << a.out;
  EXPECT_NE(a.out.find("probe build alpha: counts nothing"), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("level of the alpha probe"), std::string::npos) << a.out;
  EXPECT_EQ(a.out.find("beta"), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("file: " + probe_modules_dir("a") + "/cli_probe.so"), std::string::npos)
      << a.out;
  // Build b: found through $STRATA_MODULES_PATH.
  Outcome b = strata({"describe", "cli_probe"},
                     {{"STRATA_MODULES_PATH", probe_modules_dir("b") + ":" + modules_dir()}});
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("probe build beta: also counts nothing"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("level of the beta probe"), std::string::npos) << b.out;
  EXPECT_EQ(b.out.find("alpha"), std::string::npos) << b.out;

  for (const Outcome* o : {&a, &b}) {
    EXPECT_NE(line_starting(o->out, "probe_level").find(" int "), std::string::npos) << o->out;
    EXPECT_NE(line_starting(o->out, "probe_level").find(" 7"), std::string::npos) << o->out;
    EXPECT_NE(o->out.find("Range: 1 .. 99"), std::string::npos) << o->out;
    EXPECT_NE(o->out.find("One of: red, green"), std::string::npos) << o->out;
    // A secret's default is never printed.
    EXPECT_NE(line_starting(o->out, "probe_token").find("(secret)"), std::string::npos) << o->out;
    EXPECT_EQ(o->out.find("tok-DEFAULT"), std::string::npos) << o->out;
    EXPECT_EQ(o->err.find("tok-DEFAULT"), std::string::npos) << o->err;
  }

  // `strata modules` shows the description of the build it finds first.
  Outcome m = strata({"modules", "--modules-dir", probe_modules_dir("b")});
  EXPECT_NE(line_starting(m.out, "cli_probe").find("probe build beta: also counts nothing"),
            std::string::npos)
      << m.out;
}

TEST_F(CliInspect, DescribePipelineAndTierPrintTheHostKeys) {
  Outcome p = strata({"describe", "pipeline"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(p.out.rfind("[pipelines.NAME]", 0), 0u) << p.out;
  for (const char* key : {"source", "tiers", "policy", "script", "lua_allow", "lua_budget",
                          "neg_ttl", "dead_letter_file", "dead_letter_topic", "dead_letter_kafka",
                          "retry_backoff", "retry_backoff_max", "lua_memory", "script_config"})
    EXPECT_FALSE(line_starting(p.out, key).empty()) << key << " missing:\n" << p.out;

  Outcome t = strata({"describe", "tier"});
  EXPECT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(t.out.rfind("[tiers.NAME]", 0), 0u) << t.out;
  for (const char* key : {"breaker_failures", "breaker_open", "breaker_probes"})
    EXPECT_FALSE(line_starting(t.out, key).empty()) << key << " missing:\n" << t.out;
}

TEST_F(CliInspect, DescribeUnknownModuleFails) {
  Outcome o = strata({"describe", "no_such_module"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("module \"no_such_module\" not found in: " + modules_dir()),
            std::string::npos)
      << o.err;
}

TEST_F(CliInspect, VersionAndHelpExitZero) {
  for (const char* flag : {"--version", "-V"}) {
    Outcome o = strata({flag});
    EXPECT_EQ(o.exit_code, 0) << flag;
    // "strata 0.1.0 (module ABI 1.0)", then "commit: ..." and one line per library, as nginx -V.
    std::vector<std::string> w = words_of(o.out.substr(0, o.out.find('\n')));
    ASSERT_EQ(w.size(), 5u) << o.out;
    EXPECT_EQ(w[0], "strata");
    EXPECT_TRUE(is_version(w[1])) << o.out;
    EXPECT_EQ(w[2] + " " + w[3], "(module ABI") << o.out;
    EXPECT_TRUE(is_version(w[4].substr(0, w[4].size() - 1) + ".0")) << o.out;  // "1.0)"
    for (const char* line :
         {"\ncommit: ", "\nlibrdkafka: ", "\nlibmemcached: ", "\nhiredis: ", "\nluajit: "})
      EXPECT_NE(o.out.find(line), std::string::npos) << line << " missing:\n" << o.out;
    EXPECT_EQ(o.out.back(), '\n');
  }
  for (const char* flag : {"--help", "-h"}) {
    Outcome o = strata({flag});
    EXPECT_EQ(o.exit_code, 0) << flag;
    EXPECT_NE(o.out.find("Usage: strata [OPTIONS] SUBCOMMAND"), std::string::npos) << o.out;
    for (const char* cmd :
         {"\n  run ", "\n  check ", "\n  modules ", "\n  describe ", "\n  cache "})
      EXPECT_NE(o.out.find(cmd), std::string::npos) << cmd << " missing:\n" << o.out;
  }
}

TEST_F(CliInspect, UsageErrorsExitTwo) {
  Outcome unknown = strata({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
  EXPECT_EQ(strata({}).exit_code, 2);
  Outcome option = strata({"check", "--frob"});
  EXPECT_EQ(option.exit_code, 2);
  EXPECT_NE(option.err.find("strata check: unknown option '--frob'"), std::string::npos)
      << option.err;
  EXPECT_EQ(strata({"check", "-c"}).exit_code, 2);  // -c needs a value
}

}  // namespace
}  // namespace strata::cli_test
