#include "cli/shutdown_watchdog.hpp"

#include <signal.h>
#include <unistd.h>

#include <utility>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "config/config.hpp"

namespace strata::cli {

void ShutdownWatchdog::arm() {
  start_deadline();
  start_thread();
}

void ShutdownWatchdog::watch() { start_thread(); }

bool ShutdownWatchdog::stop_watching() {
  if (thread_.joinable()) {
    done_ = true;
    thread_.join();
    done_ = false;
  }
  return signalled_.load();
}

void ShutdownWatchdog::set_stage(std::string what) {
  std::lock_guard<std::mutex> lock(stage_mu_);
  stage_ = std::move(what);
}

void ShutdownWatchdog::start_thread() {
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void ShutdownWatchdog::start_deadline() {
  if (armed_.exchange(true)) return;  // the first signal's deadline stays
  deadline_ms_ = clock::mono_ms() + timeout_ms_;
}

void ShutdownWatchdog::loop() {
  // Every thread has these blocked (run() blocks them before any thread starts), so a pending
  // one is taken here while the main thread is busy stopping.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  while (!done_) {
    timespec tick{0, 100 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
      if (armed_) give_up(std::string("received a second ") + name);
      signalled_ = true;
      start_deadline();
      log::info(std::string("received ") + name +
                " during a reload, stopping once the old pipelines have stopped");
    }
    if (armed_ && timeout_ms_ > 0 && clock::mono_ms() >= deadline_ms_.load())
      give_up("the stop did not finish within --shutdown-timeout " +
              format_duration_ms(timeout_ms_));
  }
}

void ShutdownWatchdog::give_up(const std::string& why) {
  std::string stage;
  {
    std::lock_guard<std::mutex> lock(stage_mu_);
    stage = stage_;
  }
  log::error(why + "; still running: " + stage +
             "; exiting now without committing: records not yet committed will be read again "
             "after a restart");
  ::_exit(1);
}

}  // namespace strata::cli
