#include "metrics/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <exception>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/metrics.hpp"

namespace strata {
namespace {

std::string slurp(const char* path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Fields of /proc/self/stat after the command name, which is in parentheses and may itself
// contain spaces or parentheses: fields[0] is field 3 (state) of proc(5).
std::vector<std::string> stat_fields() {
  std::string s = slurp("/proc/self/stat");
  size_t close = s.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream in(s.substr(close + 1));
  std::vector<std::string> out;
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

// Seconds since the epoch at boot (the "btime" line of /proc/stat), or -1.
double boot_time() {
  std::istringstream in(slurp("/proc/stat"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  return -1;
}

int count_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // opendir's own descriptor
}

}  // namespace

void update_process_metrics(MetricsRegistry& r) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::vector<std::string> f = stat_fields();
  // proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24 (pages); fields[0] is 3.
  if (f.size() > 21 && ticks > 0) {
    try {
      double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      r.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
          ->set(cpu);
      double bt = boot_time();
      if (bt >= 0)
        r.gauge("process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.")
            ->set(bt + std::stod(f[19]) / ticks);
      r.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
          ->set(std::stod(f[20]));
      r.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
          ->set(std::stod(f[21]) * page);
    } catch (const std::exception&) {
      // An unreadable /proc line: leave the series as they were.
    }
  }
  int fds = count_fds();
  if (fds >= 0) r.gauge("process_open_fds", "Number of open file descriptors.")->set(fds);
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    r.gauge("process_max_fds", "Maximum number of open file descriptors.")
        ->set(static_cast<double>(lim.rlim_cur));
}

}  // namespace strata
