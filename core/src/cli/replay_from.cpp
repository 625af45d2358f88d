#include "cli/replay_from.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace strata::cli {
namespace {

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool offsets_list(const std::string& s) {
  bool colon = false;
  for (char c : s) {
    if (c == ':') colon = true;
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != ':' && c != ',') return false;
  }
  return colon;
}

// RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); 't' and ' ' accepted for 'T'.
bool rfc3339_ms(const std::string& s, long long* out) {
  int y, mo, d, h, mi, sec, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) !=
          6 ||
      n != 19)
    return false;
  size_t i = 19;
  long long ms = 0;
  if (i < s.size() && s[i] == '.') {
    size_t digits = 0;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits)
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
    if (digits == 0) return false;
    for (; digits < 3; ++digits) ms *= 10;
  }
  long long offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
      return false;
    offset_s = (s[i] == '+' ? 1 : -1) * (oh * 3600LL + om * 60LL);
    i += 6;
  } else {
    return false;  // RFC 3339 requires the offset
  }
  if (i != s.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  long long t = static_cast<long long>(timegm(&tm));
  if (tm.tm_mday != d) return false;  // 2026-02-31 normalised to March
  t -= offset_s;
  if (t < 0) return false;
  *out = t * 1000 + ms;
  return true;
}

}  // namespace

bool parse_replay_from(const std::string& text, std::string* spec, std::string* why) {
  if (text == "earliest") {
    *spec = "earliest";
    return true;
  }
  if (all_digits(text)) {
    *spec = "timestamp:" + text;
    return true;
  }
  long long ms = 0;
  if (rfc3339_ms(text, &ms)) {
    *spec = "timestamp:" + std::to_string(ms);
    return true;
  }
  if (offsets_list(text)) {
    *spec = "offsets:" + text;  // the source checks each PARTITION:OFFSET
    return true;
  }
  *why = "'" + text +
         "' is none of: earliest, a timestamp (RFC 3339 like 2026-12-02T05:00:00Z, or epoch "
         "milliseconds), PARTITION:OFFSET[,PARTITION:OFFSET...]";
  return false;
}

}  // namespace strata::cli
