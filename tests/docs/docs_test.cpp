// The docs tell the truth (issue 11 item 9). Every ```toml block of README.md, docs/*.md and
// examples/**/*.md goes through `strata check`: it must pass, unless the marker comment above
// it says otherwise (docs/configuration.md, "Snippets in these pages"):
//   <!-- check: fragment, with sources.events tiers.l1 tiers.l2 -->  stock sections appended
//   <!-- check: invalid "expected text" -->                          must fail saying that
// Each snippet is checked in a folder of its own holding examples/keys.lua (snippets name
// `script = "keys.lua"`), with every ${VAR} it names set. Every `strata CMD ... --opt` shown
// must name a command of `strata --help` and an option that `strata CMD [SUB] --help` lists;
// `strata describe NAME` must describe NAME; a `-c FILE.toml` of the repository must pass check.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "cli_support.hpp"
#include "markdown.hpp"

namespace strata::docs_test {
namespace {

using cli_test::Env;
using cli_test::Outcome;
namespace fs = std::filesystem;

const std::string kSource = STRATA_SOURCE_DIR;

// The pages whose snippets are checked, relative to the source root.
std::vector<std::string> pages() {
  std::vector<std::string> out = {"README.md"};
  for (const auto& e : fs::directory_iterator(kSource + "/docs"))
    if (e.path().extension() == ".md") out.push_back("docs/" + e.path().filename().string());
  for (const auto& e : fs::recursive_directory_iterator(kSource + "/examples"))
    if (e.path().extension() == ".md") out.push_back(fs::relative(e.path(), kSource).string());
  std::sort(out.begin(), out.end());
  return out;
}

// What a fragment marker may append: the names the pages use throughout.
const std::map<std::string, std::string>& stock_sections() {
  static const std::map<std::string, std::string> s = {
      {"sources.events", "module = \"kafka_source\"\nbrokers = \"mock\"\ntopics = [\"events\"]\n"},
      {"tiers.l1", "module = \"memcached_l1\"\nservers = [\"127.0.0.1:11211\"]\n"},
      {"tiers.l2", "module = \"redis_l2\"\naddress = \"127.0.0.1:6379\"\n"},
  };
  return s;
}

// A value of the kind a variable's name says (what scripts/quickstart.sh would set).
std::string plausible_value(const std::string& var) {
  auto has = [&](const char* part) { return var.find(part) != std::string::npos; };
  if (has("PASSWORD") || has("SECRET") || has("TOKEN")) return "docs-test-secret";
  if (has("FILE")) return "/dev/null";  // opened by check (a seed file): empty, readable
  if (has("MEMCACHED")) return "127.0.0.1:11211";
  if (has("REDIS")) return "127.0.0.1:6379";
  if (has("DEAD_LETTERS")) return "/tmp/strata-docs-test-dead-letters.jsonl";  // not written
  return "docs-test-value";
}

Env snippet_env(const std::string& text) {
  Env env = {{"STRATA_MODULES_PATH", std::string(STRATA_CLI_MODULES) + ":" + STRATA_DOCS_MODULES}};
  static const std::regex var(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), var); it != std::sregex_iterator();
       ++it)
    env.push_back({(*it)[1].str(), plausible_value((*it)[1].str())});
  return env;
}

class Docs : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = cli_test::make_temp_dir(); }
  void TearDown() override { cli_test::remove_tree(dir_); }
  std::string dir_;
};

// One snippet: "" when it behaves as its marker says, else what went wrong.
std::string check_snippet(const std::string& dir, const std::string& page, const TomlBlock& b) {
  Marker m = parse_marker(b.marker);
  if (m.kind == Marker::Kind::Malformed) return m.problem;
  std::string text = b.text;
  for (const std::string& section : m.with) {
    auto it = stock_sections().find(section);
    if (it == stock_sections().end()) return "marker names no stock section '" + section + "'";
    text += "\n[" + section + "]\n" + it->second;
  }
  std::string name = page + "-" + std::to_string(b.line);
  for (char& c : name)
    if (c == '/') c = '_';
  std::string sub = dir + "/" + name;
  fs::create_directories(sub);
  fs::copy_file(kSource + "/examples/keys.lua", sub + "/keys.lua");
  cli_test::write_file(sub + "/" + name + ".toml", text);
  Outcome o = cli_test::strata({"check", "-c", sub + "/" + name + ".toml"}, snippet_env(text));
  std::string said = o.out + o.err;
  if (m.kind == Marker::Kind::Invalid) {
    if (o.exit_code != 1) return "marked invalid, but check exited " + std::to_string(o.exit_code);
    if (said.find(m.expected) == std::string::npos)
      return "marked invalid with \"" + m.expected + "\", but check said:\n" + said;
    return "";
  }
  if (o.exit_code != 0) return "strata check exited " + std::to_string(o.exit_code) + ":\n" + said;
  return "";
}

TEST_F(Docs, Issue11EveryTomlSnippetPassesStrataCheck) {
  size_t blocks = 0;
  for (const std::string& page : pages()) {
    for (const TomlBlock& b : toml_blocks(cli_test::read_file(kSource + "/" + page))) {
      ++blocks;
      std::string problem = check_snippet(dir_, page, b);
      EXPECT_EQ(problem, "") << page << ":" << b.line << ": the ```toml block:\n" << b.text;
    }
  }
  EXPECT_GE(blocks, 15u) << "hardly any ```toml block found: is the extractor broken?";
}

