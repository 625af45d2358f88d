#include "pattern.hpp"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sandbox.hpp"

namespace strata::lua {
namespace {

// A backtracking matcher for Lua 5.1 patterns (the manual's section 5.4.1), written to the same
// semantics as LuaJIT's lib_string.c, with two differences: each step costs one budget unit,
// and the recursion depth is bounded as LuaJIT bounds it ("pattern too complex").
constexpr int kMaxCaptures = 32;  // LUA_MAXCAPTURES
constexpr int kMaxDepth = 200;    // LuaJIT's LJ_MAX_XLEVEL
constexpr ptrdiff_t kUnfinished = -1;
constexpr ptrdiff_t kPosition = -2;
// memchr/memcmp scan ~16 bytes in the time of one matcher step (or one VM instruction).
constexpr int64_t kScanBytesPerStep = 16;
constexpr const char kSpecials[] = "^$*+?.([%-";

struct Match {
  lua_State* L;
  const char* fname;  // "string.find", ... for the budget message
  const char* src_init;
  const char* src_end;
  const char* pat_end;
  int level = 0;  // captures open or closed so far
  int depth = 0;
  int64_t steps = 0;
  int64_t limit = 0;  // steps this call may take before the budget is exhausted
  struct {
    const char* init;
    ptrdiff_t len;
  } capture[kMaxCaptures];
};

unsigned char uc(char c) { return static_cast<unsigned char>(c); }

void charge(Match& m, int64_t n) {
  m.steps += n;
  if (m.steps > m.limit) raise_budget_exhausted(m.L, m.fname);
}

const char* class_end(Match& m, const char* p) {
  char c = *p++;
  if (c == '%') {
    if (p >= m.pat_end) luaL_error(m.L, "malformed pattern (ends with '%%')");
    return p + 1;
  }
  if (c == '[') {
    if (*p == '^') ++p;
    do {  // the first character after [ or [^ is a member even if it is ]
      if (p >= m.pat_end) luaL_error(m.L, "malformed pattern (missing ']')");
      if (*p++ == '%' && p < m.pat_end) ++p;
    } while (*p != ']');  // Lua strings end with a NUL, so *pat_end is readable
    return p + 1;
  }
  return p;
}

bool match_class(int c, int cl) {
  bool res;
  switch (std::tolower(cl)) {
    case 'a':
      res = std::isalpha(c);
      break;
    case 'c':
      res = std::iscntrl(c);
      break;
    case 'd':
      res = std::isdigit(c);
      break;
    case 'l':
      res = std::islower(c);
      break;
    case 'p':
      res = std::ispunct(c);
      break;
    case 's':
      res = std::isspace(c);
      break;
    case 'u':
      res = std::isupper(c);
      break;
    case 'w':
      res = std::isalnum(c);
      break;
    case 'x':
      res = std::isxdigit(c);
      break;
    case 'z':
      res = c == 0;
      break;
    default:
      return cl == c;
  }
  return std::isupper(cl) ? !res : res;
}

// p is the '[' of a set and ec its closing ']'.
bool match_set(int c, const char* p, const char* ec) {
  bool found = true;
  if (p[1] == '^') {
    found = false;
    ++p;
  }
  while (++p < ec) {
    if (*p == '%') {
      ++p;
      if (match_class(c, uc(*p))) return found;
    } else if (p[1] == '-' && p + 2 < ec) {
      p += 2;
      if (uc(p[-2]) <= c && c <= uc(*p)) return found;
    } else if (uc(*p) == c) {
      return found;
    }
  }
  return !found;
}

// Does the single-character item p..ep match the character at s?
bool single_match(const Match& m, const char* s, const char* p, const char* ep) {
  if (s >= m.src_end) return false;
  int c = uc(*s);
  switch (*p) {
    case '.':
      return true;
    case '%':
      return match_class(c, uc(p[1]));
    case '[':
      return match_set(c, p, ep - 1);
    default:
      return uc(*p) == c;
  }
}

const char* do_match(Match& m, const char* s, const char* p);

const char* match_balance(Match& m, const char* s, const char* p) {
  if (p + 1 >= m.pat_end) luaL_error(m.L, "unbalanced pattern");  // LuaJIT's words
  if (s >= m.src_end || *s != *p) return nullptr;
  char open = *p, close = p[1];
  int depth = 1;
  while (++s < m.src_end) {
    charge(m, 1);
    if (*s == close) {
      if (--depth == 0) return s + 1;
    } else if (*s == open) {
      ++depth;
    }
  }
  return nullptr;
}

const char* max_expand(Match& m, const char* s, const char* p, const char* ep) {
  ptrdiff_t i = 0;
  while (single_match(m, s + i, p, ep)) ++i;
  charge(m, i);
  for (; i >= 0; --i) {  // the longest run first, then give back one character at a time
    if (const char* res = do_match(m, s + i, ep + 1)) return res;
  }
  return nullptr;
}

const char* min_expand(Match& m, const char* s, const char* p, const char* ep) {
  for (;;) {
    if (const char* res = do_match(m, s, ep + 1)) return res;
    if (!single_match(m, s, p, ep)) return nullptr;
    ++s;
  }
}

const char* start_capture(Match& m, const char* s, const char* p, ptrdiff_t what) {
  if (m.level >= kMaxCaptures) luaL_error(m.L, "too many captures");
  m.capture[m.level].init = s;
  m.capture[m.level].len = what;
  ++m.level;
  const char* res = do_match(m, s, p);
  if (res == nullptr) --m.level;
  return res;
}

const char* end_capture(Match& m, const char* s, const char* p) {
  int l = m.level - 1;
  while (l >= 0 && m.capture[l].len != kUnfinished) --l;
  if (l < 0) luaL_error(m.L, "invalid pattern capture");
  m.capture[l].len = s - m.capture[l].init;
  const char* res = do_match(m, s, p);
  if (res == nullptr) m.capture[l].len = kUnfinished;
  return res;
}

const char* match_capture(Match& m, const char* s, int digit) {
  int l = digit - '1';
  if (l < 0 || l >= m.level || m.capture[l].len == kUnfinished) {
    luaL_error(m.L, "invalid capture index");
  }
  ptrdiff_t len = m.capture[l].len;
  if (len < 0) return nullptr;  // a position capture matches no text
  charge(m, len / kScanBytesPerStep);
  if (m.src_end - s >= len && std::memcmp(m.capture[l].init, s, len) == 0) return s + len;
  return nullptr;
}

const char* match_items(Match& m, const char* s, const char* p) {
  for (;; charge(m, 1)) {
    if (p == m.pat_end) return s;
    switch (*p) {
      case '(':
        if (p[1] == ')') return start_capture(m, s, p + 2, kPosition);
        return start_capture(m, s, p + 1, kUnfinished);
      case ')':
        return end_capture(m, s, p + 1);
      case '$':
        if (p + 1 == m.pat_end) return s == m.src_end ? s : nullptr;
        break;  // an ordinary character
      case '%':
        if (p[1] == 'b') {
          s = match_balance(m, s, p + 2);
          if (s == nullptr) return nullptr;
          p += 4;
          continue;
        }
        if (p[1] == 'f') {
          p += 2;
          if (*p != '[') luaL_error(m.L, "missing '[' after '%%f' in pattern");
          const char* ep = class_end(m, p);
          int prev = s == m.src_init ? 0 : uc(s[-1]);
          int cur = s < m.src_end ? uc(*s) : 0;
          if (match_set(prev, p, ep - 1) || !match_set(cur, p, ep - 1)) return nullptr;
          p = ep;
          continue;
        }
        if (std::isdigit(uc(p[1]))) {
          s = match_capture(m, s, uc(p[1]));
          if (s == nullptr) return nullptr;
          p += 2;
          continue;
        }
        break;  // %a, %%, ...: a single-character item
      default:
        break;
    }
    const char* ep = class_end(m, p);
    bool matched = single_match(m, s, p, ep);
    switch (*ep) {  // *pat_end is the string's NUL: no quantifier
      case '?':
        if (matched) {
          if (const char* res = do_match(m, s + 1, ep + 1)) return res;
        }
        p = ep + 1;
        continue;
      case '*':
        return max_expand(m, s, p, ep);
      case '+':
        return matched ? max_expand(m, s + 1, p, ep) : nullptr;
      case '-':
        return min_expand(m, s, p, ep);
      default:
        if (!matched) return nullptr;
        ++s;
        p = ep;
        continue;
    }
  }
}

const char* do_match(Match& m, const char* s, const char* p) {
  if (++m.depth > kMaxDepth) luaL_error(m.L, "pattern too complex");
  charge(m, 1);
  const char* res = match_items(m, s, p);
  --m.depth;
  return res;
}

void push_capture(Match& m, int i, const char* s, const char* e) {
  if (i >= m.level) {
    if (i != 0) luaL_error(m.L, "invalid capture index");
    lua_pushlstring(m.L, s, e - s);  // no captures: the whole match
    return;
  }
  ptrdiff_t len = m.capture[i].len;
  if (len == kUnfinished) luaL_error(m.L, "unfinished capture");
  if (len == kPosition) {
    lua_pushinteger(m.L, m.capture[i].init - m.src_init + 1);
  } else {
    lua_pushlstring(m.L, m.capture[i].init, len);
  }
}

int push_captures(Match& m, const char* s, const char* e) {
  int n = (m.level == 0 && s != nullptr) ? 1 : m.level;
  luaL_checkstack(m.L, n, "too many captures");
  for (int i = 0; i < n; ++i) push_capture(m, i, s, e);
  return n;
}

void init_match(Match& m, lua_State* L, const char* fname, const char* s, size_t ls, const char* p,
                size_t lp) {
  m.L = L;
  m.fname = fname;
  m.src_init = s;
  m.src_end = s + ls;
  m.pat_end = p + lp;
  m.limit = budget_left(L);
}

bool has_specials(const char* p, size_t lp) {
  for (size_t i = 0; i < lp; ++i) {
    if (std::memchr(kSpecials, p[i], sizeof kSpecials - 1) != nullptr) return true;
  }
  return false;
}

// Where a match can start: if the pattern begins with a plain character that must be there
// (not followed by ?, * or -), memchr skips to it at the cost of a scan, not of a step per byte.
const char* next_candidate(Match& m, const char* s, const char* p) {
  if (p == m.pat_end || std::memchr(kSpecials, *p, sizeof kSpecials - 1) != nullptr || *p == ')' ||
      std::memchr("?*-", p[1], 3) != nullptr || s >= m.src_end) {
    return s;
  }
  const void* hit = std::memchr(s, *p, m.src_end - s);
  const char* next = hit ? static_cast<const char*>(hit) : m.src_end;
  charge(m, (next - s) / kScanBytesPerStep);
  return next;
}

ptrdiff_t start_index(lua_State* L, int arg, size_t len) {
  lua_Integer init = luaL_optinteger(L, arg, 1);
  if (init < 0) init += static_cast<lua_Integer>(len) + 1;  // -1 is the last character
  return init < 1 ? 0 : static_cast<ptrdiff_t>(init - 1);
}

int find_or_match(lua_State* L, bool find) {
  size_t ls = 0, lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  ptrdiff_t init = start_index(L, 3, ls);
  if (static_cast<size_t>(init) > ls) init = static_cast<ptrdiff_t>(ls);  // as LuaJIT (5.1 mode)
  Match m;
  init_match(m, L, find ? "string.find" : "string.match", s, ls, p, lp);
  if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
    // Plain search: memchr to each candidate first character, memcmp the rest.
    const char* from = s + init;
    const char* hit = nullptr;
    if (lp == 0) {
      hit = from;
    } else {
      for (const char* c = from; ls - (c - s) >= lp; ++c) {
        const void* first = std::memchr(c, *p, ls - (c - s) - lp + 1);
        charge(m, (static_cast<const char*>(first ? first : s + ls) - c) / kScanBytesPerStep + 1);
        if (first == nullptr) break;
        c = static_cast<const char*>(first);
        charge(m, static_cast<int64_t>(lp) / kScanBytesPerStep);
        if (std::memcmp(c, p, lp) == 0) {
          hit = c;
          break;
        }
      }
    }
    charge_budget(L, m.steps);
    if (hit == nullptr) {
      lua_pushnil(L);
      return 1;
    }
    lua_pushinteger(L, hit - s + 1);
    lua_pushinteger(L, hit - s + static_cast<ptrdiff_t>(lp));
    return 2;
  }
  bool anchor = lp > 0 && *p == '^';
  if (anchor) ++p;
  const char* src = s + init;
  for (;;) {
    if (!anchor) src = next_candidate(m, src, p);
    m.level = 0;
    m.depth = 0;
    if (const char* e = do_match(m, src, p)) {
      charge_budget(L, m.steps);
      if (find) {
        lua_pushinteger(L, src - s + 1);
        lua_pushinteger(L, e - s);
        return push_captures(m, nullptr, nullptr) + 2;
      }
      return push_captures(m, src, e);
    }
    if (anchor || src >= m.src_end) break;
    ++src;
  }
  charge_budget(L, m.steps);
  lua_pushnil(L);
  return 1;
}

int str_find(lua_State* L) { return find_or_match(L, true); }
int str_match(lua_State* L) { return find_or_match(L, false); }

int gmatch_next(lua_State* L) {
  size_t ls = 0, lp = 0;
  const char* s = lua_tolstring(L, lua_upvalueindex(1), &ls);
  const char* p = lua_tolstring(L, lua_upvalueindex(2), &lp);
  auto pos = static_cast<ptrdiff_t>(lua_tointeger(L, lua_upvalueindex(3)));
  Match m;
  init_match(m, L, "string.gmatch", s, ls, p, lp);
  for (const char* src = s + pos; src <= m.src_end; ++src) {  // '^' is not an anchor here
    m.level = 0;
    m.depth = 0;
    if (const char* e = do_match(m, src, p)) {
      ptrdiff_t next = e - s;
      if (e == src) ++next;  // an empty match: move on by at least one character
      lua_pushinteger(L, next);
      lua_replace(L, lua_upvalueindex(3));
      charge_budget(L, m.steps);
      return push_captures(m, src, e);
    }
  }
  charge_budget(L, m.steps);
  lua_pushinteger(L, static_cast<lua_Integer>(ls) + 1);  // exhausted: stay exhausted
  lua_replace(L, lua_upvalueindex(3));
  return 0;
}

int str_gmatch(lua_State* L) {
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, gmatch_next, 3);
  return 1;
}

