#include "common/key_template.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>

namespace strata {
namespace json_path {
namespace {

constexpr size_t kMaxDepth = 64;  // deeper documents are refused, as the Lua decoder does

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct Span {
  enum Type { None, String, Number, True, False, Null, Object, Array } type = None;
  const char* begin = nullptr;  // String: after the opening quote; else the first byte
  const char* end = nullptr;    // String: at the closing quote; else past the last byte
  bool escaped = false;         // String: holds a backslash escape
};

// A strict JSON reader that keeps no tree: it validates the whole document and remembers
// where the value at `path` is (the last one, when a member name repeats).
class Walker {
 public:
  Walker(std::string_view json, const std::vector<std::string>& path)
      : begin_(json.data()), p_(json.data()), end_(json.data() + json.size()), path_(path) {}

  std::string document() {
    skip_space();
    if (!value(0, true)) return error_;
    skip_space();
    if (p_ != end_) return fail("text after the document");
    return {};
  }
  const Span& found() const { return found_; }

 private:
  std::string fail(const char* what) {
    error_ = std::string("the value is not JSON (") + what + " at byte " +
             std::to_string(p_ - begin_) + ")";
    return error_;
  }
  bool failed(const char* what) {
    fail(what);
    return false;
  }
  void skip_space() {
    while (p_ != end_ && is_space(*p_)) ++p_;
  }

  bool value(size_t depth, bool on_path) {
    if (p_ == end_) return failed("unexpected end");
    const bool target = on_path && depth == path_.size();
    const char* start = p_;
    Span span;
    switch (*p_) {
      case '{':
        span.type = Span::Object;
        if (!object(depth, on_path)) return false;
        break;
      case '[':
        span.type = Span::Array;
        if (!array(depth, on_path)) return false;
        break;
      case '"':
        span.type = Span::String;
        if (!string(span)) return false;
        break;
      case 't':
        span.type = Span::True;
        if (!literal("true")) return false;
        break;
      case 'f':
        span.type = Span::False;
        if (!literal("false")) return false;
        break;
      case 'n':
        span.type = Span::Null;
        if (!literal("null")) return false;
        break;
      default:
        span.type = Span::Number;
        if (!number()) return false;
    }
    if (target) {
      if (span.type != Span::String) {
        span.begin = start;
        span.end = p_;
      }
      found_ = span;
    }
    return true;
  }

  bool object(size_t depth, bool on_path) {
    if (depth + 1 > kMaxDepth) return failed("nested deeper than 64 levels");
    ++p_;
    skip_space();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      if (p_ == end_ || *p_ != '"') return failed("expected a member name");
      Span name;
      if (!string(name)) return false;
      skip_space();
      if (p_ == end_ || *p_ != ':') return failed("expected ':'");
      ++p_;
      skip_space();
      bool child = on_path && depth < path_.size() && name_is(name, path_[depth]);
      if (!value(depth + 1, child)) return false;
      if (!next_or_close('}')) return false;
      if (closed_) return true;
    }
  }

  bool array(size_t depth, bool on_path) {
    if (depth + 1 > kMaxDepth) return failed("nested deeper than 64 levels");
    ++p_;
    skip_space();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (size_t i = 0;; ++i) {
      bool child = on_path && depth < path_.size() && index_is(i, path_[depth]);
      if (!value(depth + 1, child)) return false;
      if (!next_or_close(']')) return false;
      if (closed_) return true;
    }
  }

  // After a member or element: ',' (then the next one) or the closing bracket.
  bool next_or_close(char close) {
    skip_space();
    closed_ = false;
    if (p_ == end_) return failed("unexpected end");
    if (*p_ == close) {
      ++p_;
      closed_ = true;
      return true;
    }
    if (*p_ != ',') return failed(close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    ++p_;
    skip_space();
    return true;
  }

  bool string(Span& span) {
    span.begin = ++p_;
    while (p_ != end_) {
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        span.end = p_++;
        return true;
      }
      if (c < 0x20) return failed("a control character in a string");
      if (c == '\\') {
        span.escaped = true;
        if (++p_ == end_) break;
        if (*p_ == 'u') {
          for (int i = 0; i < 4; ++i)
            if (++p_ == end_ || hex_value(*p_) < 0) return failed("a bad \\u escape");
        } else if (*p_ == '\0' || !std::strchr("\"\\/bfnrt", *p_)) {
          return failed("a bad escape");
        }
      }
      ++p_;
    }
    return failed("an unterminated string");
  }

  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0)
      return failed("an unknown literal");
    p_ += n;
    return true;
  }

