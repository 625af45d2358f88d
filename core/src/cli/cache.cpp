// `strata cache get|set|del`: the tier chain from the command line, with the same semantics
// as the embeddable API (read-through with L1 refill; writes durable tier first).
#include <cstdio>

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

}  // namespace strata::cli
