// Progress of a one-shot job (`strata replay`, `strata warm`, `strata dead-letters replay`).
// On a terminal (the stream is a tty and TERM is not "dumb") one line redrawn in place at most
// every 100 ms:
//   replay p  1,234,567 records  48.2k/s  lag 80,000  ETA 0:01:40  [#######.....]  62%
// Otherwise (a pipe, a file, journald) one log line every `log_interval_ms` (INFO, through
// strata::log, so log_format applies), e.g.
//   progress job=replay pipeline=p done=1234567 rate=48200.0 left=80000 eta_s=100
// and a last line from finish(). `left` is what the job still has to do in the job's own unit
// (records of lag for replay, keys left for warm when known); unknown: no ETA, no bar.
// Thread-compatible: one thread calls update()/finish().
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace strata::cli {

class ProgressBar {
 public:
  struct Options {
    std::string job;             // "replay" | "warm" | "dead-letters" (first word of each line)
    std::string subject;         // "pipeline=p" or "tiers=l1": shown after the job's name
    std::string unit = "records";  // what `done` counts
    int64_t log_interval_ms = 10'000;  // without a terminal; 0 = only the final line
    FILE* out = stderr;          // where the terminal line goes (a tty check is made on it)
    // Tests: force the terminal (true) or the log (false) rendering regardless of the stream.
    std::optional<bool> force_terminal;
  };

  explicit ProgressBar(Options o);
  ~ProgressBar();  // finish() if not yet called
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `done`: units finished so far (monotonic); `left`: units still to do, when known.
  void update(uint64_t done, std::optional<uint64_t> left);
  // The final line (terminal: the bar at its last state, then a newline; log: one INFO line
  // with `done`, the mean rate and the elapsed time, plus `outcome`).
  void finish(const std::string& outcome = "done");

  bool terminal() const { return terminal_; }
  // The text update() would draw now (no escape codes); for tests and the log line.
  std::string render_line() const;

 private:
  using Clock = std::chrono::steady_clock;
  void draw();
  void log_line(const char* kind, const std::string& tail);

  Options o_;
  bool terminal_ = false;
  bool finished_ = false;
  Clock::time_point start_;
  Clock::time_point last_draw_{};
  Clock::time_point last_log_{};
  uint64_t done_ = 0;
  std::optional<uint64_t> left_;
  // Rate over a sliding window (the last sample a second or more ago), so it follows changes.
  Clock::time_point rate_at_{};
  uint64_t rate_done_ = 0;
  double rate_ = 0.0;
};

}  // namespace strata::cli
