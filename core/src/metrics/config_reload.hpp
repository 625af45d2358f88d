// strata_config_last_reload_successful (1 when the last load or SIGHUP reload of the
// configuration took effect, 0 when it was rejected or failed to start) and
// strata_config_last_reload_success_timestamp_seconds (Unix time of the last one that took
// effect, the initial load included), as Prometheus itself exports for its own reloads.
#pragma once

namespace strata {

class MetricsRegistry;

void record_config_reload(MetricsRegistry& registry, bool success);

}  // namespace strata
