#include "common/log.hpp"

#include "common/json_string.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace strata::log {
namespace {
std::atomic<int> g_level{STRATA_LOG_INFO};
std::atomic<int> g_format{static_cast<int>(Format::Text)};
std::mutex g_mu;
const char* name(strata_log_level l) {
  switch (l) {
    case STRATA_LOG_DEBUG:
      return "DEBUG";
    case STRATA_LOG_INFO:
      return "INFO";
    case STRATA_LOG_WARN:
      return "WARN";
    case STRATA_LOG_ERROR:
      return "ERROR";
  }
  return "?";
}

// One event is one line: a newline or other control character in a message (a script's
// strata.log text, an error that quotes a record) would let it forge lines, or drive a terminal.
// Tab is kept (print() separates with it, and it cannot start a line).
bool needs_escape(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

std::string_view escaped(std::string_view text, std::string& storage) {
  size_t i = 0;
  while (i < text.size() && !needs_escape(static_cast<unsigned char>(text[i]))) ++i;
  if (i == text.size()) return text;  // the common case: nothing to copy
  storage.assign(text.substr(0, i));
  for (; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (!needs_escape(c)) {
      storage += static_cast<char>(c);
    } else if (c == '\n') {
      storage += "\\n";
    } else if (c == '\r') {
      storage += "\\r";
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      storage += hex;
    }
  }
  return storage;
}

// journald's priorities (syslog's): err, warning, info, debug.
int journal_priority(strata_log_level l) {
  switch (l) {
    case STRATA_LOG_DEBUG:
      return 7;
    case STRATA_LOG_INFO:
      return 6;
    case STRATA_LOG_WARN:
      return 4;
    case STRATA_LOG_ERROR:
      return 3;
  }
  return 6;
}

// systemd sets JOURNAL_STREAM when stdout/stderr go to the journal (systemd.exec(5)).
bool under_journald() {
  static const bool yes = [] {
    const char* v = std::getenv("JOURNAL_STREAM");
    return v != nullptr && *v != '\0';
  }();
  return yes;
}

const char* lower_name(strata_log_level l) {
  switch (l) {
    case STRATA_LOG_DEBUG:
      return "debug";
    case STRATA_LOG_INFO:
      return "info";
    case STRATA_LOG_WARN:
      return "warn";
    case STRATA_LOG_ERROR:
      return "error";
  }
  return "?";
}
}  // namespace

void set_level(strata_log_level l) { g_level.store(l); }
strata_log_level level() { return static_cast<strata_log_level>(g_level.load()); }

void set_format(Format f) { g_format.store(static_cast<int>(f)); }
Format format() { return static_cast<Format>(g_format.load()); }

bool parse_format(std::string_view t, Format* out) {
  if (t == "text")
    *out = Format::Text;
  else if (t == "json")
    *out = Format::Json;
  else
    return false;
  return true;
}

bool parse_level(std::string_view t, strata_log_level* out) {
  if (t == "debug")
    *out = STRATA_LOG_DEBUG;
  else if (t == "info")
    *out = STRATA_LOG_INFO;
  else if (t == "warn")
    *out = STRATA_LOG_WARN;
  else if (t == "error")
    *out = STRATA_LOG_ERROR;
  else
    return false;
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
  if (g_format.load(std::memory_order_relaxed) == static_cast<int>(Format::Json)) {
    char stamp[48];
    std::snprintf(stamp, sizeof stamp, "%s.%03dZ", ts, static_cast<int>(ms % 1000));
    std::string line = "{\"ts\":\"";
    line += stamp;
    line += "\",\"level\":\"";
    line += lower_name(l);
    line += '"';
    if (!instance.empty()) {
      line += ",\"instance\":";
      append_json_string(line, instance);
    }
    if (!pipeline.empty()) {
      line += ",\"pipeline\":";
      append_json_string(line, pipeline);
    }
    line += ",\"msg\":";
    append_json_string(line, message);
    line += "}\n";
    std::lock_guard<std::mutex> lock(g_mu);
    std::fwrite(line.data(), 1, line.size(), stderr);
    return;
  }
  std::string instance_buf, pipeline_buf, message_buf;
  instance = escaped(instance, instance_buf);
  pipeline = escaped(pipeline, pipeline_buf);
  message = escaped(message, message_buf);
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
  if (under_journald()) {
    // journald stamps each line itself; the priority lets it (and journalctl -p) filter.
    std::fprintf(stderr, "<%d>%-5s%s %.*s\n", journal_priority(l), name(l), ctx.c_str(),
                 static_cast<int>(message.size()), message.data());
    return;
  }
  std::fprintf(stderr, "%s.%03dZ %-5s%s %.*s\n", ts, static_cast<int>(ms % 1000), name(l),
               ctx.c_str(), static_cast<int>(message.size()), message.data());
}

}  // namespace strata::log
