#include "json_decode.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace strata::lua {
namespace {

// Why: cjson builds every object with lua_newtable and one lua_rawset per member, so a 4-member
// object is rehashed three times (0 -> 1 -> 2 -> 4 nodes, each a count, an allocation and a
// reinsertion), and each call mallocs and frees a scratch buffer the size of the input. For a
// ~90-byte record that was most of a JSON key hook. Here a first pass checks the document and
// records its tokens (with each container's member count), a second creates each table once at
// its final size. Key order as seen by pairs() may differ from cjson's; Lua leaves it unspecified.
//
// Only a strict subset is handled: no escapes in strings, no control characters, numbers of the
// JSON grammar, JSON's four whitespace characters, at most kMaxTokens tokens and kMaxDepth
// levels. For everything else, valid or not, cjson decodes (or raises) exactly as before, which
// also keeps its error messages and what it accepts beyond JSON (hex, inf, nan, leading zeros).
constexpr int kMaxTokens = 512;  // tokens live on the C stack: 8 KiB, and nothing to free
constexpr int kMaxDepth = 64;

struct Token {
  enum Type : uint8_t { kObject, kArray, kString, kNumber, kTrue, kFalse, kNull } type;
  uint32_t n;  // string: length; object: members; array: elements
  union {
    const char* s;
    double d;
  };
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
// What may follow a scalar: anything else (a letter after a number, "truex") goes to cjson.
bool ends_scalar(char c) { return is_space(c) || c == ',' || c == ']' || c == '}'; }

// Bytes that end the fast scan of a string: '"', '\\' and control characters.
struct StringStops {
  bool stop[256] = {};
  constexpr StringStops() {
    for (int c = 0; c < 0x20; ++c) stop[c] = true;
    stop[static_cast<unsigned char>('"')] = true;
    stop[static_cast<unsigned char>('\\')] = true;
  }
};
constexpr StringStops kStringStops;

class Scanner {
 public:
  Scanner(const char* p, size_t len, Token* tape) : p_(p), end_(p + len), tape_(tape) {}

  // false: not in the subset handled here (let cjson decide).
  bool document() {
    skip_space();
    if (!value(0)) return false;
    skip_space();
    return p_ == end_;
  }
  int depth() const { return max_depth_; }

 private:
  Token* emit(Token::Type type) {
    if (count_ == kMaxTokens) return nullptr;
    Token* t = &tape_[count_++];
    t->type = type;
    t->n = 0;
    return t;
  }
  void skip_space() {
    while (p_ != end_ && is_space(*p_)) ++p_;
  }
  bool value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return container(depth + 1, Token::kObject, '}');
      case '[':
        return container(depth + 1, Token::kArray, ']');
      case '"':
        return string();
      case 't':
        return literal("true", 4, Token::kTrue);
      case 'f':
        return literal("false", 5, Token::kFalse);
      case 'n':
        return literal("null", 4, Token::kNull);
      default:
        return number();
    }
  }
  bool container(int depth, Token::Type type, char close) {
    if (depth > kMaxDepth) return false;
    if (depth > max_depth_) max_depth_ = depth;
    int self = count_;
    if (emit(type) == nullptr) return false;
    ++p_;
    skip_space();
    if (p_ != end_ && *p_ == close) {
      ++p_;
      return true;
    }
    uint32_t n = 0;
    for (;;) {
      if (type == Token::kObject) {
        if (p_ == end_ || *p_ != '"' || !string()) return false;
        skip_space();
        if (p_ == end_ || *p_ != ':') return false;
        ++p_;
        skip_space();
      }
      if (!value(depth)) return false;
      ++n;
      skip_space();
      if (p_ == end_) return false;
      if (*p_ == close) break;
      if (*p_ != ',') return false;
      ++p_;
      skip_space();
    }
    ++p_;
    tape_[self].n = n;
    return true;
  }
  bool string() {
    const char* s = ++p_;
    while (p_ != end_ && !kStringStops.stop[static_cast<unsigned char>(*p_)]) ++p_;
    if (p_ == end_ || *p_ != '"') return false;  // escapes and control characters: cjson
    if (p_ - s > UINT32_MAX) return false;
    Token* t = emit(Token::kString);
    if (t == nullptr) return false;
    t->n = static_cast<uint32_t>(p_ - s);
    t->s = s;
    ++p_;
    return true;
  }
  bool literal(const char* word, int len, Token::Type type) {
    if (end_ - p_ < len) return false;
    for (int i = 0; i < len; ++i) {
      if (p_[i] != word[i]) return false;
    }
    p_ += len;
    if (p_ != end_ && !ends_scalar(*p_)) return false;
    return emit(type) != nullptr;
  }
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? and nothing else.
  bool number() {
    const char* start = p_;
    bool negative = *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || !is_digit(*p_)) return false;
    uint64_t mantissa = 0;
    int digits = 0;
    if (*p_ == '0') {
      ++p_;
      digits = 1;
    } else {
      for (; p_ != end_ && is_digit(*p_); ++p_, ++digits) {
        mantissa = mantissa * 10 + static_cast<uint64_t>(*p_ - '0');
      }
    }
    bool integral = true;
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      if (++p_ == end_ || !is_digit(*p_)) return false;
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      if (++p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) return false;
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    if (p_ != end_ && !ends_scalar(*p_)) return false;
    double d = 0;
    if (integral && digits <= 15) {  // exact in a double, as strtod would give it
      d = static_cast<double>(mantissa);
      if (negative) d = -d;  // "-0" is -0.0, as with strtod
    } else {
      // Correctly rounded, as glibc's strtod (what cjson calls); out of range (inf, denormals)
      // goes to cjson.
      auto [end, ec] = std::from_chars(start, p_, d);
      if (ec != std::errc() || end != p_) return false;
    }
    Token* t = emit(Token::kNumber);
    if (t == nullptr) return false;
    t->d = d;
    return true;
  }

  const char* p_;
  const char* end_;
  Token* tape_;
  int count_ = 0;
  int max_depth_ = 0;
};

