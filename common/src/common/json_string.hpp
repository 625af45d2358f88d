// JSON string literals (RFC 8259) for the lines strata writes: dead letters and JSON logs.
#pragma once

#include <string>
#include <string_view>

namespace strata {

// Appends `text` as a JSON string literal (with quotes). Control characters are escaped and
// bytes that are not valid UTF-8 become U+FFFD, so the line is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace strata
