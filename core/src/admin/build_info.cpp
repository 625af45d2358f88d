#include "admin/build_info.hpp"

#include <hiredis/hiredis.h>
#include <libmemcached/memcached.h>
#include <librdkafka/rdkafka.h>
#include <luajit.h>

#include "metrics/metrics.hpp"

#ifndef STRATA_VERSION
#define STRATA_VERSION "unknown"
#endif
#ifndef STRATA_GIT_COMMIT
#define STRATA_GIT_COMMIT "unknown"
#endif

namespace strata {
namespace {

#define STRATA_STR2(x) #x
#define STRATA_STR(x) STRATA_STR2(x)

std::string luajit_version() {
  std::string v = LUAJIT_VERSION;  // "LuaJIT 2.1.0-beta3"
  const std::string prefix = "LuaJIT ";
  return v.rfind(prefix, 0) == 0 ? v.substr(prefix.size()) : v;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> build_info() {
  const char* mc = memcached_lib_version();
  return {
      {"version", STRATA_VERSION},
      {"commit", STRATA_GIT_COMMIT},
      {"librdkafka", rd_kafka_version_str()},
      {"hiredis",
       STRATA_STR(HIREDIS_MAJOR) "." STRATA_STR(HIREDIS_MINOR) "." STRATA_STR(HIREDIS_PATCH)},
      {"libmemcached", mc ? mc : "unknown"},
      {"luajit", luajit_version()},
  };
}

void register_build_info(MetricsRegistry& registry) {
  std::string labels;
  for (const auto& [k, v] : build_info()) {
    if (!labels.empty()) labels += ",";
    labels += k + "=\"" + escape_label_value(v) + "\"";
  }
  registry
      .gauge("strata_build_info",
             "Always 1; the labels say which strata (version, git commit) and which library "
             "versions this process runs.",
             labels)
      ->set(1);
}

std::string build_info_text() {
  std::string out;
  for (const auto& [k, v] : build_info()) out += k + ": " + v + "\n";
  return out;
}

}  // namespace strata
