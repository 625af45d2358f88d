// `strata replay -c FILE [--pipeline P] [--from earliest|TIMESTAMP|P:OFF,...] [--group G]`:
// rebuilds a pipeline's tiers from its topic while the live pipeline keeps running. The
// pipeline runs alone in this process (its source, hooks, policy and tiers; no other pipeline,
// no front, no admin listener) in replay mode: the source consumes as a group of its own from
// --from up to each partition's end as it was at assignment, and a ReplayGate lets the writes
// fill only what is absent or what the replay itself wrote (docs/operations.md, "Replay").
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/progress_bar.hpp"
#include "cli/replay_job.hpp"
#include "cli/replay_from.hpp"
#include "cli/shutdown_watchdog.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "runtime/runtime.hpp"

namespace strata::cli {
namespace {

// How long the source may take to be assigned its partitions (a group join, a broker round trip
// per partition for the watermarks) before the replay gives up.
constexpr int64_t kAssignTimeoutMs = 60'000;

}  // namespace

// Only the replayed pipeline and what it uses: another pipeline's source would join that
// pipeline's live group and take partitions from it; fronts and the admin port belong to the
// live process.
Result<Config> keep_one_pipeline(Config cfg, const std::string& name) {
  if (name.empty() && cfg.pipelines.size() != 1)
    return fail("--pipeline NAME is needed: " + cfg.path + " has " +
                std::to_string(cfg.pipelines.size()) + " pipelines");
  if (!name.empty() && !cfg.find_pipeline(name))
    return fail("no pipeline \"" + name + "\" in " + cfg.path);
  std::string keep = name.empty() ? cfg.pipelines.front().name : name;
  std::erase_if(cfg.pipelines, [&](const PipelineConfig& p) { return p.name != keep; });
  const std::string source = cfg.pipelines.front().source;
  std::erase_if(cfg.sources, [&](const InstanceConfig& s) { return s.name != source; });
  cfg.fronts.clear();
  cfg.admin.enabled = false;
  return cfg;
}

namespace {

struct Outcome {
  int code = 0;
  std::string word = "done";
};

// Waits until the source delivered every record of its range, a signal, or no assignment in
// time. Returns the exit code and the word for the final progress line.
Outcome follow(Pipeline& p, ProgressBar& bar, sigset_t& signals) {
  const int64_t started = clock::mono_ms();
  timespec tick{0, 100 * 1000 * 1000};
  for (;;) {
    int sig = sigtimedwait(&signals, nullptr, &tick);
    int64_t left = p.replay_left();
    uint64_t done = p.stats().records.load();
    bar.update(done,
               left >= 0 ? std::optional<uint64_t>(static_cast<uint64_t>(left)) : std::nullopt);
    if (sig == SIGINT || sig == SIGTERM) {
      log::info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                ", stopping the replay: finishing the batch in hand and committing");
      return {3, "interrupted"};
    }
    if (left == 0 && !p.reconciling()) {
      // The range is written; now what the live pipeline applied meanwhile (its deletes).
      p.request_reconcile();
      if (std::string e = p.reconcile_error(); !e.empty()) {
        log::error("replay: " + e);
        return {1, "failed"};
      }
      continue;
    }
    if (left == 0) return {0, "done"};
    if (std::string e = p.reconcile_error(); !e.empty()) {
      log::error("replay: " + e);
      return {1, "failed"};
    }
    if (left < 0 && clock::mono_ms() - started > kAssignTimeoutMs) {
      log::error("replay: no partition assigned within " + std::to_string(kAssignTimeoutMs / 1000) +
                 " s (is the broker reachable? is another replay using the same group?)");
      return {1, "failed"};
    }
  }
}

}  // namespace

int replay(const Args& a) {
  if (a.config.empty()) {
    std::fprintf(stderr, "strata replay: -c FILE is required\n");
    return 2;
  }
  std::string from, why;
  if (!parse_replay_from(a.from.empty() ? "earliest" : a.from, &from, &why)) {
    std::fprintf(stderr, "strata replay: --from: %s\n", why.c_str());
    return 2;
  }
  ReplayJob job;
  job.command = "replay";
  job.progress_job = "replay";
  job.args = &a;
  job.from = from;
  job.narrow = [&a](Config cfg) -> Result<std::shared_ptr<const Config>> {
    auto one = keep_one_pipeline(std::move(cfg), a.pipeline);
    if (!one) return fail(one.error());
    return std::make_shared<const Config>(std::move(one.value()));
  };
  job.summary = [](Pipeline& p, const std::string& word) {
    const PipelineStats& s = p.stats();
    const ReplayGate* gate = p.replay_gate();
    std::printf(
        "replay %s: %s: %llu records, %llu durable writes, %llu refused (a newer value or the "
        "live pipeline's), %llu keys left to the live pipeline, %llu dead letters\n",
        p.name().c_str(), word.c_str(), (unsigned long long)s.records.load(),
        (unsigned long long)s.keys_written.load(), (unsigned long long)s.stale_skipped.load(),
        (unsigned long long)(gate ? gate->keys_yielded() : 0),
        (unsigned long long)s.dead_letters.load());
    return 0;
  };
  return run_replay_job(job);
}