void add_replacement(Match& m, luaL_Buffer& b, const char* s, const char* e) {
  lua_State* L = m.L;
  switch (lua_type(L, 3)) {
    case LUA_TNUMBER:
    case LUA_TSTRING: {
      size_t l = 0;
      const char* r = lua_tolstring(L, 3, &l);
      charge(m, static_cast<int64_t>(l) / kScanBytesPerStep);
      for (size_t i = 0; i < l; ++i) {
        if (r[i] != '%') {
          luaL_addchar(&b, r[i]);
        } else if (!std::isdigit(uc(r[++i]))) {  // a trailing % reads the NUL, as in LuaJIT
          luaL_addchar(&b, r[i]);                // %x is x (Lua 5.1)
        } else if (r[i] == '0') {
          luaL_addlstring(&b, s, e - s);
        } else {
          push_capture(m, r[i] - '1', s, e);
          luaL_addvalue(&b);
        }
      }
      return;
    }
    case LUA_TFUNCTION: {
      lua_pushvalue(L, 3);
      int n = push_captures(m, s, e);
      lua_call(L, n, 1);
      break;
    }
    case LUA_TTABLE:
      push_capture(m, 0, s, e);
      lua_gettable(L, 3);
      break;
  }
  if (!lua_toboolean(L, -1)) {  // nil or false: keep the original text
    lua_pop(L, 1);
    lua_pushlstring(L, s, e - s);
  } else if (!lua_isstring(L, -1)) {
    luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  }
  luaL_addvalue(&b);
}

