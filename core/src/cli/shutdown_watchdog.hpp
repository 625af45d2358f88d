// Bounds how long `strata run` takes to stop. A stop waits for every pipeline to finish its
// batch, and a hook stuck in one long C call (or an unbudgeted endless loop) never returns:
// without a bound, only kill -9 ends the process. The watchdog runs on its own thread from the
// moment a stop begins (or while a reload stops the old pipelines) and, past the deadline or on
// a second SIGTERM/SIGINT, logs what is still running and _exit(1)s: no destructor runs, so
// nothing that was not made durable is committed (it is read again after a restart).
// Only run.cpp uses it; exiting from here is the CLI's decision, never library code's.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace strata::cli {

class ShutdownWatchdog {
 public:
  // timeout_ms 0: no deadline (a second signal still forces the exit).
  explicit ShutdownWatchdog(int64_t timeout_ms) : timeout_ms_(timeout_ms) {}
  ~ShutdownWatchdog() { stop_watching(); }
  ShutdownWatchdog(const ShutdownWatchdog&) = delete;
  ShutdownWatchdog& operator=(const ShutdownWatchdog&) = delete;

  // A stop begins: the deadline runs from now (unless a signal already started it) and a
  // further SIGTERM/SIGINT forces the exit. The caller must not wait for signals itself.
  void arm();
  // A reload is stopping the old pipelines: the thread takes SIGTERM/SIGINT meanwhile (the main
  // thread is busy); the first arms the deadline, a second forces the exit.
  void watch();
  // Ends watch(). True if a signal arrived meanwhile: the caller must stop (the deadline runs).
  bool stop_watching();
  // What the stop is waiting for, named in the ERROR line ("pipeline p", ...).
  void set_stage(std::string what);

 private:
  void start_thread();
  void loop();
  void start_deadline();
  [[noreturn]] void give_up(const std::string& why);

  const int64_t timeout_ms_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::atomic<bool> armed_{false};
  std::atomic<bool> signalled_{false};
  std::atomic<int64_t> deadline_ms_{0};  // monotonic; valid once armed_
  std::mutex stage_mu_;
  std::string stage_ = "the pipelines";
};

}  // namespace strata::cli
