// The whole machine's CPU time from /proc/stat (every process: strata, the servers, the load
// generator), for benchmarks that print the share left idle and the CPU one operation costs.
// When no core is idle a rate is CPU over CPU per operation, so two rates cannot differ by more
// than their CPU per operation does: that is the bound the benchmarks print next to a ratio.
#pragma once

#include <unistd.h>

#include <fstream>
#include <string>

namespace strata::bench {

struct MachineCpu {
  unsigned long long total = 0, idle = 0;  // clock ticks since boot, all cores

  static MachineCpu now() {
    MachineCpu m;
    std::ifstream in("/proc/stat");
    std::string cpu;
    unsigned long long v[8] = {};
    in >> cpu;
    for (auto& x : v) in >> x;  // user nice system idle iowait irq softirq steal
    for (auto x : v) m.total += x;
    m.idle = v[3] + v[4];
    return m;
  }
};

// The CPU spent between two readings, summed over any number of intervals.
struct CpuSpent {
  double ticks = 0, idle_ticks = 0;
  void add(const MachineCpu& from, const MachineCpu& to) {
    ticks += static_cast<double>(to.total - from.total);
    idle_ticks += static_cast<double>(to.idle - from.idle);
  }
  double idle_share() const { return ticks > 0 ? idle_ticks / ticks : 0; }
  double busy_seconds() const {
    return (ticks - idle_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  // Busy CPU per operation, µs (0 when nothing was done).
  double us_per(double operations) const {
    return operations > 0 ? 1e6 * busy_seconds() / operations : 0;
  }
};

}  // namespace strata::bench
