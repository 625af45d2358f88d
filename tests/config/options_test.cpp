// Option-schema validation of one instance section (validate_instance / validate_table /
// tier_host_options), unit parsing, and describe_schema. Every error test checks the exact
// FILE:LINE:COL and message, as Fluent Bit's tests/internal/config_map.c does for its maps.
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <cstdlib>
#include <map>

#include "test_util.hpp"

namespace strata {
namespace {

using testing_config::kMemcachedLike;
using testing_config::kMemcachedLikeCount;
using testing_config::parse;
using testing_config::Parsed;

// The section under test starts at line 1; its body starts at line 3.
struct Validated {
  Parsed p;
  std::optional<ResolvedOptions> values;
  std::string errors() const { return p.diags.str(); }
};

Validated validate(const std::string& body, const strata_option_def* schema = kMemcachedLike,
                   size_t count = kMemcachedLikeCount) {
  Validated v;
  v.p = parse("[tiers.l1]\nmodule = \"memcached\"\n" + body);
  EXPECT_TRUE(v.p.cfg.has_value());
  const InstanceConfig* inst = v.p.cfg->find_instance("tiers", "l1");
  EXPECT_NE(inst, nullptr);
  v.values = validate_instance(*v.p.cfg, *inst, schema, count, v.p.diags);
  return v;
}

const strata_option_value& value_of(const ResolvedOptions& r, const char* name) {
  const strata_option_value* v = r.find(name);
  EXPECT_NE(v, nullptr) << name;
  return *v;
}

TEST(ConfigOptions, UnknownKeyListsAllowedKeysAtItsPosition) {
  Validated v = validate("servers = [\"a:1\"]\nzzz = 1\n");
  EXPECT_FALSE(v.values);
  EXPECT_EQ(v.errors(),
            "t.toml:4:1: tiers.l1.zzz: unknown option; allowed: servers, port, timeout, "
            "max_value, distribution, password, weight, binary, behaviors, tags, module, "
            "breaker_failures, breaker_open, breaker_probes\n");
}

TEST(ConfigOptions, UnknownKeySuggestsClosestName) {
  Validated v = validate("servers = [\"a:1\"]\nprot = 1\nsevrers = []\n");
  ASSERT_EQ(v.p.diags.size(), 2u);
  EXPECT_EQ(v.p.diags.items()[0].pos.line + v.p.diags.items()[1].pos.line, 4 + 5);
  std::string all = v.errors();
  EXPECT_NE(all.find("t.toml:4:1: tiers.l1.prot: unknown option (did you mean 'port'?); allowed: "),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("t.toml:5:1: tiers.l1.sevrers: unknown option (did you mean 'servers'?)"),
            std::string::npos)
      << all;
}

TEST(ConfigOptions, WrongTypeSaysExpectedAndGot) {
  Validated v = validate("servers = [\"a:1\"]\nport = \"11211\"\nbinary = 1\n");
  EXPECT_FALSE(v.values);
  EXPECT_EQ(v.errors(),
            "t.toml:4:8: tiers.l1.port: expected an integer, got string\n"
            "t.toml:5:10: tiers.l1.binary: expected a boolean (true or false), got integer\n");
}

TEST(ConfigOptions, WrongTypeInsideAList) {
  Validated v = validate("servers = [\"a:1\", 2]\n");
  EXPECT_EQ(v.errors(), "t.toml:3:19: tiers.l1.servers[1]: expected a string, got integer\n");
  Validated w = validate("servers = \"a:1\"\n");
  EXPECT_EQ(w.errors(),
            "t.toml:3:11: tiers.l1.servers: expected an array of strings, got string "
            "(write [\"...\"])\n");
}

TEST(ConfigOptions, OutOfRangeBelowMinimumInTheOptionsUnit) {
  Validated v = validate("servers = [\"a\"]\nport = 0\nmax_value = 512\ntimeout = 0\n");
  EXPECT_FALSE(v.values);
  EXPECT_EQ(v.errors(),
            "t.toml:4:8: tiers.l1.port: 0 is below the minimum 1\n"
            "t.toml:5:13: tiers.l1.max_value: 512B is below the minimum 1KiB\n"
            "t.toml:6:11: tiers.l1.timeout: 0ms is below the minimum 1ms\n");
}

TEST(ConfigOptions, OutOfRangeAboveMaximumInTheOptionsUnit) {
  Validated v = validate(
      "servers = [\"a\"]\ntimeout = \"2m\"\nweight = 10.5\nport = 65536\n"
      "max_value = \"1GiB\"\n");
  EXPECT_FALSE(v.values);
  EXPECT_EQ(v.errors(),
            "t.toml:4:11: tiers.l1.timeout: 2m is above the maximum 1m\n"
            "t.toml:5:10: tiers.l1.weight: 10.5 is above the maximum 10\n"
            "t.toml:6:8: tiers.l1.port: 65536 is above the maximum 65535\n"
            "t.toml:7:13: tiers.l1.max_value: 1GiB is above the maximum 64MiB\n");
}

TEST(ConfigOptions, NotInEnumListsAllowedValues) {
  Validated v = validate("servers = [\"a\"]\ndistribution = \"ketma\"\n");
  EXPECT_EQ(v.errors(),
            "t.toml:4:16: tiers.l1.distribution: 'ketma' is not one of: ketama, modula "
            "(did you mean 'ketama'?)\n");
}

TEST(ConfigOptions, MissingRequiredPointsAtSectionHeader) {
  Validated v = validate("port = 1\n");
  EXPECT_FALSE(v.values);
  EXPECT_EQ(v.errors(),
            "t.toml:1:1: tiers.l1: missing required option 'servers' (an array of strings: "
            "memcached servers)\n");
}

TEST(ConfigOptions, BadDurationSyntax) {
  Validated v = validate("servers = [\"a\"]\ntimeout = \"5 parsecs\"\n");
  EXPECT_EQ(v.errors(),
            "t.toml:4:11: tiers.l1.timeout: '5 parsecs' is not a duration (\"250ms\", \"5s\", "
            "\"5m\", \"1h\", \"1d\" or an integer of milliseconds)\n");
  Validated n = validate("servers = [\"a\"]\ntimeout = -5\n");
  EXPECT_EQ(n.errors(), "t.toml:4:11: tiers.l1.timeout: a duration cannot be negative\n");
  Validated t = validate("servers = [\"a\"]\ntimeout = true\n");
  EXPECT_EQ(t.errors(),
            "t.toml:4:11: tiers.l1.timeout: expected a duration (\"250ms\", \"5s\", \"5m\", "
            "\"1h\", \"1d\" or an integer of milliseconds), got boolean\n");
}

TEST(ConfigOptions, BadSizeSyntax) {
  Validated v = validate("servers = [\"a\"]\nmax_value = \"12 XB\"\n");
  EXPECT_EQ(v.errors(),
            "t.toml:4:13: tiers.l1.max_value: '12 XB' is not a size (\"512\", \"64KiB\", "
            "\"1MiB\", \"1GiB\", \"1MB\" or an integer of bytes)\n");
}

TEST(ConfigOptions, DefaultsAppliedWhenKeysAreAbsent) {
  Validated v = validate("servers = [\"a:1\", \"b:2\"]\n");
  ASSERT_TRUE(v.values) << v.errors();
  const ResolvedOptions& r = *v.values;
  ASSERT_EQ(r.size(), kMemcachedLikeCount);
  // values()[i] belongs to schema[i] (the order create() relies on).
  EXPECT_EQ(r.values()[0].list_len, 2u);
  EXPECT_STREQ(r.values()[0].list[1], "b:2");
  EXPECT_EQ(r.values()[0].is_set, 1);
  EXPECT_EQ(r.integer("port"), 11211);
  EXPECT_FALSE(r.is_set("port"));
  EXPECT_EQ(r.integer("timeout"), 100);
  EXPECT_EQ(r.integer("max_value"), 1048576);
  EXPECT_EQ(r.str("distribution"), "ketama");
  EXPECT_STREQ(value_of(r, "password").s, "");
  EXPECT_DOUBLE_EQ(r.number("weight"), 1.5);
  EXPECT_EQ(r.integer("binary"), 0);
  EXPECT_EQ(value_of(r, "behaviors").table_len, 0u);
  EXPECT_EQ(r.list("tags"), (std::vector<std::string>{"a", "b"}));
  for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r.values()[i].type, kMemcachedLike[i].type);
}

TEST(ConfigOptions, ConfiguredValuesOverrideDefaults) {
  Validated v = validate(
      "servers = [\"a\"]\nport = 99\ntimeout = \"1.5s\"\nmax_value = \"64KiB\"\n"
      "distribution = \"modula\"\nweight = 2\nbinary = true\ntags = []\n");
  ASSERT_TRUE(v.values) << v.errors();
  EXPECT_EQ(v.values->integer("port"), 99);
  EXPECT_EQ(v.values->integer("timeout"), 1500);
  EXPECT_EQ(v.values->integer("max_value"), 65536);
  EXPECT_EQ(v.values->str("distribution"), "modula");
  EXPECT_DOUBLE_EQ(v.values->number("weight"), 2.0);
  EXPECT_EQ(v.values->integer("binary"), 1);
  EXPECT_TRUE(v.values->list("tags").empty());
  EXPECT_TRUE(v.values->is_set("tags"));
}

TEST(ConfigOptions, TableIsFlattenedToDottedStringPairs) {
  // An inline table cannot be extended by a later [section]: that is a TOML syntax error.
  Parsed clash = parse(
      "[tiers.l1]\nmodule = \"m\"\nbehaviors = { retries = 3 }\n"
      "[tiers.l1.behaviors.tcp]\nnodelay = true\n");
  EXPECT_FALSE(clash.cfg);
  EXPECT_EQ(clash.diags.size(), 1u);

  Validated w = validate(
      "servers = [\"a\"]\n"
      "[tiers.l1.behaviors]\n\"security.protocol\" = \"ssl\"\nretries = 3\nhosts = [\"x\", \"y\"]\n"
      "tcp = { nodelay = true, keepalive = 1.5 }\n[tiers.l1.behaviors.a.b]\nc = \"deep\"\n");
  ASSERT_TRUE(w.values) << w.errors();
  const strata_option_value& t = value_of(*w.values, "behaviors");
  std::map<std::string, std::string> got;
  for (size_t i = 0; i < t.table_len; ++i) got[t.table[i].key] = t.table[i].value;
  EXPECT_EQ(got, (std::map<std::string, std::string>{{"security.protocol", "ssl"},
                                                     {"retries", "3"},
                                                     {"hosts", "x,y"},
                                                     {"tcp.nodelay", "true"},
                                                     {"tcp.keepalive", "1.5"},
                                                     {"a.b.c", "deep"}}));
  Validated bad = validate("servers = [\"a\"]\nbehaviors = 3\n");
  EXPECT_EQ(bad.errors(), "t.toml:4:13: tiers.l1.behaviors: expected a table, got integer\n");
}

TEST(ConfigOptions, SecretValuesAreNeverEchoed) {
  static constexpr const char* kModes[] = {"plain", "scram", nullptr};
  static constexpr strata_option_def kSecretSchema[] = {
      strata::option("mode", STRATA_OPT_ENUM, "plain", "auth mode").one_of(kModes).secret(),
      strata::option("pin", STRATA_OPT_INT, "1234", "pin").range(1000, 9999).secret(),
      strata::option("lease", STRATA_OPT_DURATION, "1s", "lease").secret(),
  };
  setenv("STRATA_TEST_SECRET", "hunter2-sekrit", 1);
  Validated v =
      validate("mode = \"${STRATA_TEST_SECRET}\"\npin = 12\nlease = \"${STRATA_TEST_SECRET}\"\n",
               kSecretSchema, 3);
  EXPECT_EQ(v.errors(),
            "t.toml:3:8: tiers.l1.mode: the value is not one of: plain, scram\n"
            "t.toml:4:7: tiers.l1.pin: the value is below the minimum 1000\n"
            "t.toml:5:9: tiers.l1.lease: the value is not a duration (\"250ms\", \"5s\", \"5m\", "
            "\"1h\", \"1d\" or an integer of milliseconds)\n");
  EXPECT_EQ(v.errors().find("hunter2"), std::string::npos);
  // An unset variable names the variable, never a value.
  Validated unset = validate("mode = \"${STRATA_TEST_SECRET_MODE}\"\n", kSecretSchema, 3);
  EXPECT_NE(unset.errors().find("environment variable 'STRATA_TEST_SECRET_MODE' is not set"),
            std::string::npos);
  unsetenv("STRATA_TEST_SECRET");
}

TEST(ConfigOptions, InvalidDefaultIsReportedAsAModuleBug) {
  static constexpr strata_option_def kBuggy[] = {
      strata::option("ttl", STRATA_OPT_DURATION, "5 parsecs", "ttl"),
      strata::option("n", STRATA_OPT_INT, "12abc", "n"),
  };
  Validated v = validate("", kBuggy, 2);
  EXPECT_FALSE(v.values);
  EXPECT_EQ(v.errors(),
            "t.toml:1:1: tiers.l1.ttl: the module's schema has an invalid default '5 parsecs' "
            "(expected a duration (\"250ms\", \"5s\", \"5m\", \"1h\", \"1d\" or an integer of "
            "milliseconds)); this is a bug in the module\n"
            "t.toml:1:1: tiers.l1.n: the module's schema has an invalid default '12abc' "
            "(expected an integer); this is a bug in the module\n");
}

TEST(ConfigOptions, TierHostKeysHaveDefaultsBoundsAndStayOutOfModuleValues) {
  Validated v = validate("servers = [\"a\"]\nbreaker_open = \"30s\"\n");
  ASSERT_TRUE(v.values) << v.errors();
  EXPECT_EQ(v.values->find("breaker_open"), nullptr);
  auto host = tier_host_options(*v.p.cfg, *v.p.cfg->find_instance("tiers", "l1"), v.p.diags);
  ASSERT_TRUE(host) << v.errors();
  EXPECT_EQ(host->integer("breaker_failures"), 5);
  EXPECT_EQ(host->integer("breaker_open"), 30000);
  EXPECT_TRUE(host->is_set("breaker_open"));
  EXPECT_EQ(host->integer("breaker_probes"), 1);
  EXPECT_EQ(host->find("timeout"), nullptr);  // tiers bound their calls with their own timeouts

  // The module declares `timeout` itself: the key is the module's.
  Validated both = validate("servers = [\"a\"]\ntimeout = \"250ms\"\n");
  ASSERT_TRUE(both.values) << both.errors();
  EXPECT_EQ(both.values->integer("timeout"), 250);

  Validated bad = validate("servers = [\"a\"]\nbreaker_failures = 0\nbreaker_probes = 1001\n");
  EXPECT_FALSE(bad.values);
  auto again = tier_host_options(*bad.p.cfg, *bad.p.cfg->find_instance("tiers", "l1"), bad.p.diags);
  EXPECT_FALSE(again);
  // Both calls see the bad keys; each problem is reported once.
  EXPECT_EQ(bad.errors(),
            "t.toml:4:20: tiers.l1.breaker_failures: 0 is below the minimum 1\n"
            "t.toml:5:18: tiers.l1.breaker_probes: 1001 is above the maximum 1000\n");
}

TEST(ConfigOptions, ResolvedValuesDoNotMoveWithTheObject) {
  Validated v = validate("servers = [\"a\", \"b\"]\n");
  ASSERT_TRUE(v.values);
  const strata_option_value* before = v.values->values();
  const char* first = before[0].list[0];
  ResolvedOptions moved = std::move(*v.values);
  std::vector<ResolvedOptions> many;
  many.push_back(std::move(moved));
  for (int i = 0; i < 10; ++i) many.emplace_back();
  EXPECT_EQ(many[0].values(), before);
  EXPECT_EQ(many[0].values()[0].list[0], first);
  EXPECT_STREQ(many[0].values()[0].list[0], "a");
}

TEST(ConfigOptions, ValidateTableWorksOnAnyTable) {
  toml::table t = toml::parse(std::string_view("lua_budget = -1\n"), std::string_view("x.toml"));
  Diagnostics d;
  const auto& schema = pipeline_schema();
  auto r = validate_table(t, "x.toml", "pipelines.p", schema.data(), schema.size(), {}, d);
  EXPECT_FALSE(r);
  EXPECT_EQ(d.str(),
            "x.toml:1:1: pipelines.p: missing required option 'source' (a string: Name of the "
            "[sources.NAME] instance that feeds this pipeline.)\n"
            "x.toml:1:1: pipelines.p: missing required option 'tiers' (an array of strings: "
            "Names of [tiers.NAME] instances in read order, L1 first. Non-empty, no "
            "duplicates.)\n"
            "x.toml:1:14: pipelines.p.lua_budget: -1 is below the minimum 0\n");
}

TEST(ConfigUnits, DurationsInEveryUnit) {
  int64_t ms = -1;
  struct Case {
    const char* text;
    int64_t ms;
  } cases[] = {{"0", 0},           {"250", 250},   {"250ms", 250},  {"5s", 5000},
               {"1.5s", 1500},     {"5m", 300000}, {"1h", 3600000}, {"1d", 86400000},
               {"1h30m", 5400000}, {" 2s ", 2000}};
  for (const Case& c : cases) {
    ASSERT_TRUE(parse_duration_ms(c.text, &ms)) << c.text;
    EXPECT_EQ(ms, c.ms) << c.text;
  }
  for (const char* bad : {"", "s", "5x", "5 s", "-5s", "0.5ms", "5sm", "1h30", "ms5"})
    EXPECT_FALSE(parse_duration_ms(bad, &ms)) << bad;
  EXPECT_EQ(format_duration_ms(0), "0ms");
  EXPECT_EQ(format_duration_ms(1500), "1500ms");
  EXPECT_EQ(format_duration_ms(60000), "1m");
  EXPECT_EQ(format_duration_ms(86400000), "1d");
}

TEST(ConfigUnits, SizesBinaryAndDecimal) {
  int64_t b = -1;
  struct Case {
    const char* text;
    int64_t bytes;
  } cases[] = {{"512", 512},       {"512B", 512},          {"64KiB", 65536},
               {"1MiB", 1048576},  {"1GiB", 1073741824},   {"1KB", 1000},
               {"1MB", 1000000},   {"1GB", 1000000000},    {"1.5KiB", 1536},
               {"2 mib", 2097152}, {"1TiB", 1099511627776}};
  for (const Case& c : cases) {
    ASSERT_TRUE(parse_size_bytes(c.text, &b)) << c.text;
    EXPECT_EQ(b, c.bytes) << c.text;
  }
  for (const char* bad : {"", "KiB", "12 XB", "-1", "1.1B", "1K", "1MiBs"})
    EXPECT_FALSE(parse_size_bytes(bad, &b)) << bad;
  EXPECT_EQ(format_size_bytes(65536), "64KiB");
  EXPECT_EQ(format_size_bytes(1000000), "1MB");
  EXPECT_EQ(format_size_bytes(1023), "1023B");
}

// Issue 12: the option table itself is checked without a config (strata modules / describe).
TEST(ConfigSchema, Issue12SchemaProblemsNameEveryInvalidDefault) {
  static const char* const kColours[] = {"red", "green", nullptr};
  strata_option_def defs[] = {
      {sizeof(strata_option_def), "ok", STRATA_OPT_DURATION, "5s", 0, 0, 0, nullptr, "fine"},
      {sizeof(strata_option_def), "n", STRATA_OPT_INT, "ten", 0, 0, 0, nullptr, "bad"},
      {sizeof(strata_option_def), "colour", STRATA_OPT_ENUM, "blue", 0, 0, 0, kColours, "bad"},
      {sizeof(strata_option_def), "req", STRATA_OPT_SIZE, nullptr, 0, 0, 0, nullptr, "required"},
      {sizeof(strata_option_def), "key", STRATA_OPT_STRING, "hunter2", STRATA_OPTF_SECRET, 0, 0,
       nullptr, "secret, fine"},
      {sizeof(strata_option_def), "on", STRATA_OPT_BOOL, "yes", STRATA_OPTF_SECRET, 0, 0, nullptr,
       "secret, bad"},
      {sizeof(strata_option_def), nullptr, STRATA_OPT_INT, "1", 0, 0, 0, nullptr, "no name"},
  };
  std::vector<std::string> got = schema_problems(defs, sizeof defs / sizeof defs[0]);
  std::vector<std::string> want = {
      "n: the module's schema has an invalid default 'ten' (expected an integer); this is a bug "
      "in the module",
      "colour: the module's schema has an invalid default 'blue' (expected a string); this is a "
      "bug in the module",
      "on: the module's schema has an invalid default (secret) (expected a boolean (true or "
      "false)); this is a bug in the module",
      "option #6 has no name"};
  EXPECT_EQ(got, want);
  const auto& pipeline = pipeline_schema();
  EXPECT_TRUE(schema_problems(pipeline.data(), pipeline.size()).empty());
}

TEST(ConfigDescribe, PrintsEveryColumnFromTheSchemaOnly) {
  const auto& schema = pipeline_schema();
  std::string out = describe_schema(schema.data(), schema.size());
  EXPECT_EQ(out.rfind("NAME               TYPE         DEFAULT\n", 0), 0u) << out;
  EXPECT_NE(out.find("\nsource             string       required\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nlua_memory         size         128MiB\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nretry_backoff_max  duration     5s\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nlua_allow          string list  []\n"), std::string::npos) << out;
  EXPECT_NE(out.find("    Each one of: io, os, require, debug, ffi\n"), std::string::npos);
  EXPECT_NE(out.find("    Range: >= 0\n"), std::string::npos);
  const auto& tier = tier_host_schema();
  EXPECT_NE(describe_schema(tier.data(), tier.size()).find("    Range: 1 .. 100000\n"),
            std::string::npos);
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1)
    EXPECT_LE(end - start, 100u) << out.substr(start, end - start);
}

