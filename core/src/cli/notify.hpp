// Tells systemd (Type=notify) what `strata run` is doing: READY=1 once the pipelines and fronts
// run, RELOADING=1 while a SIGHUP re-reads the configuration, STOPPING=1 on a stop, STATUS=
// lines for `systemctl status`, and WATCHDOG=1 keep-alives when the unit sets WatchdogSec.
// Outside systemd ($NOTIFY_SOCKET unset) every call does nothing. Only run.cpp uses it.
#pragma once

#include <cstdint>
#include <string>

namespace strata::cli {

class SystemdNotifier {
 public:
  // Reads $WATCHDOG_USEC / $WATCHDOG_PID (sd_watchdog_enabled) once.
  SystemdNotifier();

  void ready(const std::string& status);
  // RELOADING=1 with MONOTONIC_USEC=now, as systemd's reload protocol asks.
  void reloading(const std::string& status);
  void stopping(const std::string& status);
  void status(const std::string& status);
  // Called from the run loop's tick: sends WATCHDOG=1 every half watchdog interval. The
  // keep-alive comes from the thread that takes signals and reloads, so a reload stuck on a
  // hook that never returns stops it and systemd restarts the process (WatchdogSec).
  void tick();

  int64_t watchdog_usec() const { return watchdog_usec_; }

 private:
  void send(const std::string& message);

  int64_t watchdog_usec_ = 0;  // 0: no watchdog
  int64_t last_ping_usec_ = 0;
};

}  // namespace strata::cli