// `strata ARGS --help`, stdout and stderr together, memoised.
std::string help(const std::vector<std::string>& args) {
  static std::map<std::vector<std::string>, std::string> cache;
  auto it = cache.find(args);
  if (it != cache.end()) return it->second;
  std::vector<std::string> argv = args;
  argv.push_back("--help");
  Outcome o = cli_test::strata(argv);
  return cache[args] = o.out + o.err;
}

bool lists(const std::string& help_text, const std::string& word) {
  // A whole word: "-c" must not match "-config", "run" not "rung".
  std::regex re("(^|[^A-Za-z0-9_-])" + std::regex_replace(word, std::regex("[-]"), "\\-") +
                "($|[^A-Za-z0-9_-])");
  return std::regex_search(help_text, re);
}

// Each documented command line: "" when it holds, else what does not.
std::string check_command(const CommandLine& c) {
  if (c.words.empty()) return "";
  const std::string& cmd = c.words[0];
  static const std::regex command_word(R"(^[a-z][a-z-]*$)");
  if (!std::regex_match(cmd, command_word)) return "";  // prose such as `strata 's`
  std::regex listed("\\n\\s+" + cmd + "[\\s\\[,]");
  if (!std::regex_search(help({}), listed)) return "no command '" + cmd + "' in strata --help";
  std::string texts = help({cmd});
  if (c.words.size() > 1)  // `cache get|set|del`: each subcommand's own help, if it has one
    for (size_t b = 0, e; b <= c.words[1].size(); b = e + 1) {
      e = c.words[1].find('|', b);
      if (e == std::string::npos) e = c.words[1].size();
      std::string sub = c.words[1].substr(b, e - b);
      if (std::regex_match(sub, command_word)) texts += help({cmd, sub});
    }
  for (const std::string& opt : options_of(c))
    if (!lists(texts, opt)) return "option " + opt + " is not in `strata " + cmd + " --help`";
  static const std::regex module_name(R"(^[a-z][a-z0-9_]*$)");
  if (cmd == "describe" && c.words.size() > 1 && std::regex_match(c.words[1], module_name)) {
    Outcome o = cli_test::strata({"describe", c.words[1]}, snippet_env(""));
    if (o.exit_code != 0) return "strata describe " + c.words[1] + " failed: " + o.err;
  }
  for (size_t i = 1; i + 1 < c.words.size(); ++i) {
    const std::string& file = c.words[i + 1];
    if (c.words[i] != "-c" || file.find(".toml") == std::string::npos) continue;
    if (!fs::exists(kSource + "/" + file)) return file + " does not exist in the repository";
    // With the ${VAR}s it names set, as scripts/quickstart.sh does for examples/quickstart.toml.
    Outcome o = cli_test::strata({"check", "-c", kSource + "/" + file},
                                 snippet_env(cli_test::read_file(kSource + "/" + file)));
    if (o.exit_code != 0) return "strata check -c " + file + " failed:\n" + o.out + o.err;
  }
  return "";
}

TEST(DocsCommands, Issue11EveryStrataCommandLineShownExists) {
  size_t commands = 0;
  for (const std::string& page : pages()) {
    for (const CommandLine& c : strata_commands(cli_test::read_file(kSource + "/" + page))) {
      ++commands;
      std::string shown = "strata";
      for (const auto& w : c.words) shown += " " + w;
      EXPECT_EQ(check_command(c), "") << page << ":" << c.line << ": `" << shown << "`";
    }
  }
  EXPECT_GE(commands, 20u) << "hardly any strata command found: is the extractor broken?";
}

// The extractor and the checks themselves: each must be able to fail.
TEST(DocsCommands, AnUnknownOptionOrCommandIsCaught) {
  std::vector<CommandLine> c = strata_commands(
      "Run `strata run -c FILE --no-such-option`, then\n```sh\n$ strata frobnicate\n```\n");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].line, 1);
  EXPECT_NE(check_command(c[0]).find("--no-such-option"), std::string::npos);
  EXPECT_EQ(c[1].line, 3);
  EXPECT_NE(check_command(c[1]).find("no command 'frobnicate'"), std::string::npos);
  EXPECT_EQ(check_command(strata_commands("`strata check -c FILE`")[0]), "");
}

TEST_F(Docs, MarkersAreReadAndAMalformedOneFails) {
  std::string page =
      "<!-- check: invalid \"missing required key 'module'\" -->\n```toml\n[tiers.l1]\n"
      "servers = [\"a:1\"]\n```\n\n<!-- check: fragment, with sources.events tiers.l1 tiers.l2 "
      "-->\n```toml\n[pipelines.p]\nsource = \"events\"\ntiers = [\"l1\", \"l2\"]\n```\n"
      "<!-- check: maybe -->\n```toml\nx = 1\n```\n```toml\n[tiers.l1]\nmodule = \"nope\"\n```\n";
  std::vector<TomlBlock> b = toml_blocks(page);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(check_snippet(dir_, "t.md", b[0]), "");
  EXPECT_EQ(check_snippet(dir_, "t.md", b[1]), "");
  EXPECT_NE(check_snippet(dir_, "t.md", b[2]).find("is neither"), std::string::npos);
  EXPECT_NE(check_snippet(dir_, "t.md", b[3]).find("exited 1"), std::string::npos);
}

}  // namespace
}  // namespace strata::docs_test