int str_gsub(lua_State* L) {
  size_t ls = 0, lp = 0;
  const char* src = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  int tr = lua_type(L, 3);
  luaL_argcheck(L,
                tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                3, "string/function/table expected");
  lua_Integer max_n = luaL_optinteger(L, 4, static_cast<lua_Integer>(ls) + 1);
  Match m;
  init_match(m, L, "string.gsub", src, ls, p, lp);
  bool anchor = lp > 0 && *p == '^';
  if (anchor) ++p;
  // A replacement function or table runs Lua code, which charges the budget itself: re-read
  // what is left after each one rather than let the matcher spend it a second time.
  bool runs_lua = tr == LUA_TFUNCTION || tr == LUA_TTABLE;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_Integer n = 0;
  const char* copied = src;  // text before `src` not yet in the buffer is copied in one piece
  while (n < max_n) {
    m.level = 0;
    m.depth = 0;
    const char* e = do_match(m, src, p);
    if (e != nullptr) {
      ++n;
      luaL_addlstring(&b, copied, src - copied);
      add_replacement(m, b, src, e);
      copied = e > src ? e : src;
      if (runs_lua) {
        charge_budget(L, m.steps);
        m.steps = 0;
        m.limit = budget_left(L);
      }
    }
    if (e != nullptr && e > src) {
      src = e;
    } else if (src < m.src_end) {
      ++src;
    } else {
      break;
    }
    if (anchor) break;
  }
  charge_budget(L, m.steps);
  luaL_addlstring(&b, copied, m.src_end - copied);
  luaL_pushresult(&b);
  lua_pushinteger(L, n);
  return 2;
}

}  // namespace

void open_bounded_patterns(lua_State* L) {
  lua_getglobal(L, "string");
  lua_pushcfunction(L, str_find);
  lua_setfield(L, -2, "find");
  lua_pushcfunction(L, str_match);
  lua_setfield(L, -2, "match");
  lua_pushcfunction(L, str_gmatch);
  lua_setfield(L, -2, "gmatch");
  lua_pushcfunction(L, str_gsub);
  lua_setfield(L, -2, "gsub");
  lua_pop(L, 1);
}

}  // namespace strata::lua
