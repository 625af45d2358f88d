#include "cli/startup_errors.hpp"

#include <sys/stat.h>

#include <toml++/toml.h>
#include <cstdio>

#include "common/log.hpp"

namespace strata::cli {
namespace {

// The file's own log_format, if it is a readable TOML file that names a known one. Only a
// regular file of sane size is read again (parse_config refused the others already).
bool log_format_of(const std::string& path, log::Format* out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20))
    return false;
  try {
    toml::table doc = toml::parse_file(path);
    const std::string* format =
        doc["log_format"].as_string() ? &doc["log_format"].as_string()->get() : nullptr;
    return format != nullptr && log::parse_format(*format, out);
  } catch (const toml::parse_error&) {
    return false;
  }
}

}  // namespace

void report_startup_errors(const std::string& config_path, const std::string& errors) {
  log::Format format;
  if (!log_format_of(config_path, &format) || format != log::Format::Json) {
    std::fputs(errors.c_str(), stderr);
    return;
  }
  log::set_format(format);
  for (size_t begin = 0; begin < errors.size();) {
    size_t end = errors.find('\n', begin);
    if (end == std::string::npos) end = errors.size();
    if (end > begin) log::error(errors.substr(begin, end - begin));
    begin = end + 1;
  }
}

}  // namespace strata::cli
