// parse_config: file shape, top-level keys, instance sections, pipelines and their references,
// ${VAR} expansion, syntax errors, and reporting every error at once with exact positions.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <toml++/toml.h>

#include "test_util.hpp"

namespace strata {
namespace {

using testing_config::parse;
using testing_config::Parsed;

// Lines 1-14; a test appends pipeline keys from line 16 on.
const std::string kBase =
    "[sources.events]\n"            // 1
    "module = \"kafka\"\n"          // 2
    "\n"                            // 3
    "[tiers.l1]\n"                  // 4
    "module = \"memcached\"\n"      // 5
    "\n"                            // 6
    "[tiers.l2]\n"                  // 7
    "module = \"redis\"\n"          // 8
    "\n"                            // 9
    "[policies.wt]\n"               // 10
    "module = \"write_through\"\n"  // 11
    "\n"                            // 12
    "[pipelines.latest]\n";         // 13

Parsed pipeline(const std::string& source_line, const std::string& tiers_line,
                const std::string& rest = "") {
  return parse(kBase + source_line + "\n" + tiers_line + "\n" + rest);  // lines 14, 15, 16...
}

TEST(ConfigParse, MinimalConfigHasInstancesAndPipelineInFileOrder) {
  Parsed p = pipeline("source = \"events\"", "tiers = [\"l1\", \"l2\"]", "policy = \"wt\"\n");
  ASSERT_TRUE(p.cfg);
  EXPECT_TRUE(p.diags.empty()) << p.diags.str();
  const Config& c = *p.cfg;
  ASSERT_EQ(c.tiers.size(), 2u);
  EXPECT_EQ(c.tiers[0].name, "l1");
  EXPECT_EQ(c.tiers[0].module, "memcached");
  EXPECT_EQ(c.tiers[0].full_name(), "tiers.l1");
  EXPECT_EQ(c.tiers[0].pos.line, 4);
  EXPECT_EQ(c.tiers[0].pos.col, 1);
  EXPECT_EQ(c.tiers[0].module_pos.line, 5);
  EXPECT_EQ(c.tiers[0].module_pos.col, 10);
  EXPECT_EQ(c.tiers[1].module, "redis");
  ASSERT_NE(c.find_instance("sources", "events"), nullptr);
  EXPECT_EQ(c.find_instance("policies", "wt")->module, "write_through");
  EXPECT_EQ(c.find_instance("tiers", "l3"), nullptr);
  const PipelineConfig* pl = c.find_pipeline("latest");
  ASSERT_NE(pl, nullptr);
  EXPECT_EQ(pl->source, "events");
  EXPECT_EQ(pl->tiers, (std::vector<std::string>{"l1", "l2"}));
  EXPECT_EQ(pl->policy, "wt");
  EXPECT_EQ(pl->pos.line, 13);
}

TEST(ConfigParse, PipelineAndTopLevelDefaultsApplied) {
  Parsed p = pipeline("source = \"events\"", "tiers = [\"l1\"]");
  ASSERT_TRUE(p.cfg);
  ASSERT_TRUE(p.diags.empty()) << p.diags.str();
  const Config& c = *p.cfg;
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.modules_dir, "");
  EXPECT_TRUE(c.admin.enabled);
  EXPECT_EQ(c.admin.listen, "127.0.0.1");
  EXPECT_EQ(c.admin.port, 0);
  const PipelineConfig& pl = c.pipelines.at(0);
  EXPECT_EQ(pl.policy, "");
  EXPECT_EQ(pl.script, "");
  const ResolvedOptions& o = pl.options;
  EXPECT_EQ(o.size(), pipeline_schema().size());
  EXPECT_TRUE(o.list("lua_allow").empty());
  EXPECT_EQ(o.integer("lua_budget"), 1000000);
  EXPECT_EQ(o.integer("neg_ttl"), 0);
  EXPECT_EQ(o.str("dead_letter_file"), "");
  EXPECT_EQ(o.str("dead_letter_topic"), "");
  EXPECT_EQ(o.integer("retry_backoff"), 100);
  EXPECT_EQ(o.integer("retry_backoff_max"), 5000);
  EXPECT_EQ(o.integer("lua_memory"), 128 << 20);
  EXPECT_TRUE(o.is_set("source"));
  EXPECT_FALSE(o.is_set("lua_memory"));
}

TEST(ConfigParse, PipelineOptionsAreValidated) {
  Parsed p = pipeline("source = \"events\"", "tiers = [\"l1\"]",
                      "lua_allow = [\"io\", \"sockets\"]\nlua_budget = -5\nneg_ttl = \"2s\"\n"
                      "lua_memory = \"8MiB\"\nretry_backoff = \"1 minute\"\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:16:20: pipelines.latest.lua_allow[1]: 'sockets' is not one of: io, os, "
            "require, debug, ffi\n"
            "t.toml:17:14: pipelines.latest.lua_budget: -5 is below the minimum 0\n"
            "t.toml:20:17: pipelines.latest.retry_backoff: '1 minute' is not a duration "
            "(\"250ms\", \"5s\", \"5m\", \"1h\", \"1d\" or an integer of milliseconds)\n");
  Parsed ok = pipeline("source = \"events\"", "tiers = [\"l1\"]",
                       "lua_allow = [\"os\"]\nneg_ttl = \"2s\"\nlua_memory = \"8MiB\"\n");
  ASSERT_TRUE(ok.diags.empty()) << ok.diags.str();
  const ResolvedOptions& o = ok.cfg->pipelines.at(0).options;
  EXPECT_EQ(o.list("lua_allow"), (std::vector<std::string>{"os"}));
  EXPECT_EQ(o.integer("neg_ttl"), 2000);
  EXPECT_EQ(o.integer("lua_memory"), 8 << 20);
}

TEST(ConfigParse, KeyTemplateIsCheckedWhereItIsWritten) {
  Parsed ok = pipeline("source = \"events\"", "tiers = [\"l1\"]", "key = \"user:{value.user}\"\n");
  ASSERT_TRUE(ok.diags.empty()) << ok.diags.str();
  EXPECT_EQ(ok.cfg->pipelines.at(0).key_template, "user:{value.user}");
  // key = "" is no template, as script = "" is no script.
  Parsed none = pipeline("source = \"events\"", "tiers = [\"l1\"]", "key = \"\"\n");
  ASSERT_TRUE(none.diags.empty()) << none.diags.str();
  EXPECT_EQ(none.cfg->pipelines.at(0).key_template, "");

  // The column is the mistake's, inside the string (the value starts at column 7).
  Parsed bad = pipeline("source = \"events\"", "tiers = [\"l1\"]", "key = \"user:{value.user\"\n");
  EXPECT_EQ(bad.diags.str(),
            "t.toml:16:13: pipelines.latest.key: a '{' without its '}' (write {{ for a literal "
            "brace)\n");
  EXPECT_EQ(bad.cfg->pipelines.at(0).key_template, "");
  Parsed unknown = pipeline("source = \"events\"", "tiers = [\"l1\"]", "key = \"{usr}\"\n");
  EXPECT_EQ(unknown.diags.str(),
            "t.toml:16:8: pipelines.latest.key: unknown placeholder {usr}; expected {key}, "
            "{value}, {value.PATH}, {header.NAME}, {topic}, {partition} or {offset}\n");

  Parsed both =
      pipeline("source = \"events\"", "tiers = [\"l1\"]", "key = \"{key}\"\nscript = \"k.lua\"\n");
  EXPECT_NE(both.diags.str().find("pipelines.latest.key: a pipeline takes its key from a script "
                                  "or from a key template, not both"),
            std::string::npos)
      << both.diags.str();
}

TEST(ConfigParse, DanglingTierListsDefinedTiers) {
  Parsed p = pipeline("source = \"events\"", "tiers = [\"l1\", \"l3\"]");
  ASSERT_TRUE(p.cfg);
  EXPECT_EQ(p.diags.str(),
            "t.toml:15:16: pipelines.latest.tiers[1]: tier 'l3' is not defined (did you mean "
            "'l1'?); defined tiers: l1, l2\n");
}

TEST(ConfigParse, DanglingSourceListsDefinedSources) {
  Parsed p = pipeline("source = \"evnts\"", "tiers = [\"l1\"]");
  EXPECT_EQ(p.diags.str(),
            "t.toml:14:10: pipelines.latest.source: source 'evnts' is not defined (did you mean "
            "'events'?); defined sources: events\n");
}

TEST(ConfigParse, DanglingPolicyListsDefinedPolicies) {
  Parsed p = pipeline("source = \"events\"", "tiers = [\"l1\"]", "policy = \"nope\"\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:16:10: pipelines.latest.policy: policy 'nope' is not defined; defined "
            "policies: wt\n");
}

TEST(ConfigParse, DanglingNameWhenNothingOfThatKindIsDefined) {
  Parsed p = parse("[pipelines.p]\nsource = \"s\"\ntiers = [\"t\"]\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:2:10: pipelines.p.source: source 's' is not defined; no [sources.NAME] "
            "sections are defined\n"
            "t.toml:3:10: pipelines.p.tiers[0]: tier 't' is not defined; no [tiers.NAME] "
            "sections are defined\n");
}

TEST(ConfigParse, DuplicateTierInPipeline) {
  Parsed p = pipeline("source = \"events\"", "tiers = [\"l1\", \"l2\", \"l1\"]");
  EXPECT_EQ(p.diags.str(),
            "t.toml:15:22: pipelines.latest.tiers[2]: tier 'l1' is listed twice; each tier may "
            "appear once\n");
}

TEST(ConfigParse, EmptyTierList) {
  Parsed p = pipeline("source = \"events\"", "tiers = []");
  EXPECT_EQ(p.diags.str(),
            "t.toml:15:9: pipelines.latest.tiers: must name at least one tier (L1 first)\n");
}

TEST(ConfigParse, ScriptConfigTakesAnyTomlValue) {
  Parsed p = pipeline("source = \"events\"", "tiers = [\"l1\"]",
                      "[pipelines.latest.script_config]\n"                     // 16
                      "prefix = \"acct\"\nttl = 30\nratio = 0.5\non = true\n"  // 17-20
                      "tags = [\"a\", 2, { x = 1 }]\n"                         // 21
                      "[pipelines.latest.script_config.nested]\n"              // 22
                      "deep = { k = \"v\" }\n");                               // 23
  ASSERT_TRUE(p.cfg);
  EXPECT_TRUE(p.diags.empty()) << p.diags.str();
  const toml::table* sc = p.cfg->pipelines.at(0).script_config;
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ((*sc)["prefix"].value_or(std::string()), "acct");
  EXPECT_EQ((*sc)["ttl"].value_or(int64_t{0}), 30);
  EXPECT_EQ((*sc)["tags"][2]["x"].value_or(int64_t{0}), 1);
  EXPECT_EQ((*sc)["nested"]["deep"]["k"].value_or(std::string()), "v");
  Parsed none = pipeline("source = \"events\"", "tiers = [\"l1\"]");
  ASSERT_TRUE(none.cfg);
  EXPECT_EQ(none.cfg->pipelines.at(0).script_config, nullptr);
}

TEST(ConfigParse, BadScriptConfigIsAPositionedError) {
  Parsed p = pipeline("source = \"events\"", "tiers = [\"l1\"]", "script_config = \"x\"\n");
  EXPECT_EQ(p.diags.size(), 1u) << p.diags.str();
  EXPECT_NE(p.diags.str().find("t.toml:16:17: pipelines.latest.script_config: expected a table"),
            std::string::npos)
      << p.diags.str();
  Parsed q = pipeline("source = \"events\"", "tiers = [\"l1\"]",
                      "[pipelines.latest.script_config]\n"  // 16
                      "when = 2026-12-02\n"                 // 17
                      "big = 9007199254740993\n"            // 18
                      "pipeline = \"x\"\n"                  // 19
                      "ok = [1, 1979-05-27T07:32:00Z]\n"    // 20
                      "fine = 9007199254740992\n");         // 21
  ASSERT_TRUE(q.cfg);
  std::string d = q.diags.str();
  EXPECT_EQ(q.diags.size(), 4u) << d;
  EXPECT_NE(d.find("t.toml:17:8: pipelines.latest.script_config.when: dates and times cannot be "
                   "passed to init(); quote the value to pass it as a string"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("t.toml:18:7: pipelines.latest.script_config.big: 9007199254740993 is beyond "
                   "2^53"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("t.toml:19:12: pipelines.latest.script_config.pipeline: reserved"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("t.toml:20:10: pipelines.latest.script_config.ok[1]: dates and times"),
            std::string::npos)
      << d;
  EXPECT_EQ(q.cfg->pipelines.at(0).script_config, nullptr);
}

TEST(ConfigParse, MissingPipelineKeysPointAtTheHeader) {
  Parsed p = parse(kBase + "lua_memory = \"1MiB\"\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:13:1: pipelines.latest: missing required option 'source' (a string: Name "
            "of the [sources.NAME] instance that feeds this pipeline.)\n"
            "t.toml:13:1: pipelines.latest: missing required option 'tiers' (an array of "
            "strings: Names of [tiers.NAME] instances in read order, L1 first. Non-empty, no "
            "duplicates.)\n");
}

TEST(ConfigParse, UnknownTopLevelKeyListsAllowedOnes) {
  Parsed p = parse("log_lvl = \"debug\"\n[tier.l1]\nmodule = \"memcached\"\n");
  ASSERT_TRUE(p.cfg);
  EXPECT_EQ(p.diags.str(),
            "t.toml:1:1: log_lvl: unknown top-level key (did you mean 'log_level'?); allowed: "
            "modules_dir, log_level, log_format, progress_interval, admin, sources, tiers, "
            "policies, pipelines, fronts\n"
            "t.toml:2:2: tier: unknown top-level key (did you mean 'tiers'?); allowed: "
            "modules_dir, log_level, log_format, progress_interval, admin, sources, tiers, "
            "policies, pipelines, fronts\n");
}

TEST(ConfigParse, LogFormatAndProgressInterval) {
  Parsed d = parse("");
  ASSERT_TRUE(d.cfg);
  EXPECT_EQ(d.cfg->log_format, "text");
  EXPECT_EQ(d.cfg->progress_interval_ms, 30000);
  Parsed p = parse("log_format = \"json\"\nprogress_interval = \"200ms\"\n");
  ASSERT_TRUE(p.cfg);
  EXPECT_EQ(p.diags.str(), "");
  EXPECT_EQ(p.cfg->log_format, "json");
  EXPECT_EQ(p.cfg->progress_interval_ms, 200);
  Parsed off = parse("progress_interval = 0\n");
  ASSERT_TRUE(off.cfg);
  EXPECT_EQ(off.diags.str(), "");
  EXPECT_EQ(off.cfg->progress_interval_ms, 0);
  Parsed bad = parse("log_format = \"yaml\"\nprogress_interval = \"soon\"\n");
  std::string why = bad.diags.str();
  EXPECT_NE(why.find("t.toml:1:14: log_format: 'yaml' is not one of: text, json"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("t.toml:2:21: progress_interval:"), std::string::npos) << why;
  Parsed negative = parse("progress_interval = -5\n");
  EXPECT_NE(negative.diags.str().find("t.toml:1:21: progress_interval:"), std::string::npos)
      << negative.diags.str();
}

TEST(ConfigParse, TopLevelScalarsAreChecked) {
  Parsed p = parse("log_level = \"verbose\"\nmodules_dir = 3\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:1:13: log_level: 'verbose' is not one of: debug, info, warn, error\n"
            "t.toml:2:15: modules_dir: expected a string, got integer\n");
}

TEST(ConfigParse, InstanceSectionsNeedAModule) {
  Parsed p = parse("[tiers.l1]\nservers = []\n\n[sources.k]\nmodule = 5\n[policies]\nx = 1\n");
  ASSERT_TRUE(p.cfg);
  EXPECT_EQ(p.diags.str(),
            "t.toml:1:1: tiers.l1: missing required key 'module' (the name of the module that "
            "runs this instance, e.g. module = \"memcached\")\n"
            "t.toml:5:10: sources.k.module: expected a module name (a non-empty string), got "
            "integer\n"
            "t.toml:7:5: policies.x: expected a [policies.x] section (a table with module = "
            "\"...\"), got integer\n");
}

TEST(ConfigParse, AdminSection) {
  Parsed p = parse("[admin]\nlisten = \"0.0.0.0\"\nport = 9100\nenabled = false\n");
  ASSERT_TRUE(p.diags.empty()) << p.diags.str();
  EXPECT_EQ(p.cfg->admin.listen, "0.0.0.0");
  EXPECT_EQ(p.cfg->admin.port, 9100);
  EXPECT_FALSE(p.cfg->admin.enabled);
  Parsed bad = parse("[admin]\nport = 70000\nlisten = 1\nbind = \"x\"\n");
  EXPECT_EQ(bad.diags.str(),
            "t.toml:2:8: admin.port: 70000 is above the maximum 65535\n"
            "t.toml:3:10: admin.listen: expected a string, got integer\n"
            "t.toml:4:1: admin.bind: unknown option; allowed: enabled, listen, port\n");
}

TEST(ConfigParse, SyntaxErrorReportsTomlppPositionAndDescription) {
  Parsed p = parse("[tiers.l1]\nmodule = \"memcached\"\nport = = 5\n");
  EXPECT_FALSE(p.cfg);
  ASSERT_EQ(p.diags.size(), 1u);
  const Diagnostic& d = p.diags.items()[0];
  EXPECT_EQ(d.pos.line, 3);
  EXPECT_EQ(d.pos.col, 8);
  EXPECT_EQ(d.str().rfind("t.toml:3:8: TOML syntax error: ", 0), 0u) << d.str();
  Parsed dup = parse("[tiers.l1]\nmodule = \"a\"\n[tiers.l1]\nmodule = \"b\"\n");
  EXPECT_FALSE(dup.cfg);
  ASSERT_EQ(dup.diags.size(), 1u);
  EXPECT_EQ(dup.diags.items()[0].pos.line, 3) << dup.diags.str();
}

TEST(ConfigEnv, UnsetVariableIsAnErrorAtTheStringsPosition) {
  unsetenv("STRATA_TEST_UNSET_VAR");
  Parsed p = parse(
      "[tiers.l2]\nmodule = \"redis\"\npassword = \"${STRATA_TEST_UNSET_VAR}\"\n"
      "servers = [\"a\", \"x${STRATA_TEST_UNSET_VAR}\"]\n");
  ASSERT_TRUE(p.cfg);
  EXPECT_EQ(p.diags.str(),
            "t.toml:3:12: tiers.l2.password: environment variable 'STRATA_TEST_UNSET_VAR' is "
            "not set\n"
            "t.toml:4:17: tiers.l2.servers[1]: environment variable 'STRATA_TEST_UNSET_VAR' is "
            "not set\n");
}

TEST(ConfigEnv, ExpandsEverywhereAndDollarDollarIsALiteralDollar) {
  setenv("STRATA_TEST_HOST", "cache1", 1);
  Parsed p = parse(
      "modules_dir = \"/opt/${STRATA_TEST_HOST}\"\n"
      "[tiers.l1]\nmodule = \"mem${STRATA_TEST_HOST}\"\n"
      "servers = [\"${STRATA_TEST_HOST}:11211\", \"$${NOT_EXPANDED}\", \"cost$5\", \"$$$$\"]\n"
      "behaviors = { pw = \"${STRATA_TEST_HOST}\", nested = { x = \"<${STRATA_TEST_HOST}>\" } }\n");
  ASSERT_TRUE(p.cfg);
  ASSERT_TRUE(p.diags.empty()) << p.diags.str();
  EXPECT_EQ(p.cfg->modules_dir, "/opt/cache1");
  EXPECT_EQ(p.cfg->tiers.at(0).module, "memcache1");
  Diagnostics d;
  auto v = validate_instance(*p.cfg, p.cfg->tiers.at(0), testing_config::kMemcachedLike,
                             testing_config::kMemcachedLikeCount, d);
  ASSERT_TRUE(v) << d.str();
  EXPECT_EQ(v->list("servers"),
            (std::vector<std::string>{"cache1:11211", "${NOT_EXPANDED}", "cost$5", "$$"}));
  const strata_option_value* t = v->find("behaviors");
  ASSERT_EQ(t->table_len, 2u);
  EXPECT_STREQ(t->table[0].key, "nested.x");
  EXPECT_STREQ(t->table[0].value, "<cache1>");
  EXPECT_STREQ(t->table[1].key, "pw");
  EXPECT_STREQ(t->table[1].value, "cache1");
  unsetenv("STRATA_TEST_HOST");
}

TEST(ConfigEnv, UnterminatedReference) {
  Parsed p = parse("modules_dir = \"${HOME\"\n");
  EXPECT_EQ(p.diags.str(),
            "t.toml:1:15: modules_dir: unterminated '${' (write '$$' for a literal '$')\n");
}

// Issue #2: one file with three mistakes gives three diagnostics, each at its own position.
TEST(ConfigParse, Issue2AllErrorsAreReportedAtOnce) {
  Parsed p = parse(
      "log_level = \"verbose\"\n"  // 1: not in enum
      "[tiers.l1]\n"               // 2
      "module = \"memcached\"\n"   // 3
      "[pipelines.p]\n"            // 4
      "source = \"nowhere\"\n"     // 5: dangling source
      "tiers = [\"l1\"]\n"         // 6
      "lua_budget = -1\n");        // 7: below min
  ASSERT_TRUE(p.cfg);
  ASSERT_EQ(p.diags.size(), 3u) << p.diags.str();
  EXPECT_EQ(p.diags.str(),
            "t.toml:1:13: log_level: 'verbose' is not one of: debug, info, warn, error\n"
            "t.toml:5:10: pipelines.p.source: source 'nowhere' is not defined; no "
            "[sources.NAME] sections are defined\n"
            "t.toml:7:14: pipelines.p.lua_budget: -1 is below the minimum 0\n");

  // Module options add to the same list: parse errors and option errors together.
  Diagnostics& d = p.diags;
  auto v = validate_instance(*p.cfg, p.cfg->tiers.at(0), testing_config::kMemcachedLike,
                             testing_config::kMemcachedLikeCount, d);
  EXPECT_FALSE(v);
  EXPECT_EQ(d.size(), 4u);
  EXPECT_NE(d.str().find("t.toml:2:1: tiers.l1: missing required option 'servers'"),
            std::string::npos);
}

TEST(ConfigFile, RelativePathsResolveAgainstTheConfigFolder) {
  Diagnostics d;
  auto cfg = parse_config_text(kBase +
                                   "source = \"events\"\ntiers = [\"l1\"]\n"
                                   "script = \"hooks/keys.lua\"\n",
                               "/etc/strata/strata.toml", d);
  ASSERT_TRUE(cfg);
  ASSERT_TRUE(d.empty()) << d.str();
  EXPECT_EQ(cfg->dir, "/etc/strata");
  EXPECT_EQ(cfg->pipelines.at(0).script, "/etc/strata/hooks/keys.lua");
  auto abs = parse_config_text("modules_dir = \"../mods\"\n" + kBase +
                                   "source = \"events\"\ntiers = [\"l1\"]\nscript = \"/x.lua\"\n",
                               "/etc/strata/strata.toml", d);
  ASSERT_TRUE(abs);
  EXPECT_EQ(abs->modules_dir, "/etc/mods");
  EXPECT_EQ(abs->pipelines.at(0).script, "/x.lua");
}

TEST(ConfigFile, ReadsAFileAndReportsAnUnreadableOne) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "strata-config-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  std::filesystem::path dir = tmpl;
  std::filesystem::path file = dir / "strata.toml";
  std::ofstream(file) << "[tiers.l1]\nmodule = \"memcached\"\nservers = [\"a\"]\n";
  Diagnostics d;
  auto cfg = parse_config(file.string(), d);
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(d.empty()) << d.str();
  EXPECT_EQ(cfg->dir, dir.string());
  EXPECT_EQ(cfg->tiers.at(0).pos.file, file.string());
  std::filesystem::remove_all(dir);

  Diagnostics missing;
  EXPECT_FALSE(parse_config((dir / "nope.toml").string(), missing));
  EXPECT_EQ(missing.str(), (dir / "nope.toml").string() +
                               ": cannot read the configuration file: No such file or directory\n");
}

}  // namespace
}  // namespace strata
