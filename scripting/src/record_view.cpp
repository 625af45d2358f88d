#include "record_view.hpp"

#include <string_view>

namespace strata::lua {
namespace {

// Why lazy: per record, writing seven fields into a table cost ~150 ns, and interning a 256-byte
// value ~100 ns more, even for a key() that only reads r.key. Scalars are served on every access
// (cheap to push); strings and the headers table are cached raw after their first access so a
// value read by both key() and value() is interned once.
enum CachedField : unsigned { kKeyBit = 1, kValueBit = 2, kHeadersBit = 4 };
constexpr const char* kCachedNames[] = {"key", "value", "headers"};

void push_bytes(lua_State* L, const strata_bytes& b) {
  if (b.data == nullptr) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, b.data, b.len);
  }
}

void push_headers(lua_State* L, const strata_record& rec) {
  lua_createtable(L, 0, static_cast<int>(rec.header_count));
  for (size_t i = 0; i < rec.header_count; ++i) {
    const strata_header& h = rec.headers[i];
    lua_pushlstring(L, h.key.data ? h.key.data : "", h.key.data ? h.key.len : 0);
    lua_pushlstring(L, h.value.data ? h.value.data : "", h.value.data ? h.value.len : 0);
    lua_rawset(L, -3);  // a repeated name: the last value wins
  }
}

int record_index(lua_State* L) {
  auto* view = static_cast<RecordView*>(lua_touserdata(L, lua_upvalueindex(1)));
  const strata_record* rec = view->current;
  size_t len = 0;
  const char* s = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : nullptr;
  if (rec == nullptr || s == nullptr) return 0;  // e.g. a record kept past its run()
  std::string_view field(s, len);
  unsigned bit = 0;
  if (field == "key") {
    push_bytes(L, rec->key);
    bit = kKeyBit;
  } else if (field == "value") {
    push_bytes(L, rec->value);
    bit = kValueBit;
  } else if (field == "headers") {
    push_headers(L, *rec);
    bit = kHeadersBit;
  } else if (field == "topic") {
    lua_pushstring(L, rec->topic ? rec->topic : "");
  } else if (field == "partition") {
    lua_pushnumber(L, rec->partition);
  } else if (field == "offset") {
    lua_pushnumber(L, static_cast<lua_Number>(rec->offset));
  } else if (field == "timestamp") {
    if (rec->timestamp_ms < 0) return 0;  // unknown
    lua_pushnumber(L, static_cast<lua_Number>(rec->timestamp_ms));
  } else {
    return 0;
  }
  if (bit != 0 && !lua_isnil(L, -1)) {
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    view->cached |= bit;
  }
  return 1;
}

int record_newindex(lua_State* L) {
  return luaL_error(L, "the record is read-only (copy the fields you change into a local)");
}

}  // namespace

void push_record_table(lua_State* L, RecordView* view) {
  lua_createtable(L, 0, 3);
  lua_createtable(L, 0, 3);
  lua_pushlightuserdata(L, view);
  lua_pushcclosure(L, record_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, record_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, false);  // getmetatable(record) cannot reach (and change) the metatable
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

void begin_record(lua_State* L, int record, RecordView* view, const strata_record* rec) {
  for (unsigned i = 0; view->cached != 0; ++i) {
    if ((view->cached & (1u << i)) == 0) continue;
    lua_pushstring(L, kCachedNames[i]);
    lua_pushnil(L);
    lua_rawset(L, record);
    view->cached &= ~(1u << i);
  }
  // __newindex stops `record.x = v`, but rawset(record, "key", "forged") writes the table itself
  // and would show in every later record. Whatever is left after dropping our own cache was put
  // there by a script: hand out a fresh table instead (one lua_next when nothing was forged; a
  // fresh table also drops whatever a script made the old one grow to).
  lua_pushnil(L);
  if (lua_next(L, record) != 0) {
    lua_pop(L, 2);
    lua_getmetatable(L, record);  // the real one: the C API ignores __metatable
    lua_createtable(L, 0, 3);
    lua_insert(L, -2);
    lua_setmetatable(L, -2);
    lua_replace(L, record);
  }
  view->current = rec;
}

}  // namespace strata::lua
