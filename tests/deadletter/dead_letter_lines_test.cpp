// The dead_letter_file source's line reader (modules/dead_letter_source/dead_letter_lines.cpp)
// against strata's own writer (dead_letter_json): every record the writer encodes, with any
// bytes, null keys and values, headers and unknown timestamps, reads back to the same record;
// lines that are not dead-letter lines are refused with the field that is wrong.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "deadletter/dead_letter_json.hpp"
#include "modules/dead_letter_source/dead_letter_lines.hpp"

namespace strata {
namespace {

std::string random_bytes(std::mt19937& rng, size_t max) {
  std::string s(rng() % (max + 1), '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

TEST(DeadLetterLines, EveryEncodedRecordReadsBackTheSame) {
  std::mt19937 rng(20261202);
  for (int i = 0; i < 500; ++i) {
    std::string key = random_bytes(rng, 40), value = random_bytes(rng, 300);
    std::string hkey = "h" + std::to_string(i), hval = random_bytes(rng, 20);
    strata_header h{{hkey.data(), hkey.size()}, {hval.data(), hval.size()}};
    strata_record rec{};
    rec.struct_size = sizeof(rec);
    rec.topic = "events";
    rec.partition = static_cast<int32_t>(rng() % 64);
    rec.offset = static_cast<int64_t>(rng()) * 4096;
    const bool null_key = i % 7 == 0, null_value = i % 11 == 0;
    rec.key = null_key ? strata_bytes{nullptr, 0} : strata_bytes{key.data(), key.size()};
    rec.value = null_value ? strata_bytes{nullptr, 0} : strata_bytes{value.data(), value.size()};
    rec.timestamp_ms = i % 5 == 0 ? -1 : 1764633600000 + i;
    rec.headers = i % 3 == 0 ? nullptr : &h;
    rec.header_count = i % 3 == 0 ? 0 : 1;
    const std::string line = dead_letter_json(rec, "p", "reason \"quoted\" \n" + std::to_string(i));

    dlq::Letter l;
    std::string why;
    ASSERT_TRUE(dlq::parse_letter(line, &l, &why)) << why << "\n" << line;
    EXPECT_EQ(l.pipeline, "p");
    EXPECT_EQ(l.topic, "events");
    EXPECT_EQ(l.partition, rec.partition);
    EXPECT_EQ(l.offset, rec.offset);
    EXPECT_EQ(l.timestamp_ms, rec.timestamp_ms);
    EXPECT_EQ(l.reason, "reason \"quoted\" \n" + std::to_string(i));
    EXPECT_EQ(l.key_null, null_key);
    EXPECT_EQ(l.value_null, null_value);
    EXPECT_EQ(l.key, null_key ? "" : key) << i;
    EXPECT_EQ(l.value, null_value ? "" : value) << i;
    ASSERT_EQ(l.headers.size(), rec.header_count);
    if (rec.header_count) {
      EXPECT_EQ(l.headers[0].key, hkey);
      EXPECT_EQ(l.headers[0].value, hval);
    }
    EXPECT_FALSE(l.payload_dropped);
  }
}

TEST(DeadLetterLines, CoordinatesOnlyLinesAreMarked) {
  strata_record rec{};
  rec.struct_size = sizeof(rec);
  rec.topic = "events";
  rec.partition = 2;
  rec.offset = 9;
  rec.timestamp_ms = -1;
  auto c = DeadLetterCoordinates::of(rec, "p", "too large");
  dlq::Letter l;
  std::string why;
  ASSERT_TRUE(dlq::parse_letter(dead_letter_coordinates_json(c, "Message size too large"), &l, &why))
      << why;
  EXPECT_TRUE(l.payload_dropped);
  EXPECT_EQ(l.partition, 2);
  EXPECT_EQ(l.offset, 9);
}

TEST(DeadLetterLines, WhatIsNotADeadLetterLineSaysWhichFieldIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "not JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"topic":"t","offset":1})", "\"partition\" is missing or not an integer"},
      {R"({"topic":"t","partition":-1,"offset":1})", "\"partition\" is out of range"},
      {R"({"topic":"t","partition":0,"offset":"1"})", "\"offset\" is missing or not an integer"},
      {R"({"topic":"t","partition":0,"offset":18446744073709551615})", "\"offset\" is out of range"},
      {R"({"topic":"t","partition":0,"offset":1,"value_b64":null})", "no \"key_b64\""},
      {R"({"topic":"t","partition":0,"offset":1,"key_b64":"a","value_b64":null})",
       "\"key_b64\" is not base64 text or null"},
      {R"({"topic":"t","partition":0,"offset":1,"key_b64":null,"value_b64":"YW=j"})",
       "\"value_b64\" is not base64 text or null"},
      {R"({"topic":"t","partition":0,"offset":1,"key_b64":null,"value_b64":null,"headers":{}})",
       "\"headers\" is not an array"},
      {R"({"topic":1,"partition":0,"offset":1})", "\"topic\" is not a string"},
  };
  for (auto& [line, want] : cases) {
    dlq::Letter l;
    std::string why;
    EXPECT_FALSE(dlq::parse_letter(line, &l, &why)) << line;
    EXPECT_NE(why.find(want), std::string::npos) << line << " -> " << why;
  }
}

TEST(DeadLetterLines, Base64DecodesWhatTheWriterEncodes) {
  std::string out;
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd",
                                                     std::string("\0\xff\x10", 3)}) {
    ASSERT_TRUE(dlq::base64_decode(base64_encode(s), &out)) << s;
    EXPECT_EQ(out, s);
  }
  EXPECT_FALSE(dlq::base64_decode("abc", &out));    // not a multiple of 4
  EXPECT_FALSE(dlq::base64_decode("a=bc", &out));   // padding inside
  EXPECT_FALSE(dlq::base64_decode("ab=c", &out));   // '=' then data
  EXPECT_FALSE(dlq::base64_decode("ab==ab==", &out));  // padding before the end
  EXPECT_FALSE(dlq::base64_decode("ab\ncd==", &out));
}

}  // namespace
}  // namespace strata
