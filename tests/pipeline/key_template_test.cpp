// KeyTemplate (common/key_template.hpp): the pipeline option `key`, parsed and rendered alone.
#include "common/key_template.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata {
namespace {

KeyTemplate compiled(const std::string& text) {
  KeyTemplate t;
  size_t at = 0;
  std::string why = KeyTemplate::parse(text, t, &at);
  EXPECT_EQ(why, "") << text;
  return t;
}

// The parse error and where it points.
std::pair<std::string, size_t> mistake(const std::string& text) {
  KeyTemplate t;
  size_t at = 12345;
  std::string why = KeyTemplate::parse(text, t, &at);
  return {why, at};
}

struct Rec {
  std::string topic = "events";
  std::string key = "k1";
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  bool null_key = false, null_value = false;
  std::vector<strata_header> hs;
  strata_record rec{};
  const strata_record& get() {
    rec = {};
    rec.topic = topic.c_str();
    rec.partition = 7;
    rec.offset = 123456789012;
    if (!null_key) rec.key = {key.data(), key.size()};
    if (!null_value) rec.value = {value.data(), value.size()};
    hs.clear();
    for (auto& [k, v] : headers) hs.push_back({{k.data(), k.size()}, {v.data(), v.size()}});
    rec.headers = hs.data();
    rec.header_count = hs.size();
    return rec;
  }
};

// The key, or "ERROR: " + the dead-letter reason.
std::string render(const std::string& text, Rec& r) {
  KeyTemplate t = compiled(text);
  std::string out;
  std::string why = t.render(r.get(), out);
  return why.empty() ? out : "ERROR: " + why;
}

std::string from_value(const std::string& text, const std::string& json) {
  Rec r;
  r.value = json;
  return render(text, r);
}

TEST(KeyTemplate, LiteralTextAndEveryPlaceholder) {
  Rec r;
  r.value = "raw";
  r.headers = {{"tenant", "acme"}, {"tenant", "globex"}};
  EXPECT_EQ(render("{topic}/{partition}/{offset}:{key}={value}@{header.tenant}", r),
            "events/7/123456789012:k1=raw@globex");  // a repeated header: the last one
  EXPECT_EQ(render("{{literal}} {key}", r), "{literal} k1");
}

TEST(KeyTemplate, ValueMembersAreStringsNumbersAsWrittenOrBooleans) {
  const std::string doc =
      R"({"user":"u42","seq":1000,"ratio":-1.5e3,"ok":true,"no":false,"nested":{"id":"n1",)"
      R"("list":[10,{"x":"deep"}]}})";
  EXPECT_EQ(from_value("user:{value.user}", doc), "user:u42");
  EXPECT_EQ(from_value("{value.seq}", doc), "1000");
  EXPECT_EQ(from_value("{value.ratio}", doc), "-1.5e3");
  EXPECT_EQ(from_value("{value.ok}/{value.no}", doc), "true/false");
  EXPECT_EQ(from_value("{value.nested.id}", doc), "n1");
  EXPECT_EQ(from_value("{value.nested.list.0}", doc), "10");  // digits index arrays from 0
  EXPECT_EQ(from_value("{value.nested.list.1.x}", doc), "deep");
  EXPECT_EQ(from_value("{value.user}-{value.seq}", doc), "u42-1000");
}

TEST(KeyTemplate, OnlyTheMemberOnThePathMatchesAndARepeatedNameKeepsItsLastValue) {
  EXPECT_EQ(from_value("{value.user}", R"({"a":{"user":"inner"},"user":"outer"})"), "outer");
  EXPECT_EQ(from_value("{value.user}", R"({"a":{"user":"inner"}})"),
            "ERROR: key template {value.user}: the value has no user");
  EXPECT_EQ(from_value("{value.user}", R"({"user":"first","user":"last"})"), "last");
  EXPECT_EQ(from_value("{value.a.b}", R"({"a":[{"b":"in an array"}]})"),
            "ERROR: key template {value.a.b}: the value has no a.b");
}

TEST(KeyTemplate, EscapedStringsAreUnescaped) {
  EXPECT_EQ(from_value("{value.u}", R"({"u":"a\"b\\c\/d\te"})"), "a\"b\\c/d\te");
  EXPECT_EQ(from_value("{value.u}", R"({"u":"caf\u00e9 \ud83d\ude00"})"),
            "caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(from_value("{value.u}", R"({"\u0075":"escaped name"})"), "escaped name");
  EXPECT_NE(from_value("{value.u}", R"({"u":"\udc00"})").find("lone low surrogate"),
            std::string::npos);
}

TEST(KeyTemplate, ARecordWithoutAKeyPartIsADeadLetterThatNamesThePlaceholder) {
  EXPECT_EQ(from_value("{value.user}", R"({"user":null})"),
            "ERROR: key template {value.user}: user is null");
  EXPECT_EQ(from_value("{value.user}", R"({"user":{"id":1}})"),
            "ERROR: key template {value.user}: user is an object; a key part must be a string, "
            "a number or a boolean");
  EXPECT_EQ(from_value("{value.user}", R"({"user":[1]})"),
            "ERROR: key template {value.user}: user is an array; a key part must be a string, "
            "a number or a boolean");
  Rec tomb;
  tomb.null_value = true;
  EXPECT_EQ(render("{value.user}", tomb),
            "ERROR: key template {value.user}: the record has no value (a tombstone)");
  EXPECT_EQ(render("x{key}", tomb), "xk1");  // a tombstone keyed by {key} still has its key
  Rec keyless;
  keyless.null_key = true;
  EXPECT_EQ(render("{key}", keyless), "ERROR: key template {key}: the record has no key");
  Rec r;
  EXPECT_EQ(render("{header.tenant}", r),
            "ERROR: key template {header.tenant}: the record has no header tenant");
}

TEST(KeyTemplate, AValueThatIsNotStrictJsonIsRefusedWhereverTheMemberIs) {
  for (const char* bad : {R"({"user":"u1"} trailing)", R"({"user":"u1")", R"({"user":"u1",})",
                          R"({"user":"u1","n":01})", "{\"user\":\"u1\",\"s\":\"tab\tin\"}",
                          R"({"user":"u1","x":tru})", R"({user:"u1"})", "", "   ",
                          R"({"user":"\x"})", R"({"user":"\u12"})", "{\"user\":\"u1\"}\x01"}) {
    std::string got = from_value("{value.user}", bad);
    EXPECT_EQ(got.rfind("ERROR: key template {value.user}: the value is not JSON (", 0), 0u)
        << bad << " -> " << got;
  }
}

TEST(KeyTemplate, DeepOrLargeDocumentsEndInAnErrorNotACrash) {
  std::string deep(100000, '[');
  EXPECT_NE(from_value("{value.a}", deep).find("nested deeper than 64 levels"), std::string::npos);
  std::string wide = "[";
  for (int i = 0; i < 100000; ++i) wide += "1,";
  wide += "2]";
  EXPECT_EQ(from_value("{value.100000}", wide), "2");
}

TEST(KeyTemplate, ParseMistakesSayWhatAndWhere) {
  EXPECT_EQ(
      mistake("user:{value.user"),
      (std::pair<std::string, size_t>{"a '{' without its '}' (write {{ for a literal brace)", 5}));
  EXPECT_EQ(mistake("a}b{key}"), (std::pair<std::string, size_t>{
                                     "a '}' without its '{' (write }} for a literal brace)", 1}));
  EXPECT_EQ(mistake("x{user}").second, 1u);
  EXPECT_EQ(mistake("x{user}").first,
            "unknown placeholder {user}; expected {key}, {value}, {value.PATH}, {header.NAME}, "
            "{topic}, {partition} or {offset}");
  EXPECT_EQ(mistake("{value.a..b}").first, "an empty member name in {value.a..b}");
  EXPECT_EQ(mistake("{value.}").first, "an empty member name in {value.}");
  EXPECT_EQ(mistake("{header.}").first, "{header.} names no header");
  EXPECT_EQ(mistake("{a{key}").first, "a '{' without its '}' (write {{ for a literal brace)");
  EXPECT_EQ(mistake("user:value.user").first.rfind("no {placeholder}", 0), 0u);
  EXPECT_EQ(mistake("{{key}}").first.rfind("no {placeholder}", 0), 0u);  // only literal braces
}

}  // namespace
}  // namespace strata
