// Reading strata's dead-letter lines back (the format core/src/deadletter/dead_letter_json.hpp
// writes): one JSON object per line with the record's coordinates and its key, value and
// headers in base64. Used by the dead_letter_file source; kept apart so it is tested alone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::dlq {

struct Header {
  std::string key;
  std::string value;
  bool value_null = false;
};

// One record as a dead-letter line stored it.
struct Letter {
  std::string pipeline;
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // -1: the line said null
  std::string reason;
  std::string key, value;
  bool key_null = false, value_null = false;
  std::vector<Header> headers;
  // A coordinates-only line ("payload_dropped": true): the payload is only in Kafka now.
  bool payload_dropped = false;
  size_t line = 0;  // 1-based line number in its file
};

// Parses one line. false and `why` (no position: the caller adds FILE:LINE) when it is not a
// dead-letter line: not JSON, not an object, a missing or mistyped field, bad base64.
bool parse_letter(std::string_view line, Letter* out, std::string* why);

// RFC 4648 base64 with padding (what the writer produces); false on any other byte.
bool base64_decode(std::string_view in, std::string* out);

}  // namespace strata::dlq
