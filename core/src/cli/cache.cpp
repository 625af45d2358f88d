// `strata cache get|set|del`: the tier chain from the command line, with the same semantics
// as the embeddable API (read-through with L1 refill; writes durable tier first).
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "common/log.hpp"
#include "runtime/runtime.hpp"

namespace strata::cli {

int cache(const Args& a) {
  const char* usage =
      "usage: strata cache get|set|del -c FILE [--pipeline NAME] [--ttl DURATION] KEY [VALUE]\n";
  if (a.config.empty() || a.words.size() < 2) {
    std::fputs(usage, stderr);
    return 2;
  }
  const std::string& op = a.words[0];
  const std::string& key = a.words[1];
  if ((op == "set") != (a.words.size() == 3) || a.words.size() > 3 ||
      (op != "get" && op != "set" && op != "del")) {
    std::fputs(usage, stderr);
    return 2;
  }
  int64_t ttl_ms = 0;
  if (!a.ttl.empty() && !parse_duration_ms(a.ttl, &ttl_ms)) {
    std::fprintf(stderr, "strata cache: --ttl: '%s' is not a duration\n", a.ttl.c_str());
    return 2;
  }
  log::set_level(STRATA_LOG_WARN);
  Diagnostics diags;
  auto rt = Runtime::load(a.config, Runtime::Mode::Cache, diags, a.modules_dir);
  if (!rt) {
    std::fputs(diags.str().c_str(), stderr);
    return 1;
  }
  if (auto r = rt->start(); !r) {
    std::fprintf(stderr, "strata: %s\n", r.error().c_str());
    return 1;
  }
  auto chain = rt->chain(a.pipeline);
  if (!chain) {
    std::fprintf(stderr, "strata cache: %s\n", chain.error().c_str());
    return 1;
  }
  if (op == "get") {
    GetResult g = chain.value()->get(key);
    if (g.status == STRATA_OK) {
      std::fwrite(g.value.data(), 1, g.value.size(), stdout);
      std::fputc('\n', stdout);
      std::fprintf(stderr, "(from %s%s)\n", g.tier.c_str(), g.stale ? ", stale" : "");
      return 0;
    }
    if (g.status == STRATA_NOT_FOUND) {
      std::fprintf(stderr, "strata cache: key '%s' not found%s%s\n", key.c_str(),
                   g.tier.empty() ? "" : " (negative entry in ",
                   g.tier.empty() ? "" : (g.tier + ")").c_str());
      return 1;
    }
    std::fprintf(stderr, "strata cache: get '%s' failed: %s\n", key.c_str(), g.error.c_str());
    return 1;
  }
  Result<void> r =
      op == "set" ? chain.value()->set(key, a.words[2], ttl_ms) : chain.value()->del(key);
  if (!r) {
    std::fprintf(stderr, "strata cache: %s '%s' failed: %s\n", op.c_str(), key.c_str(),
                 r.error().c_str());
    return 1;
  }
  return 0;
}

namespace {

// -c, --modules-dir and --pipeline, on `cache` (before the operation) and on each operation.
void add_chain_options(CLI::App& cmd, Args& a) {
  add_config_option(cmd, a);
  add_modules_dir_option(cmd, a);
  cmd.add_option("--pipeline", a.pipeline, "whose tier chain (default: the only pipeline)")
      ->type_name("NAME");
}

}  // namespace

void add_cache_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<Args>();
  auto key = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  CLI::App* cache_cmd = app.add_subcommand(
      "cache", "read through / write through a pipeline's tier chain: get, set or del a key");
  cache_cmd->require_subcommand(1);
  add_chain_options(*cache_cmd, *a);
  struct Op {
    const char* name;
    const char* help;
  };
  for (Op op : {Op{"get", "read KEY through the tiers (an L1 miss refills L1 from L2)"},
                Op{"set", "write VALUE under KEY, the durable tier first"},
                Op{"del", "delete KEY from every tier, the durable tier first"}}) {
    CLI::App* cmd = cache_cmd->add_subcommand(op.name, op.help);
    add_chain_options(*cmd, *a);
    cmd->add_option("KEY", *key, "the key (put -- before a key that starts with -)")->required();
    if (std::string(op.name) == "set") {
      cmd->add_option("VALUE", *value, "the value")->required();
      cmd->add_option("--ttl", a->ttl, "expire the key after DURATION")->type_name("DURATION");
    }
    std::string name = op.name;
    cmd->callback([a, key, value, name, &action] {
      a->words = {name, *key};
      if (name == "set") a->words.push_back(*value);
      action = [a] { return cache(*a); };
    });
  }
}

}  // namespace strata::cli
