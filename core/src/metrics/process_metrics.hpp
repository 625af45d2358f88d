// The process_* series of the Prometheus client conventions, read from /proc at scrape time:
// process_cpu_seconds_total (user + system), process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and
// process_start_time_seconds (Unix time). The admin listener calls this before each /metrics
// render. On a system without /proc the series stay absent.
#pragma once

namespace strata {

class MetricsRegistry;

void update_process_metrics(MetricsRegistry& registry);

}  // namespace strata
