// `strata run`: builds the runtime, serves the admin listener, and waits for signals.
// SIGTERM/SIGINT stop gracefully (fronts first, then pipelines finish their batch and commit),
// within --shutdown-timeout (ShutdownWatchdog); SIGHUP re-reads the configuration and scripts: a
// bad new one is reported and the running one stays. Under systemd, SystemdNotifier (notify.cpp)
// tells the service manager each step.
#include <signal.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "admin/admin_server.hpp"
#include "cli/commands.hpp"
#include "cli/notify.hpp"
#include "cli/progress.hpp"
#include "cli/shutdown_watchdog.hpp"
#include "cli/startup_errors.hpp"
#include "common/log.hpp"
#include "metrics/config_reload.hpp"
#include "metrics/metrics.hpp"
#include "runtime/runtime.hpp"

namespace strata::cli {
namespace {

std::unique_ptr<Runtime> load(const Args& a, std::string* errors) {
  Diagnostics diags;
  auto rt = Runtime::load(a.config, Runtime::Mode::Run, diags, a.modules_dir);
  if (!rt) {
    *errors = diags.str();  // a rejected reload leaves everything as it was, log level too
    return nullptr;
  }
  strata_log_level lvl;
  if (log::parse_level(rt->config().log_level, &lvl)) log::set_level(lvl);
  log::Format format;
  if (log::parse_format(rt->config().log_format, &format)) log::set_format(format);
  return rt;
}

// The STATUS= line while running: what `systemctl status strata` shows.
std::string running_text(const Runtime& rt) {
  return "running " + std::to_string(rt.pipelines().size()) + " pipeline(s), " +
         std::to_string(rt.config().fronts.size()) + " front(s) from " + rt.config().path;
}

std::string deadline_text(int64_t shutdown_ms) {
  if (shutdown_ms == 0) return " (no deadline: --shutdown-timeout 0)";
  return " (deadline " + format_duration_ms(shutdown_ms) + ", then exit 1 without committing)";
}

// Runtime::stop(), one pipeline at a time first, so that the watchdog can name the pipeline a
// stuck hook holds (Pipeline::stop is idempotent: the runtime's own pass finds them stopped).
void stop_runtime(Runtime& rt, ShutdownWatchdog& watchdog) {
  // Fronts first: no new reads or writes arrive while the pipelines drain.
  watchdog.set_stage("the fronts (a front's stop() or an op in its tier chain has not returned)");
  rt.stop_fronts();
  const auto& pipelines = rt.pipelines();
  for (size_t i = 0; i < pipelines.size(); ++i) {
    std::string stage = "pipeline " + pipelines[i]->name() +
                        " (its batch in hand: a hook or a tier call has not returned)";
    for (size_t j = i + 1; j < pipelines.size(); ++j)
      stage += ", pipeline " + pipelines[j]->name() + " (not stopped yet)";
    watchdog.set_stage(stage);
    pipelines[i]->stop();
  }
  watchdog.set_stage("the sources, tiers and policies (stopping in reverse start order)");
  rt.stop([&](const std::string& instance) {
    watchdog.set_stage(instance +
                       " (its stop() has not returned; the sources, tiers and "
                       "policies stop in reverse start order)");
  });
}

}  // namespace

int run(const Args& a) {
  if (a.config.empty()) {
    std::fprintf(stderr, "strata run: -c FILE is required\n");
    return 2;
  }
  int64_t idle_ms = 0;
  if (!a.exit_when_idle.empty() && !parse_duration_ms(a.exit_when_idle, &idle_ms)) {
    std::fprintf(stderr, "strata run: --exit-when-idle: '%s' is not a duration\n",
                 a.exit_when_idle.c_str());
    return 2;
  }
  int64_t shutdown_ms = 0;
  if (!parse_duration_ms(a.shutdown_timeout, &shutdown_ms)) {
    std::fprintf(stderr, "strata run: --shutdown-timeout: '%s' is not a duration\n",
                 a.shutdown_timeout.c_str());
    return 2;
  }
  ShutdownWatchdog watchdog(shutdown_ms);
  SystemdNotifier notify;
  // Signals are taken synchronously by this thread only: block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::string errors;
  std::unique_ptr<Runtime> rt = load(a, &errors);
  if (!rt) {
    report_startup_errors(a.config, errors);
    return 1;
  }
  record_config_reload(MetricsRegistry::global(), true);
  std::mutex rt_mu;  // the admin thread reads health while SIGHUP may swap the runtime
  // The last health answer. A reload holds rt_mu while it stops the old pipelines and starts
  // the new ones, which can take a while; /healthz must not wait for it (a liveness probe would
  // time out), so meanwhile it answers from this snapshot, marked as reloading.
  std::mutex snapshot_mu;
  std::pair<bool, std::string> snapshot{true, "ok\n"};
  AdminServer admin;
  const AdminConfig& ac = rt->config().admin;
  if (ac.enabled && ac.port > 0) {
    // Bound before anything is consumed: a taken port must not start a pipeline first.
    auto r = admin.start(ac.listen, ac.port, [&]() {
      std::unique_lock<std::mutex> lock(rt_mu, std::try_to_lock);
      if (!lock.owns_lock()) {
        std::lock_guard<std::mutex> s(snapshot_mu);
        return std::make_pair(snapshot.first, snapshot.second + "reload in progress\n");
      }
      auto health = rt ? rt->health() : std::make_pair(false, std::string("restarting\n"));
      std::lock_guard<std::mutex> s(snapshot_mu);
      snapshot = health;
      return health;
    });
    if (!r) {
      std::fprintf(stderr, "strata: %s\n", r.error().c_str());
      return 1;
    }
    log::info("admin listener on http://" + ac.listen + ":" + std::to_string(admin.port()) +
              " (/metrics, /healthz)");
  }
  if (auto r = rt->start(); !r) {
    std::fprintf(stderr, "strata: %s\n", r.error().c_str());
    return 1;
  }
  log::info("strata running " + a.config);
  notify.ready(running_text(*rt));
  Progress progress(rt->config().progress_interval_ms);

  timespec tick{0, 200 * 1000 * 1000};
  for (;;) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      log::info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                ", stopping: finishing in-flight writes and committing" +
                deadline_text(shutdown_ms));
      break;
    }
    if (sig == SIGHUP) {
      log::info("received SIGHUP, re-reading " + a.config);
      notify.reloading("reloading " + a.config);
      std::string why;
      auto next = load(a, &why);
      if (!next) {
        // One complete line per diagnostic: log lines are single lines (a newline would be
        // escaped into a literal \n and glue every error into one).
        for (size_t begin = 0; begin < why.size();) {
          size_t end = why.find('\n', begin);
          if (end == std::string::npos) end = why.size();
          if (end > begin) log::error("reload rejected: " + why.substr(begin, end - begin));
          begin = end + 1;
        }
        log::error("reload rejected, the running configuration stays");
        notify.ready("reload rejected, the running configuration stays: " + why);
        record_config_reload(MetricsRegistry::global(), false);
        continue;
      }
      {
        // The snapshot /healthz answers from while the swap below holds rt_mu.
        auto health = rt->health();
        std::lock_guard<std::mutex> s(snapshot_mu);
        snapshot = std::move(health);
      }
      std::lock_guard<std::mutex> lock(rt_mu);
      auto previous = rt->shared_config();
      // A SIGTERM while a stuck hook holds this stop must still end the process (bounded).
      watchdog.watch();
      stop_runtime(*rt, watchdog);
      rt.reset();
      if (auto r = next->start(); !r) {
        log::error("reload failed to start (" + r.error() +
                   "); going back to the previous configuration");
        record_config_reload(MetricsRegistry::global(), false);
        next.reset();
        Diagnostics d;
        rt = Runtime::build(previous, Runtime::Mode::Run, d, a.modules_dir);
        std::string failure = d.str();
        if (rt) {
          if (auto again = rt->start(); !again)
            failure = again.error();
          else
            failure.clear();
        }
        if (!rt || !failure.empty()) {
          log::error("could not restart the previous configuration: " + failure);
          rt.reset();
          return 1;
        }
        notify.ready("reload failed to start (" + r.error() +
                     "), the previous configuration runs again");
        if (watchdog.stop_watching()) break;  // a SIGTERM/SIGINT came during the reload
        continue;
      }
      rt = std::move(next);
      record_config_reload(MetricsRegistry::global(), true);
      progress.set_interval(rt->config().progress_interval_ms);
      log::info("configuration reloaded");
      notify.ready(running_text(*rt));
      if (watchdog.stop_watching()) break;
      continue;
    }
    notify.tick();
    progress.tick(*rt);
    if (idle_ms > 0 && rt->idle(idle_ms)) {
      log::info("idle for " + a.exit_when_idle + ", stopping" + deadline_text(shutdown_ms));
      break;
    }
  }
  notify.stopping("stopping: finishing in-flight writes and committing");
  // From here a stuck stop ends in _exit(1) at the deadline or on a second SIGTERM/SIGINT.
  watchdog.arm();
  watchdog.set_stage("the admin listener (the pipelines stop after it)");
  admin.stop();
  stop_runtime(*rt, watchdog);
  watchdog.stop_watching();
  std::fputs(rt->summary().c_str(), stdout);
  return 0;
}

void add_run_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "run the pipelines and fronts until SIGTERM/SIGINT; SIGHUP re-reads the configuration");
  add_config_option(*cmd, *a);
  add_modules_dir_option(*cmd, *a);
  cmd->add_option("--exit-when-idle", a->exit_when_idle,
                  "exit once nothing arrived for DURATION (e.g. 2s)")
      ->type_name("DURATION");
  cmd->add_option("--shutdown-timeout", a->shutdown_timeout,
                  "a stop that takes longer (or a second SIGTERM/SIGINT) exits 1 at once, "
                  "committing nothing more; 0 = no limit")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->callback([a, &action] { action = [a] { return run(*a); }; });
}

}  // namespace strata::cli
