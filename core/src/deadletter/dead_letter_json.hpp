// The dead-letter line format: one JSON object per record, shared by the file and the Kafka
// destination of DeadLetterSink. Exposed separately so tests (and tools) can encode and check
// lines without opening a sink.
#pragma once

#include "common/json_string.hpp"

#include <strata/strata.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata {

// {"pipeline","topic","partition","offset","timestamp","reason","key_b64","value_b64",
//  "headers":[{"key","value_b64"}]} without a trailing newline. key_b64 / value_b64 are null
// for a null key / value; timestamp is null when unknown (-1).
std::string dead_letter_json(const strata_record& rec, std::string_view pipeline,
                             std::string_view reason);

// What is left of a record when its whole line cannot be stored anywhere: enough to find it
// in Kafka again, a few hundred bytes whatever the record's size. Copied out of the record,
// so it can travel with a queued Kafka message until its delivery report.
struct DeadLetterCoordinates {
  static constexpr size_t kKeyPrefix = 64;  // bytes of the key kept
  static constexpr size_t kTextMax = 256;   // bytes kept of pipeline, topic, reason

  std::string pipeline;
  bool has_topic = false;
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;
  std::string reason;
  bool has_key = false;
  std::string key_prefix;
  size_t key_bytes = 0;
  size_t payload_bytes = 0;
  size_t header_count = 0;

  static DeadLetterCoordinates of(const strata_record& rec, std::string_view pipeline,
                                  std::string_view reason);
  std::string where() const;  // "topic/partition@offset", for log lines
};

//   {"pipeline","topic","partition","offset","timestamp","reason","key_prefix_b64","key_bytes",
//    "payload_bytes","header_count","payload_dropped":true,"dropped_because"}
// key_prefix_b64 is null for a null key; `why` (the destination's error) is cut like reason.
std::string dead_letter_coordinates_json(const DeadLetterCoordinates& c, std::string_view why);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);

}  // namespace strata