// Pushes the value starting at `t`; returns the token after it. Allocations may raise (the
// memory cap): nothing here needs freeing.
const Token* build(lua_State* L, const Token* t) {
  switch (t->type) {
    case Token::kString:
      lua_pushlstring(L, t->s, t->n);
      return t + 1;
    case Token::kNumber:
      lua_pushnumber(L, t->d);
      return t + 1;
    case Token::kTrue:
    case Token::kFalse:
      lua_pushboolean(L, t->type == Token::kTrue);
      return t + 1;
    case Token::kNull:
      lua_pushlightuserdata(L, nullptr);  // strata.json.null, as cjson's
      return t + 1;
    case Token::kObject: {
      uint32_t n = t->n;
      lua_createtable(L, 0, static_cast<int>(n));
      ++t;
      for (uint32_t i = 0; i < n; ++i) {
        lua_pushlstring(L, t->s, t->n);
        t = build(L, t + 1);
        lua_rawset(L, -3);  // in document order: a repeated key keeps its last value, as cjson
      }
      return t;
    }
    case Token::kArray: {
      uint32_t n = t->n;
      lua_createtable(L, static_cast<int>(n), 0);
      ++t;
      for (uint32_t i = 1; i <= n; ++i) {
        t = build(L, t);
        lua_rawseti(L, -2, static_cast<int>(i));
      }
      return t;
    }
  }
  return t + 1;  // unreachable
}

int decode(lua_State* L) {
  // The same argument checks as cjson's, raised from here so that they name this function.
  luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
  size_t len = 0;
  const char* json = luaL_checklstring(L, 1, &len);
  Token tape[kMaxTokens];
  Scanner scanner(json, len, tape);
  if (scanner.document() && lua_checkstack(L, 2 * scanner.depth() + 2)) {
    build(L, tape);
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));  // cjson's decode
  lua_insert(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

// The token after the value starting at `t` (its whole subtree skipped).
const Token* skip(const Token* t) {
  switch (t->type) {
    case Token::kObject: {
      uint32_t n = t->n;
      ++t;
      for (uint32_t i = 0; i < n; ++i) t = skip(t + 1);  // the member name, then its value
      return t;
    }
    case Token::kArray: {
      uint32_t n = t->n;
      ++t;
      for (uint32_t i = 0; i < n; ++i) t = skip(t);
      return t;
    }
    default:
      return t + 1;
  }
}

// One step of a path from the container at `t`: the member named `name` (the last of that name,
// as decode keeps it) or the element at 1-based `index`; nullptr when there is none.
const Token* member(const Token* t, const char* name, size_t len) {
  if (t->type != Token::kObject) return nullptr;
  const Token* found = nullptr;
  uint32_t n = t->n;
  ++t;
  for (uint32_t i = 0; i < n; ++i) {
    if (t->n == len && std::memcmp(t->s, name, len) == 0) found = t + 1;
    t = skip(t + 1);
  }
  return found;
}
const Token* element(const Token* t, lua_Number index) {
  if (t->type != Token::kArray || !(index >= 1 && index <= t->n)) return nullptr;
  auto want = static_cast<uint32_t>(index);
  if (static_cast<lua_Number>(want) != index) return nullptr;  // t[1.5] is nil
  ++t;
  for (uint32_t i = 1; i < want; ++i) t = skip(t);
  return t;
}

// The arguments after the document: strings name members, numbers index arrays.
void check_path(lua_State* L, int top) {
  for (int i = 2; i <= top; ++i) {
    int type = lua_type(L, i);
    luaL_argcheck(L, type == LUA_TSTRING || type == LUA_TNUMBER, i,
                  "a member name (string) or an array index (number) expected");
  }
}

// Where the fast scan declines: decode with cjson (raising as decode does), then index.
int get_slow(lua_State* L, int top) {
  lua_pushvalue(L, lua_upvalueindex(1));  // cjson's decode
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  for (int i = 2; i <= top; ++i) {
    if (!lua_istable(L, -1)) {
      lua_pushnil(L);
      return 1;
    }
    lua_pushvalue(L, i);
    lua_rawget(L, -2);
    lua_remove(L, -2);
  }
  return 1;
}

// strata.json.get(s, ...): decode(s)[a][b]... without building the tables around the answer.
int get(lua_State* L) {
  size_t len = 0;
  const char* json = luaL_checklstring(L, 1, &len);
  int top = lua_gettop(L);
  check_path(L, top);
  Token tape[kMaxTokens];
  Scanner scanner(json, len, tape);
  if (!scanner.document() || !lua_checkstack(L, 2 * scanner.depth() + 2)) return get_slow(L, top);
  const Token* t = tape;
  for (int i = 2; i <= top && t != nullptr; ++i) {
    if (lua_type(L, i) == LUA_TNUMBER) {
      t = element(t, lua_tonumber(L, i));
    } else {
      size_t n = 0;
      const char* name = lua_tolstring(L, i, &n);
      t = member(t, name, n);
    }
  }
  if (t == nullptr) {
    lua_pushnil(L);
  } else {
    build(L, t);
  }
  return 1;
}

}  // namespace

void push_json_decode(lua_State* L) {
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, get, 1);
  lua_insert(L, -2);
  lua_pushcclosure(L, decode, 1);
}

}  // namespace strata::lua
