// Parsing of dead-letter lines (see dead_letter_lines.hpp).
#include "dead_letter_lines.hpp"

#include <nlohmann/json.hpp>

#include <limits>

namespace strata::dlq {
namespace {

using json = nlohmann::json;

int sextet(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// A field that holds base64 text or null. false: neither (or bad base64).
bool bytes_field(const json& obj, const char* name, std::string* out, bool* is_null,
                 std::string* why) {
  auto it = obj.find(name);
  if (it == obj.end()) {
    *why = std::string("no \"") + name + "\"";
    return false;
  }
  if (it->is_null()) {
    *is_null = true;
    out->clear();
    return true;
  }
  *is_null = false;
  if (!it->is_string() || !base64_decode(it->get_ref<const std::string&>(), out)) {
    *why = std::string("\"") + name + "\" is not base64 text or null";
    return false;
  }
  return true;
}

bool integer_field(const json& obj, const char* name, int64_t lo, int64_t hi, int64_t* out,
                   std::string* why) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number_integer()) {
    *why = std::string("\"") + name + "\" is missing or not an integer";
    return false;
  }
  // Unsigned values above INT64_MAX cannot be offsets either.
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(hi)) {
    *why = std::string("\"") + name + "\" is out of range";
    return false;
  }
  int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) {
    *why = std::string("\"") + name + "\" is out of range";
    return false;
  }
  *out = v;
  return true;
}

bool text_field(const json& obj, const char* name, bool required, std::string* out,
                std::string* why) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (!required) return true;
    *why = std::string("no \"") + name + "\"";
    return false;
  }
  if (!it->is_string()) {
    *why = std::string("\"") + name + "\" is not a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool headers_field(const json& obj, std::vector<Header>* out, std::string* why) {
  auto it = obj.find("headers");
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_array()) {
    *why = "\"headers\" is not an array";
    return false;
  }
  for (const json& h : *it) {
    Header hd;
    if (!h.is_object() || !text_field(h, "key", true, &hd.key, why) ||
        !bytes_field(h, "value_b64", &hd.value, &hd.value_null, why)) {
      *why = "a header: " + (why->empty() ? std::string("not an object") : *why);
      return false;
    }
    out->push_back(std::move(hd));
  }
  return true;
}

}  // namespace

bool base64_decode(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 != 0) return false;
  out->reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int a = sextet(in[i]), b = sextet(in[i + 1]);
    int c = in[i + 2] == '=' && last && in[i + 3] == '=' ? -2 : sextet(in[i + 2]);
    int d = in[i + 3] == '=' && last ? -2 : sextet(in[i + 3]);
    if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2)) return false;
    uint32_t n = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c < 0 ? 0 : c) << 6) |
                 uint32_t(d < 0 ? 0 : d);
    out->push_back(static_cast<char>(n >> 16));
    if (c >= 0) out->push_back(static_cast<char>((n >> 8) & 0xff));
    if (d >= 0) out->push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

bool parse_letter(std::string_view line, Letter* out, std::string* why) {
  json obj = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) {
    *why = "not JSON";
    return false;
  }
  if (!obj.is_object()) {
    *why = "not a JSON object";
    return false;
  }
  Letter l;
  int64_t partition = 0;
  if (!text_field(obj, "pipeline", false, &l.pipeline, why) ||
      !text_field(obj, "topic", false, &l.topic, why) ||
      !integer_field(obj, "partition", 0, std::numeric_limits<int32_t>::max(), &partition, why) ||
      !integer_field(obj, "offset", 0, std::numeric_limits<int64_t>::max(), &l.offset, why) ||
      !text_field(obj, "reason", false, &l.reason, why))
    return false;
  l.partition = static_cast<int32_t>(partition);
  if (auto ts = obj.find("timestamp"); ts != obj.end() && !ts->is_null()) {
    if (!integer_field(obj, "timestamp", 0, std::numeric_limits<int64_t>::max(), &l.timestamp_ms,
                       why))
      return false;
  }
  if (auto pd = obj.find("payload_dropped"); pd != obj.end() && pd->is_boolean() && pd->get<bool>()) {
    l.payload_dropped = true;  // a coordinates-only line: nothing to replay from here
    *out = std::move(l);
    return true;
  }
  if (!bytes_field(obj, "key_b64", &l.key, &l.key_null, why) ||
      !bytes_field(obj, "value_b64", &l.value, &l.value_null, why) ||
      !headers_field(obj, &l.headers, why))
    return false;
  *out = std::move(l);
  return true;
}

}  // namespace strata::dlq
