#include "metrics/config_reload.hpp"

#include <chrono>

#include "metrics/metrics.hpp"

namespace strata {

void record_config_reload(MetricsRegistry& r, bool success) {
  Series* ok = r.gauge("strata_config_last_reload_successful",
                       "1 when the last configuration load or reload took effect, 0 when it was "
                       "rejected or failed to start.");
  Series* at = r.gauge("strata_config_last_reload_success_timestamp_seconds",
                       "Unix time of the last configuration load or reload that took effect.");
  if (success) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    at->set(std::chrono::duration<double>(now).count());
  }
  ok->set(success ? 1 : 0);
}

}  // namespace strata