  bool number() {
    if (*p_ == '-') ++p_;
    if (p_ == end_ || !is_digit(*p_)) return failed("an unexpected character");
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    if (p_ != end_ && *p_ == '.') {
      if (++p_ == end_ || !is_digit(*p_)) return failed("a bad number");
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      if (++p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) return failed("a bad number");
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    return true;
  }

  static bool name_is(const Span& name, const std::string& want) {
    if (!name.escaped)
      return static_cast<size_t>(name.end - name.begin) == want.size() &&
             std::memcmp(name.begin, want.data(), want.size()) == 0;
    std::string plain;
    return unescape(name.begin, name.end, plain).empty() && plain == want;
  }
  static bool index_is(size_t i, const std::string& want) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, i);
    return ec == std::errc() && static_cast<size_t>(end - buf) == want.size() &&
           std::memcmp(buf, want.data(), want.size()) == 0;
  }

 public:
  // The bytes of a validated string with its escapes resolved (\uXXXX as UTF-8).
  static std::string unescape(const char* p, const char* end, std::string& out) {
    while (p != end) {
      if (*p != '\\') {
        out.push_back(*p++);
        continue;
      }
      char e = *++p;
      ++p;
      switch (e) {
        case 'b':
          out.push_back('\b');
          continue;
        case 'f':
          out.push_back('\f');
          continue;
        case 'n':
          out.push_back('\n');
          continue;
        case 'r':
          out.push_back('\r');
          continue;
        case 't':
          out.push_back('\t');
          continue;
        case 'u':
          break;
        default:
          out.push_back(e);
          continue;  // " \ /
      }
      uint32_t cp = read_hex4(p);
      p += 4;
      if (cp >= 0xDC00 && cp <= 0xDFFF) return "a lone low surrogate in a \\u escape";
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return "a lone high surrogate";
        uint32_t low = read_hex4(p + 2);
        if (low < 0xDC00 || low > 0xDFFF) return "a lone high surrogate";
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        p += 6;
      }
      append_utf8(cp, out);
    }
    return {};
  }

 private:
  static uint32_t read_hex4(const char* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = v * 16 + static_cast<uint32_t>(hex_value(p[i]));
    return v;
  }
  static void append_utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  const std::vector<std::string>& path_;
  Span found_;
  bool closed_ = false;
  std::string error_;
};

std::string joined(const std::vector<std::string>& path) {
  std::string s;
  for (const auto& seg : path) s += (s.empty() ? "" : ".") + seg;
  return s;
}

}  // namespace

std::string append_scalar(std::string_view json, const std::vector<std::string>& path,
                          std::string& out) {
  Walker walker(json, path);
  if (std::string error = walker.document(); !error.empty()) return error;
  const Span& s = walker.found();
  switch (s.type) {
    case Span::None:
      return "the value has no " + joined(path);
    case Span::String:
      if (!s.escaped) {
        out.append(s.begin, s.end);
        return {};
      }
      return Walker::unescape(s.begin, s.end, out);
    case Span::Number:
    case Span::True:
    case Span::False:
      out.append(s.begin, s.end);
      return {};
    case Span::Null:
      return joined(path) + " is null";
    case Span::Object:
      return joined(path) + " is an object; a key part must be a string, a number or a boolean";
    case Span::Array:
      return joined(path) + " is an array; a key part must be a string, a number or a boolean";
  }
  return {};
}

}  // namespace json_path

namespace {

const char* const kExpected =
    "; expected {key}, {value}, {value.PATH}, {header.NAME}, {topic}, {partition} or {offset}";

}  // namespace

