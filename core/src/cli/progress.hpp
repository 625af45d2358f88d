// `strata run`'s periodic progress lines (progress_interval, default 30 s, 0 = off): one INFO
// line per pipeline and per front, from counters the pipelines and the metrics registry already
// keep (nothing is added to the hot path; each line costs a few registry look-ups):
//   progress records_per_s=40.0 keys_per_s.l2=40.0 keys_per_s.l1=40.0 lag=12 dead_letters=0
//            hit_ratio.l1=0.93 hit_ratio.l2=- [pipeline=p]
//   progress front=fronts.mc commands_per_s=120.5 hit_ratio.l1=0.93 hit_ratio.l2=1.00
// Rates and dead letters are over the interval; lag is the latest value (pending: records may
// be unread, how many is not known; - unknown); a hit ratio is hits / (hits + misses) of the
// tier's GETs in the interval (- when it had none).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace strata {
class Runtime;
}

namespace strata::cli {

class Progress {
 public:
  explicit Progress(int64_t interval_ms) { set_interval(interval_ms); }
  // A reload may change the interval; the next line comes one new interval after the last.
  void set_interval(int64_t interval_ms) { interval_ms_ = interval_ms; }
  // Called from the run loop (every 200 ms or so): logs when an interval has passed.
  void tick(const Runtime& rt);

 private:
  using Clock = std::chrono::steady_clock;
  // How much a registry counter grew since the last line (its whole value the first time: the
  // registry outlives reloads, so a reload does not reset these).
  double delta(const std::string& name, const std::string& labels);
  std::string hit_ratio(const std::string& tier);  // "tiers.l1" -> "0.93" | "-"

  int64_t interval_ms_ = 0;
  bool started_ = false;
  Clock::time_point last_{};
  std::map<std::string, double> counters_;  // "name{labels}" -> value at the last line
};

}  // namespace strata::cli