TEST(ConfigDescribe, ChangingADescriptionChangesTheOutput) {
  strata_option_def defs[] = {kMemcachedLike[0], kMemcachedLike[2]};
  std::string before = describe_schema(defs, 2);
  defs[1].description = "How long one request may take before the server is marked down.";
  std::string after = describe_schema(defs, 2);
  EXPECT_NE(before, after);
  EXPECT_NE(after.find("    How long one request may take before the server is marked down.\n"),
            std::string::npos)
      << after;
  EXPECT_EQ(before.find("marked down"), std::string::npos);
}

TEST(ConfigDescribe, SecretDefaultsAndFlagsAreShownNotTheValue) {
  static constexpr strata_option_def kDefs[] = {
      strata::option("password", STRATA_OPT_STRING, "letmein", "SASL password").secret(),
      strata::option("ttl", STRATA_OPT_DURATION, "5m", "TTL").reloadable().range(1000, 86400000),
      strata::option("max", STRATA_OPT_SIZE, "1MiB", "largest").max(1073741824),
  };
  std::string out = describe_schema(kDefs, 3);
  EXPECT_EQ(out.find("letmein"), std::string::npos) << out;
  EXPECT_NE(out.find("password  string    (secret)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("    Flags: secret\n"), std::string::npos) << out;
  EXPECT_NE(out.find("    Flags: reloadable\n"), std::string::npos) << out;
  EXPECT_NE(out.find("    Range: 1s .. 1d\n"), std::string::npos) << out;
  EXPECT_NE(out.find("    Range: <= 1GiB\n"), std::string::npos) << out;
}

TEST(ConfigDescribe, LongDescriptionsWrapAtOneHundredColumns) {
  std::string words;
  for (int i = 0; i < 60; ++i) words += "word" + std::to_string(i) + " ";
  strata_option_def d = kMemcachedLike[1];
  d.description = words.c_str();
  std::string out = describe_schema(&d, 1);
  int lines = 0;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    EXPECT_LE(end - start, 100u);
    ++lines;
  }
  EXPECT_GE(lines, 5);
  EXPECT_NE(out.find("word59"), std::string::npos);
}

}  // namespace
}  // namespace strata
