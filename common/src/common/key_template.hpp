// KeyTemplate: a pipeline's record key built without a script (pipeline option `key`), e.g.
// key = "user:{value.user}". Literal text and {placeholders}: {key}, {value}, {value.PATH}
// (a member of the JSON value; PATH is dot-separated names, digits index arrays from 0),
// {header.NAME}, {topic}, {partition}, {offset}; {{ and }} are literal braces.
// Why: a key that is a field of the value is most of what key hooks do, and a Lua call with a
// JSON decode costs more per record than the rest of the pipeline (docs/performance.md).
#pragma once

#include <strata/strata.h>

#include <string>
#include <string_view>
#include <vector>

namespace strata {

class KeyTemplate {
 public:
  // The template compiled; on a mistake, "" is not returned but the reason, and *error_at is
  // the 0-based byte offset of the mistake in `text`.
  static std::string parse(std::string_view text, KeyTemplate& out, size_t* error_at);

  // Appends the record's key to `out`. Returns "" or why the record has none (a dead-letter
  // reason that names the placeholder). Thread-safe (const, no state).
  std::string render(const strata_record& rec, std::string& out) const;

  const std::string& text() const { return text_; }

 private:
  struct Part {
    enum Kind { Literal, Key, Value, ValuePath, Header, Topic, Partition, Offset } kind;
    std::string text;               // Literal: the text; else the placeholder as written
    std::vector<std::string> path;  // ValuePath: the segments; Header: the name
  };
  std::string render_part(const Part& part, const strata_record& rec, std::string& out) const;

  std::string text_;
  std::vector<Part> parts_;
};

namespace json_path {
// What a path names in a JSON document, validating the whole document (strict JSON).
// Appends a string's unescaped bytes, a number's text as written, or true/false to `out`.
// Returns "" or the reason: not JSON, the member is missing, or it is null, an object or an
// array (no key part).
std::string append_scalar(std::string_view json, const std::vector<std::string>& path,
                          std::string& out);
}  // namespace json_path

}  // namespace strata
