#include "common/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace strata::log {
namespace {
std::atomic<int> g_level{STRATA_LOG_INFO};
std::mutex g_mu;
const char* name(strata_log_level l) {
  switch (l) {
    case STRATA_LOG_DEBUG: return "DEBUG";
    case STRATA_LOG_INFO: return "INFO";
    case STRATA_LOG_WARN: return "WARN";
    case STRATA_LOG_ERROR: return "ERROR";
  }
  return "?";
}
}  // namespace

void set_level(strata_log_level l) { g_level.store(l); }
strata_log_level level() { return static_cast<strata_log_level>(g_level.load()); }

bool parse_level(std::string_view t, strata_log_level* out) {
  if (t == "debug") *out = STRATA_LOG_DEBUG;
  else if (t == "info") *out = STRATA_LOG_INFO;
  else if (t == "warn") *out = STRATA_LOG_WARN;
  else if (t == "error") *out = STRATA_LOG_ERROR;
  else return false;
  return true;
}

void write(strata_log_level l, std::string_view instance, std::string_view pipeline,
           std::string_view message) {
  if (l < g_level.load(std::memory_order_relaxed)) return;
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string ctx;
  if (!instance.empty() || !pipeline.empty()) {
    ctx = " [";
    ctx.append(instance);
    if (!pipeline.empty()) {
      if (!instance.empty()) ctx += ' ';
      ctx += "pipeline=";
      ctx.append(pipeline);
    }
    ctx += ']';
  }
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%s.%03dZ %-5s%s %.*s\n", ts, static_cast<int>(ms % 1000), name(l),
               ctx.c_str(), static_cast<int>(message.size()), message.data());
}

}  // namespace strata::log
