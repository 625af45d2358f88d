// Process-wide logger. Every line carries time, level, and (when known) the module instance
// and the pipeline: `2026-11-25T10:00:00.123Z WARN [tiers.l2 pipeline=latest] message`.
// Thread-safe; writes to stderr. Control characters in any part (but tab) are escaped ("\n" is
// written as `\n`, others as `\xHH`), so one event is always one line.
// Format::Json writes one object per line instead:
// `{"ts":"2026-11-25T10:00:00.123Z","level":"warn","instance":"tiers.l2","pipeline":"latest",
// "msg":"message"}` (instance and pipeline only when known; strings escaped as JSON requires).
// Under systemd (JOURNAL_STREAM set in the environment) text lines start with the journald
// priority instead of the time: `<4>WARN [tiers.l2 pipeline=latest] message` (sd-daemon(3)).
#pragma once

#include <strata/strata.h>

#include <string>
#include <string_view>

namespace strata::log {

void set_level(strata_log_level level);
strata_log_level level();
// Parses "debug" | "info" | "warn" | "error"; returns false if unknown.
bool parse_level(std::string_view text, strata_log_level* out);

enum class Format { Text, Json };
void set_format(Format format);
Format format();
// Parses "text" | "json"; returns false if unknown.
bool parse_format(std::string_view text, Format* out);

void write(strata_log_level level, std::string_view instance, std::string_view pipeline,
           std::string_view message);

inline void debug(std::string_view m) { write(STRATA_LOG_DEBUG, {}, {}, m); }
inline void info(std::string_view m) { write(STRATA_LOG_INFO, {}, {}, m); }
inline void warn(std::string_view m) { write(STRATA_LOG_WARN, {}, {}, m); }
inline void error(std::string_view m) { write(STRATA_LOG_ERROR, {}, {}, m); }

}  // namespace strata::log
