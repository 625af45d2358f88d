// Encoding of dead-letter lines (see dead_letter_json.hpp).
#include "deadletter/dead_letter_json.hpp"

#include <algorithm>
#include <cstdint>

namespace strata {
namespace {

void append_bytes_or_null(std::string& out, const strata_bytes& b) {
  if (b.data == nullptr) {
    out += "null";
    return;
  }
  out += '"';
  out += base64_encode(std::string_view(b.data, b.len));
  out += '"';
}

// At most `max` bytes of `text`, never cutting a UTF-8 sequence in two (append_json_string
// would turn the cut bytes into U+FFFD, which is harmless but noisy).
std::string_view prefix(std::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;
  return text.substr(0, n);
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string dead_letter_json(const strata_record& rec, std::string_view pipeline,
                             std::string_view reason) {
  std::string out;
  out.reserve(160 + (rec.key.len + rec.value.len) * 4 / 3);
  out += "{\"pipeline\":";
  append_json_string(out, pipeline);
  out += ",\"topic\":";
  if (rec.topic)
    append_json_string(out, rec.topic);
  else
    out += "null";
  out += ",\"partition\":";
  out += std::to_string(rec.partition);
  out += ",\"offset\":";
  out += std::to_string(rec.offset);
  out += ",\"timestamp\":";
  out += rec.timestamp_ms < 0 ? std::string("null") : std::to_string(rec.timestamp_ms);
  out += ",\"reason\":";
  append_json_string(out, reason);
  out += ",\"key_b64\":";
  append_bytes_or_null(out, rec.key);
  out += ",\"value_b64\":";
  append_bytes_or_null(out, rec.value);
  out += ",\"headers\":[";
  for (size_t h = 0; h < rec.header_count && rec.headers; ++h) {
    const strata_header& hd = rec.headers[h];
    if (h) out += ',';
    out += "{\"key\":";
    append_json_string(out, hd.key.data ? std::string_view(hd.key.data, hd.key.len) : "");
    out += ",\"value_b64\":";
    append_bytes_or_null(out, hd.value);
    out += '}';
  }
  out += "]}";
  return out;
}

DeadLetterCoordinates DeadLetterCoordinates::of(const strata_record& rec, std::string_view pipeline,
                                                std::string_view reason) {
  DeadLetterCoordinates c;
  c.pipeline = prefix(pipeline, kTextMax);
  c.has_topic = rec.topic != nullptr;
  if (rec.topic) c.topic = prefix(rec.topic, kTextMax);
  c.partition = rec.partition;
  c.offset = rec.offset;
  c.timestamp_ms = rec.timestamp_ms;
  c.reason = prefix(reason, kTextMax);
  c.has_key = rec.key.data != nullptr;
  if (c.has_key) c.key_prefix.assign(rec.key.data, std::min<size_t>(rec.key.len, kKeyPrefix));
  c.key_bytes = rec.key.data ? rec.key.len : 0;
  c.payload_bytes = rec.value.data ? rec.value.len : 0;
  c.header_count = rec.headers ? rec.header_count : 0;
  return c;
}

std::string DeadLetterCoordinates::where() const {
  return (has_topic ? topic : std::string("?")) + "/" + std::to_string(partition) + "@" +
         std::to_string(offset);
}

std::string dead_letter_coordinates_json(const DeadLetterCoordinates& c, std::string_view why) {
  std::string out;
  out.reserve(320 + c.reason.size());
  out += "{\"pipeline\":";
  append_json_string(out, c.pipeline);
  out += ",\"topic\":";
  if (c.has_topic)
    append_json_string(out, c.topic);
  else
    out += "null";
  out += ",\"partition\":";
  out += std::to_string(c.partition);
  out += ",\"offset\":";
  out += std::to_string(c.offset);
  out += ",\"timestamp\":";
  out += c.timestamp_ms < 0 ? std::string("null") : std::to_string(c.timestamp_ms);
  out += ",\"reason\":";
  append_json_string(out, c.reason);
  out += ",\"key_prefix_b64\":";
  if (c.has_key) {
    out += '"';
    out += base64_encode(c.key_prefix);
    out += '"';
  } else {
    out += "null";
  }
  out += ",\"key_bytes\":";
  out += std::to_string(c.key_bytes);
  out += ",\"payload_bytes\":";
  out += std::to_string(c.payload_bytes);
  out += ",\"header_count\":";
  out += std::to_string(c.header_count);
  out += ",\"payload_dropped\":true,\"dropped_because\":";
  append_json_string(out, prefix(why, DeadLetterCoordinates::kTextMax));
  out += '}';
  return out;
}

}  // namespace strata