int run_replay_job(const ReplayJob& job) {
  const Args& a = *job.args;
  const std::string cmd = "strata " + job.command;
  int64_t shutdown_ms = 0;
  if (!parse_duration_ms(a.shutdown_timeout, &shutdown_ms)) {
    std::fprintf(stderr, "%s: --shutdown-timeout: '%s' is not a duration\n", cmd.c_str(),
                 a.shutdown_timeout.c_str());
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  Diagnostics diags;
  auto full = parse_config(a.config, diags);
  if (!full || !diags.empty()) {
    std::fputs(diags.str().c_str(), stderr);
    return 1;
  }
  const std::string log_level = full->log_level, log_format = full->log_format;
  auto cfg = job.narrow(std::move(*full));
  if (!cfg) {
    std::fprintf(stderr, "%s: %s\n", cmd.c_str(), cfg.error().c_str());
    return 1;
  }
  strata_log_level lvl;
  if (log::parse_level(log_level, &lvl)) log::set_level(lvl);
  log::Format format;
  if (log::parse_format(log_format, &format)) log::set_format(format);
  auto rt = Runtime::build(cfg.value(), Runtime::Mode::Replay, diags, a.modules_dir);
  if (!rt || !diags.empty()) {
    std::fputs(diags.str().c_str(), stderr);
    return 1;
  }
  Pipeline& p = *rt->pipelines().front();
  if (job.before_start) job.before_start(p);
  if (auto r = p.setup_replay(a.group, job.from); !r) {
    std::fprintf(stderr, "%s: %s\n", cmd.c_str(), r.error().c_str());
    return 1;
  }
  if (auto r = rt->start(); !r) {
    std::fprintf(stderr, "%s: %s\n", cmd.c_str(), r.error().c_str());
    return 1;
  }
  log::info(job.command + " of pipeline " + p.name() + " from " + job.from);
  ProgressBar::Options po;
  po.job = job.progress_job;
  po.subject = "pipeline=" + p.name();
  po.log_interval_ms =
      cfg.value()->progress_interval_ms > 0 ? cfg.value()->progress_interval_ms : 10'000;
  ProgressBar bar(po);
  Outcome out = follow(p, bar, signals);

  ShutdownWatchdog watchdog(shutdown_ms);
  watchdog.arm();  // a stuck stop ends in exit 1 at the deadline or on a second signal
  watchdog.set_stage("pipeline " + p.name() + " (its batch in hand)");
  p.stop();
  watchdog.set_stage("the source and tiers (stopping in reverse start order)");
  rt->stop();
  watchdog.stop_watching();
  int64_t left = p.replay_left();
  bar.update(p.stats().records.load(),
             left >= 0 ? std::optional<uint64_t>(static_cast<uint64_t>(left)) : std::nullopt);
  bar.finish(out.word);
  int code = job.summary(p, out.word);
  return out.code != 0 ? out.code : code;
}

void add_replay_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "rebuild a pipeline's tiers from its topic beside the live pipeline: fills only absent "
      "keys or its own, never rolls a key back; exit 0 done, 1 failed, 3 interrupted");
  add_config_option(*cmd, *a);
  add_modules_dir_option(*cmd, *a);
  cmd->add_option("--pipeline", a->pipeline, "which pipeline (default: the only one)")
      ->type_name("NAME");
  cmd->add_option("--from", a->from,
                  "where each partition starts: earliest (default), a timestamp (RFC 3339 or "
                  "epoch ms) or P:OFFSET,...")
      ->type_name("WHERE");
  cmd->add_option("--group", a->group,
                  "the replay's consumer group (default: the source's group + \".replay\")")
      ->type_name("GROUP");
  cmd->add_option("--shutdown-timeout", a->shutdown_timeout,
                  "how long a stop on SIGINT/SIGTERM may take (default 25s, 0 = no limit)")
      ->type_name("DURATION");
  cmd->callback([a, &action] { action = [a] { return replay(*a); }; });
}

}  // namespace strata::cli
