// SystemdNotifier over libsystemd's sd_notify (the datagram protocol of sd_notify(3): one
// newline-separated KEY=VALUE message per call to $NOTIFY_SOCKET).
#include "cli/notify.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include "common/log.hpp"

namespace strata::cli {
namespace {

int64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// A STATUS= value is one line: the first line of a multi-line reason.
std::string one_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 400 ? line.substr(0, 400) + "..." : line;
}

}  // namespace

SystemdNotifier::SystemdNotifier() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0) {
    watchdog_usec_ = static_cast<int64_t>(usec);
    log::info("systemd watchdog every " + std::to_string(watchdog_usec_ / 1000) +
              " ms: keep-alives every half of it");
  }
}

void SystemdNotifier::send(const std::string& message) {
  // A failed notification is worth one log line, never a failed run: outside systemd the
  // call returns 0 and does nothing.
  int r = sd_notify(/*unset_environment=*/0, message.c_str());
  if (r < 0) log::warn("sd_notify failed (" + std::to_string(-r) + "): " + one_line(message));
}

void SystemdNotifier::ready(const std::string& status) {
  send("READY=1\nSTATUS=" + one_line(status));
}

void SystemdNotifier::reloading(const std::string& status) {
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) +
       "\nSTATUS=" + one_line(status));
}

void SystemdNotifier::stopping(const std::string& status) {
  send("STOPPING=1\nSTATUS=" + one_line(status));
}

void SystemdNotifier::status(const std::string& status) { send("STATUS=" + one_line(status)); }

void SystemdNotifier::tick() {
  if (watchdog_usec_ <= 0) return;
  int64_t now = monotonic_usec();
  if (now - last_ping_usec_ < watchdog_usec_ / 2) return;
  last_ping_usec_ = now;
  send("WATCHDOG=1");
}

}  // namespace strata::cli
