// The command line itself (issue 11 item 3): unknown options refused per command with exit 2,
// each command's own --help, --opt=value, the default -c, and the bash completion generated
// from the binary, checked against what each command's --help says it takes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cli_support.hpp"

namespace strata::cli_test {
namespace {

class CliCommandLine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("STRATA_MODULES_PATH", modules_dir().c_str(), 1); }
};

TEST_F(CliCommandLine, Issue11RefusesUnknownOptionsWithExitTwo) {
  struct Case {
    std::vector<std::string> args;
    std::string line;
  };
  std::vector<Case> cases = {
      {{"modules", "--ttl", "5s", "--pipeline", "zzz"},
       "strata modules: unknown option '--ttl' (see strata modules --help)"},
      {{"run", "-c", "/nonexistent.toml", "--ttl=5s"},
       "strata run: unknown option '--ttl' (see strata run --help)"},
      {{"check", "--pipeline", "p"},
       "strata check: unknown option '--pipeline' (see strata check --help)"},
      {{"describe", "pipeline", "--exit-when-idle", "1s"},
       "strata describe: unknown option '--exit-when-idle' (see strata describe --help)"},
      {{"cache", "del", "--ttl", "1s", "k"},
       "strata cache del: unknown option '--ttl' (see strata cache del --help)"},
      {{"--frob"}, "strata: unknown option '--frob' (see strata --help)"},
      {{"run", "check"}, "strata run: unexpected argument 'check' (see strata run --help)"},
      {{"describe", "a", "b"},
       "strata describe: unexpected argument 'b' (see strata describe --help)"},
      {{"cache", "put", "k"}, "strata cache: unknown command 'put' (see strata cache --help)"},
  };
  for (const Case& c : cases) {
    Outcome o = strata(c.args);
    EXPECT_EQ(o.exit_code, 2) << c.line;
    EXPECT_EQ(o.err, c.line + "\n");
    EXPECT_EQ(o.out, "") << c.line;  // nothing ran
  }
}

TEST_F(CliCommandLine, Issue11EachCommandHasItsOwnHelp) {
  std::map<std::string, std::vector<std::string>> own = {
      {"run", {"--exit-when-idle", "--shutdown-timeout", "--config", "--modules-dir"}},
      {"check", {"--config", "--modules-dir"}},
      {"modules", {"--config", "--modules-dir"}},
      {"describe", {"MODULE", "--modules-dir"}},
      {"cache", {"get", "set", "del", "--pipeline"}},
      {"cache set", {"KEY", "VALUE", "--ttl", "--pipeline"}},
  };
  Outcome global = strata({"--help"});
  for (const auto& [cmd, words] : own) {
    std::vector<std::string> args;
    std::istringstream in(cmd);
    for (std::string w; in >> w;) args.push_back(w);
    args.push_back("--help");
    Outcome o = strata(args);
    EXPECT_EQ(o.exit_code, 0) << cmd;
    EXPECT_NE(o.out.find("Usage: strata " + cmd + " [OPTIONS]"), std::string::npos) << o.out;
    for (const std::string& w : words)
      EXPECT_NE(o.out.find(w), std::string::npos) << w << " missing from " << cmd << ":\n" << o.out;
    EXPECT_NE(o.out, global.out) << cmd;
    // `strata help CMD` says the same.
    args.back() = "help";
    std::rotate(args.rbegin(), args.rbegin() + 1, args.rend());
    EXPECT_EQ(strata(args).out, o.out) << cmd;
  }
  EXPECT_EQ(global.out.find("--shutdown-timeout"), std::string::npos) << global.out;
  Outcome get = strata({"cache", "get", "--help"});
  EXPECT_EQ(get.out.find("--ttl"), std::string::npos) << get.out;  // only set takes it
}

TEST_F(CliCommandLine, Issue11ConfigDefaultAndOptEquals) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"check", "--config=/nonexistent/a.toml"},
        std::vector<std::string>{"check", "-c/nonexistent/a.toml"},
        std::vector<std::string>{"check", "-c", "/nonexistent/a.toml"}}) {
    Outcome o = strata(args);
    EXPECT_EQ(o.exit_code, 1) << args[1];
    EXPECT_EQ(o.err.rfind("/nonexistent/a.toml: cannot read the configuration file", 0), 0u)
        << o.err;
  }
  if (std::ifstream("/etc/strata/strata.toml")) GTEST_SKIP() << "/etc/strata/strata.toml exists";
  Outcome o = strata({"check"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.err.rfind("/etc/strata/strata.toml: cannot read the configuration file", 0), 0u)
      << o.err;
}