std::string KeyTemplate::parse(std::string_view text, KeyTemplate& out, size_t* error_at) {
  out.text_ = std::string(text);
  out.parts_.clear();
  bool placeholders = false;
  auto literal = [&](char c) {
    if (out.parts_.empty() || out.parts_.back().kind != Part::Literal)
      out.parts_.push_back({Part::Literal, {}, {}});
    out.parts_.back().text.push_back(c);
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '}') {
      *error_at = i;
      if (i + 1 == text.size() || text[i + 1] != '}')
        return "a '}' without its '{' (write }} for a literal brace)";
      literal('}');
      ++i;
      continue;
    }
    if (c != '{') {
      literal(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal('{');
      ++i;
      continue;
    }
    *error_at = i;
    size_t close = text.find_first_of("{}", i + 1);
    if (close == std::string_view::npos || text[close] != '}')
      return "a '{' without its '}' (write {{ for a literal brace)";
    std::string_view name = text.substr(i + 1, close - i - 1);
    Part part{Part::Literal, std::string(text.substr(i, close - i + 1)), {}};
    if (name == "key") {
      part.kind = Part::Key;
    } else if (name == "value") {
      part.kind = Part::Value;
    } else if (name == "topic") {
      part.kind = Part::Topic;
    } else if (name == "partition") {
      part.kind = Part::Partition;
    } else if (name == "offset") {
      part.kind = Part::Offset;
    } else if (name.substr(0, 7) == "header.") {
      part.kind = Part::Header;
      if (name.size() == 7) return "{header.} names no header";
      part.path.emplace_back(name.substr(7));
    } else if (name.substr(0, 6) == "value.") {
      part.kind = Part::ValuePath;
      std::string_view rest = name.substr(6);
      for (size_t from = 0;;) {
        size_t dot = rest.find('.', from);
        std::string_view seg = rest.substr(from, dot == std::string_view::npos ? dot : dot - from);
        if (seg.empty()) return "an empty member name in " + part.text;
        part.path.emplace_back(seg);
        if (dot == std::string_view::npos) break;
        from = dot + 1;
      }
    } else {
      return "unknown placeholder " + part.text + kExpected;
    }
    out.parts_.push_back(std::move(part));
    placeholders = true;
    i = close;
  }
  if (!placeholders) {
    *error_at = 0;
    return "no {placeholder}: every record would get the same key" + std::string(kExpected);
  }
  return {};
}

std::string KeyTemplate::render(const strata_record& rec, std::string& out) const {
  for (const Part& part : parts_) {
    if (part.kind == Part::Literal) {
      out += part.text;
      continue;
    }
    if (std::string why = render_part(part, rec, out); !why.empty())
      return "key template " + part.text + ": " + why;
  }
  return {};
}

std::string KeyTemplate::render_part(const Part& part, const strata_record& rec,
                                     std::string& out) const {
  char num[24];
  switch (part.kind) {
    case Part::Literal:
      out += part.text;
      return {};
    case Part::Key:
      if (!rec.key.data) return "the record has no key";
      out.append(rec.key.data, rec.key.len);
      return {};
    case Part::Value:
    case Part::ValuePath:
      if (!rec.value.data) return "the record has no value (a tombstone)";
      if (part.kind == Part::Value) {
        out.append(rec.value.data, rec.value.len);
        return {};
      }
      return json_path::append_scalar({rec.value.data, rec.value.len}, part.path, out);
    case Part::Header: {
      const strata_header* found = nullptr;  // a repeated name: the last one, as in Lua
      for (size_t i = 0; i < rec.header_count; ++i) {
        const strata_bytes& k = rec.headers[i].key;
        if (k.data && k.len == part.path[0].size() &&
            std::memcmp(k.data, part.path[0].data(), k.len) == 0)
          found = &rec.headers[i];
      }
      if (!found) return "the record has no header " + part.path[0];
      if (found->value.data) out.append(found->value.data, found->value.len);
      return {};
    }
    case Part::Topic:
      out += rec.topic ? rec.topic : "";
      return {};
    case Part::Partition:
    case Part::Offset: {
      int64_t n = part.kind == Part::Partition ? rec.partition : rec.offset;
      auto [end, ec] = std::to_chars(num, num + sizeof num, n);
      out.append(num, end);
      return {};
    }
  }
  return {};
}

}  // namespace strata
