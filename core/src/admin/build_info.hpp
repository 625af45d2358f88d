// What this binary is: the strata version, the git commit it was configured from, and the
// versions of the libraries it runs on (librdkafka and libmemcached as loaded at run time,
// hiredis and LuaJIT as compiled in). Served as the strata_build_info gauge on /metrics and as
// text on /version.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace strata {

class MetricsRegistry;

// {label, value} in a fixed order: version, commit, librdkafka, hiredis, libmemcached, luajit.
std::vector<std::pair<std::string, std::string>> build_info();
// `strata_build_info{version="0.1.0",commit="abc1234",...} 1` in `registry` (idempotent).
void register_build_info(MetricsRegistry& registry);
// One `key: value` line per field.
std::string build_info_text();

}  // namespace strata
