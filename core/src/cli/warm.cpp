// `strata warm -c FILE [--pipeline NAME] [--tiers l1[,l1b]] [--prefix P]`: refills volatile
// tiers (a memcached L1 that restarted empty) from the durable tier of a pipeline's chain, page
// by page (Warmer), with a progress bar on a terminal or progress lines in the log. SIGINT /
// SIGTERM stop it after the page in hand (each page is bounded by the tiers' timeouts).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>

#include "chain/warmer.hpp"
#include "cli/commands.hpp"
#include "cli/progress_bar.hpp"
#include "common/log.hpp"
#include "runtime/runtime.hpp"

namespace strata::cli {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) {
  g_stop.store(true);
  // A second signal ends the process the ordinary way.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
}

// "l1" or "tiers.l1" -> the volatile tier of `chain` with that name.
Result<std::vector<Tier*>> targets(const TierChain& chain, const std::string& list) {
  std::vector<Tier*> out;
  if (list.empty()) {
    for (Tier* t : chain.tiers())
      if (!t->durable()) out.push_back(t);
    if (out.empty()) return fail("the chain has no volatile tier to warm");
    return out;
  }
  std::stringstream in(list);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name.empty()) continue;
    std::string full = name.rfind("tiers.", 0) == 0 ? name : "tiers." + name;
    Tier* found = nullptr;
    for (Tier* t : chain.tiers())
      if (t->name() == full) found = t;
    if (!found) return fail("--tiers: the chain has no tier '" + name + "'");
    if (found->durable())
      return fail("--tiers: " + full + " is durable; warm fills volatile tiers only");
    out.push_back(found);
  }
  if (out.empty()) return fail("--tiers: no tier named");
  return out;
}

Result<Tier*> source(const TierChain& chain) {
  Tier* durable = nullptr;
  for (Tier* t : chain.tiers()) {
    if (!t->durable()) continue;
    if (durable) return fail("the chain has several durable tiers; warm reads from exactly one");
    durable = t;
  }
  if (!durable) return fail("the chain has no durable tier to warm from");
  return durable;
}

std::string counts_text(const WarmCounts& c) {
  return "scanned=" + std::to_string(c.scanned) + " added=" + std::to_string(c.added) +
         " present=" + std::to_string(c.present) + " skipped=" + std::to_string(c.skipped) +
         " errors=" + std::to_string(c.errors);
}

std::string subject(const std::vector<Tier*>& tiers, const std::string& prefix) {
  std::string s = "tiers=";
  for (size_t i = 0; i < tiers.size(); ++i)
    s += (i ? "," : "") + tiers[i]->name().substr(6);  // "tiers.l1" -> "l1"
  if (!prefix.empty()) s += " prefix=" + prefix;
  return s;
}

// The warm itself, once the runtime has started; the exit code.
int warm_chain(const TierChain& chain, const Args& a, int64_t interval_ms) {
  auto from = source(chain);
  auto to = from ? targets(chain, a.tiers) : Result<std::vector<Tier*>>(fail(from.error()));
  if (!to) {
    std::fprintf(stderr, "strata warm: %s\n", to.error().c_str());
    return 1;
  }
  auto warmer = Warmer::create(*from, *to, WarmSettings{a.prefix});
  if (!warmer) {
    std::fprintf(stderr, "strata warm: %s\n", warmer.error().c_str());
    return 1;
  }
  log::info("warm " + subject(*to, a.prefix) + " from " + (*from)->name());
  ProgressBar::Options po;
  po.job = "warm";
  po.subject = subject(*to, a.prefix);
  po.unit = "keys";
  po.log_interval_ms = interval_ms;
  ProgressBar bar(po);
  bool ok = true;
  while (!warmer->finished() && !g_stop.load()) {
    ok = warmer->step(g_stop);
    bar.update(warmer->counts().scanned, warmer->keys_left());
    if (!ok) break;
  }
  const WarmCounts& c = warmer->counts();
  const bool interrupted = !warmer->finished() && g_stop.load();
  bar.finish(interrupted ? "interrupted" : !ok ? "failed" : c.errors ? "done with errors" : "done");
  if (!ok && !interrupted) std::fprintf(stderr, "strata warm: %s\n", warmer->error().c_str());
  std::printf("warm %s %s%s\n", subject(*to, a.prefix).c_str(), counts_text(c).c_str(),
              interrupted ? " interrupted" : "");
  std::fflush(stdout);
  if (interrupted) return 130;
  return ok && c.errors == 0 ? 0 : 1;
}

}  // namespace

int warm(const Args& a) {
  if (a.config.empty() || !a.words.empty()) {
    std::fputs(
        "usage: strata warm -c FILE [--pipeline NAME] [--tiers NAME[,NAME]] [--prefix P] "
        "[--progress-interval DURATION]\n",
        stderr);
    return 2;
  }
  int64_t interval_ms = 10'000;
  if (!a.progress_interval.empty() && !parse_duration_ms(a.progress_interval, &interval_ms)) {
    std::fprintf(stderr, "strata warm: --progress-interval: '%s' is not a duration\n",
                 a.progress_interval.c_str());
    return 2;
  }
  Diagnostics diags;
  auto rt = Runtime::load(a.config, Runtime::Mode::Cache, diags, a.modules_dir);
  if (!rt) {
    std::fputs(diags.str().c_str(), stderr);
    return 1;
  }
  strata_log_level lvl;
  if (log::parse_level(rt->config().log_level, &lvl)) log::set_level(lvl);
  log::Format format;
  if (log::parse_format(rt->config().log_format, &format)) log::set_format(format);
  if (auto r = rt->start(); !r) {
    std::fprintf(stderr, "strata: %s\n", r.error().c_str());
    return 1;
  }
  auto chain = rt->chain(a.pipeline);
  if (!chain) {
    std::fprintf(stderr, "strata warm: %s\n", chain.error().c_str());
    rt->stop();
    return 1;
  }
  g_stop.store(false);
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);
  int rc = warm_chain(*chain.value(), a, interval_ms);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  rt->stop();
  return rc;
}

void add_warm_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "warm",
      "refill the volatile tiers (an L1 that restarted empty) from the durable tier with ADD; "
      "exit 1 on errors, 130 when interrupted");
  add_config_option(*cmd, *a);
  add_modules_dir_option(*cmd, *a);
  cmd->add_option("--pipeline", a->pipeline, "whose tier chain (default: the only pipeline)")
      ->type_name("NAME");
  cmd->add_option("--tiers", a->tiers,
                  "the volatile tiers to fill, comma-separated (default: every volatile tier "
                  "of the chain)")
      ->type_name("NAME[,NAME]");
  cmd->add_option("--prefix", a->prefix, "only keys that start with P (taken literally)")
      ->type_name("P");
  cmd->add_option("--progress-interval", a->progress_interval,
                  "without a terminal, one progress line in the log every DURATION (default "
                  "10s; 0 = only the last)")
      ->type_name("DURATION");
  cmd->callback([a, &action] { action = [a] { return warm(*a); }; });
}

}  // namespace strata::cli
