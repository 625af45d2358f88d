// Duration and size syntax shared by option validation, defaults and describe: the text forms
// users write ("250ms", "1h30m", "64KiB", "1MB") and the compact forms messages print.
#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>

#include "config/config.hpp"

namespace strata {
namespace {

struct Unit {
  const char* name;
  double factor;
};

// Longest names first so "ms" is not read as "m" followed by garbage.
constexpr Unit kDurationUnits[] = {
    {"ms", 1.0}, {"s", 1000.0}, {"m", 60000.0}, {"h", 3600000.0}, {"d", 86400000.0}};
constexpr Unit kSizeUnits[] = {
    {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
    {"KB", 1e3},     {"MB", 1e6},        {"GB", 1e9},           {"TB", 1e12},
    {"B", 1.0}};

// Reads an unsigned decimal number ("12", "1.5") at text[*i]; false if none.
bool read_number(const std::string& text, size_t* i, double* out) {
  size_t start = *i;
  bool digits = false, dot = false;
  while (*i < text.size()) {
    char c = text[*i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
    ++*i;
  }
  if (!digits) return false;
  *out = std::stod(text.substr(start, *i - start));
  return true;
}

bool equal_nocase(const std::string& a, const char* b) {
  size_t n = std::char_traits<char>::length(b);
  if (a.size() != n) return false;
  for (size_t k = 0; k < n; ++k)
    if (std::tolower(static_cast<unsigned char>(a[k])) !=
        std::tolower(static_cast<unsigned char>(b[k])))
      return false;
  return true;
}

// Whole units only: the result must be an exact, non-negative int64.
bool to_int64(double v, int64_t* out) {
  if (!(v >= 0) || v > 9.2e18 || v != std::floor(v)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

}  // namespace

// A bare number is milliseconds; otherwise one or more NUMBER UNIT pairs ("1h30m").
bool parse_duration_ms(const std::string& raw, int64_t* out) {
  std::string text = trim(raw);
  size_t i = 0;
  double total = 0;
  double n = 0;
  if (!read_number(text, &i, &n)) return false;
  if (i == text.size()) return to_int64(n, out);
  for (;;) {
    size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(u, i - u);
    const Unit* found = nullptr;
    for (const Unit& cand : kDurationUnits)
      if (unit == cand.name) found = &cand;
    if (!found) return false;
    total += n * found->factor;
    if (i == text.size()) break;
    if (!read_number(text, &i, &n)) return false;
  }
  return to_int64(total, out);
}

// A bare number is bytes; units are binary (KiB = 1024) or decimal (KB = 1000), case-blind.
bool parse_size_bytes(const std::string& raw, int64_t* out) {
  std::string text = trim(raw);
  size_t i = 0;
  double n = 0;
  if (!read_number(text, &i, &n)) return false;
  std::string unit = trim(text.substr(i));
  if (unit.empty()) return to_int64(n, out);
  for (const Unit& cand : kSizeUnits)
    if (equal_nocase(unit, cand.name)) return to_int64(n * cand.factor, out);
  return false;
}

std::string format_duration_ms(int64_t ms) {
  if (ms == 0) return "0ms";
  std::string sign = ms < 0 ? "-" : "";
  uint64_t v = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  for (int k = 4; k >= 1; --k) {
    auto f = static_cast<uint64_t>(kDurationUnits[k].factor);
    if (v % f == 0) return sign + std::to_string(v / f) + kDurationUnits[k].name;
  }
  return sign + std::to_string(v) + "ms";
}

std::string format_size_bytes(int64_t bytes) {
  if (bytes <= 0) return std::to_string(bytes) + "B";
  auto v = static_cast<uint64_t>(bytes);
  for (int k = 3; k >= 0; --k) {  // binary first: sizes are usually powers of two
    auto f = static_cast<uint64_t>(kSizeUnits[k].factor);
    if (v % f == 0) return std::to_string(v / f) + kSizeUnits[k].name;
  }
  for (int k = 7; k >= 4; --k) {
    auto f = static_cast<uint64_t>(kSizeUnits[k].factor);
    if (v % f == 0) return std::to_string(v / f) + kSizeUnits[k].name;
  }
  return std::to_string(v) + "B";
}

}  // namespace strata
