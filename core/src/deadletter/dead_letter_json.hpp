// The dead-letter line format: one JSON object per record, shared by the file and the Kafka
// destination of DeadLetterSink. Exposed separately so tests (and tools) can encode and check
// lines without opening a sink.
#pragma once

#include <strata/strata.h>

#include <string>
#include <string_view>

namespace strata {

// {"pipeline","topic","partition","offset","timestamp","reason","key_b64","value_b64",
//  "headers":[{"key","value_b64"}]} without a trailing newline. key_b64 / value_b64 are null
// for a null key / value; timestamp is null when unknown (-1).
std::string dead_letter_json(const strata_record& rec, std::string_view pipeline,
                             std::string_view reason);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);

// Appends `text` as a JSON string literal (with quotes). Control characters are escaped and
// bytes that are not valid UTF-8 become U+FFFD, so the line is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace strata