// The leftover of issue 11: a `strata run` whose configuration is refused before any log line
// still writes its errors in the format the file chose, when the file says log_format = "json".
TEST_F(CliCommandLine, Issue11StartupConfigErrorsFollowLogFormatJson) {
  std::string dir = make_temp_dir();
  std::string path = dir + "/strata.toml";
  std::string text = "log_format = \"json\"\nfrobnicate = 1\n";
  write_file(path, text);
  Outcome o = strata({"run", "-c", path});
  EXPECT_EQ(o.exit_code, 1);
  std::string where =
      path + ":" + line_col(text, "frobnicate") + ": frobnicate: unknown top-level key";
  EXPECT_EQ(o.err.rfind("{\"ts\":\"", 0), 0u) << o.err;
  EXPECT_NE(o.err.find("\"level\":\"error\""), std::string::npos) << o.err;
  EXPECT_NE(o.err.find(where), std::string::npos) << o.err;
  // Without log_format (text, the default) the lines stay as `strata check` prints them.
  write_file(path, "frobnicate = 1\n");
  Outcome t = strata({"run", "-c", path});
  EXPECT_EQ(t.exit_code, 1);
  EXPECT_EQ(t.err.rfind(path + ":1:1: frobnicate: unknown top-level key", 0), 0u) << t.err;
  remove_tree(dir);
}

// What `strata PATH --help` lists: its subcommands and its option names.
struct HelpTable {
  std::vector<std::string> commands, options;
};

HelpTable help_table(const std::vector<std::string>& path) {
  std::vector<std::string> args = path;
  args.push_back("--help");
  Outcome o = strata(args);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  HelpTable t;
  std::istringstream in(o.out);
  std::string section;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == ':') section = line;
    if (line.size() < 3 || line.rfind("  ", 0) != 0 || line[2] == ' ') continue;
    std::string first = line.substr(2, line.find(' ', 2) - 2);
    if (section == "Subcommands:") t.commands.push_back(first);
    if (section == "Options:") {
      std::istringstream names(first);
      for (std::string n; std::getline(names, n, ',');) t.options.push_back(n);
    }
  }
  return t;
}

// COMPREPLY of the installed completion function for `strata WORDS...` (the last word is the
// one being completed).
std::set<std::string> complete(const std::vector<std::string>& words,
                               const std::string& cwd = ".") {
  std::vector<std::string> argv = {
      "/bin/bash",
      "-c",
      "cd \"$1\" && source \"$2\" && shift 2 && COMP_WORDS=(\"$@\") && COMP_CWORD=$(($# - 1)) && "
      "_strata && printf '%s\\n' \"${COMPREPLY[@]}\"",
      "bash",
      cwd,
      STRATA_CLI_COMPLETION,
      strata_bin()};
  argv.insert(argv.end(), words.begin(), words.end());
  Outcome o = run(argv);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  std::set<std::string> out;
  std::istringstream in(o.out);
  for (std::string w; std::getline(in, w);)
    if (!w.empty()) out.insert(w);
  return out;
}

TEST_F(CliCommandLine, Issue11CompletionHasEveryCommandAndOption) {
  // The installed script is what the binary generates now (the build wrote it after linking).
  Outcome gen = strata({"completion", "bash"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_EQ(read_file(STRATA_CLI_COMPLETION), gen.out);

  std::vector<std::vector<std::string>> pending = {{}};
  size_t paths = 0;
  while (!pending.empty() && paths < 50) {
    std::vector<std::string> path = pending.back();
    pending.pop_back();
    ++paths;
    HelpTable t = help_table(path);
    std::vector<std::string> words = path;
    words.push_back("");
    std::set<std::string> commands = complete(words);
    for (const std::string& c : t.commands) {
      EXPECT_TRUE(commands.count(c)) << "strata " << ::testing::PrintToString(path) << " " << c;
      std::vector<std::string> sub = path;
      sub.push_back(c);
      pending.push_back(sub);
    }
    words.back() = "-";
    std::set<std::string> options = complete(words);
    for (const std::string& o : t.options)
      EXPECT_TRUE(options.count(o)) << "strata " << ::testing::PrintToString(path) << " " << o;
    EXPECT_FALSE(t.options.empty());
  }
  EXPECT_GE(paths, 11u);  // strata, run, check, modules, describe, cache (3), help, version, ...

  // Values are skipped (also --opt=VALUE), files complete after -c, modules after describe.
  std::string dir = make_temp_dir();
  write_file(dir + "/node.toml", "");
  EXPECT_EQ(complete({"run", "-c", "no"}, dir), std::set<std::string>{"node.toml"});
  EXPECT_EQ(complete({"run", "--config", "=", "no"}, dir), std::set<std::string>{"node.toml"});
  EXPECT_EQ(complete({"run", "--config", "=", "x", "--shut"}, dir),
            std::set<std::string>{"--shutdown-timeout"});
  EXPECT_EQ(complete({"cache", "-c", "f", "s"}), std::set<std::string>{"set"});
  std::set<std::string> modules = complete({"describe", ""});
  for (const char* m : {"pipeline", "tier", "front", "redis_l2", "memcached_l1"})
    EXPECT_TRUE(modules.count(m)) << m;
  remove_tree(dir);
}

}  // namespace
}  // namespace strata::cli_test
