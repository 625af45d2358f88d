#include "record_view.hpp"

#include <string_view>

namespace strata::lua {
namespace {

// Why lazy: per record, writing seven fields into a table cost ~150 ns, and interning a 256-byte
// value ~100 ns more, even for a key() that only reads r.key. Scalars are served on every access
// (cheap to push); strings and the headers table are kept after their first access so a value
// read by both key() and value() is interned once. They are kept in upvalues of the __index
// closure, not in the table: the table stays empty (begin_record's check for forged fields is one
// lua_next on an empty table) and dropping the previous record's copies is clearing a bit.
enum CachedField : int { kKeySlot = 2, kValueSlot = 3, kHeadersSlot = 4 };  // upvalue indexes

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
  int slot = 0;
  if (field == "key") {
    slot = kKeySlot;
  } else if (field == "value") {
    slot = kValueSlot;
  } else if (field == "headers") {
    slot = kHeadersSlot;
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
  if (slot == 0) return 1;
  unsigned bit = 1u << slot;
  if (view->cached & bit) {
    lua_pushvalue(L, lua_upvalueindex(slot));
    return 1;
  }
  if (slot == kHeadersSlot) {
    push_headers(L, *rec);
  } else {
    push_bytes(L, slot == kKeySlot ? rec->key : rec->value);
  }
  lua_pushvalue(L, -1);
  lua_replace(L, lua_upvalueindex(slot));
  view->cached |= bit;
  return 1;
}

int record_newindex(lua_State* L) {
  return luaL_error(L, "the record is read-only (copy the fields you change into a local)");
}

}  // namespace

void push_record_table(lua_State* L, RecordView* view) {
  lua_createtable(L, 0, 0);
  lua_createtable(L, 0, 3);
  lua_pushlightuserdata(L, view);
  lua_pushnil(L);  // the record's key, value and headers once read (CachedField)
  lua_pushnil(L);
  lua_pushnil(L);
  lua_pushcclosure(L, record_index, 4);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, record_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, false);  // getmetatable(record) cannot reach (and change) the metatable
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

void begin_record(lua_State* L, int record, RecordView* view, const strata_record* rec) {
  view->cached = 0;  // the previous record's strings stay in the upvalues until replaced
  // __newindex stops `record.x = v`, but rawset(record, "key", "forged") writes the table itself
  // and would show in every later record. The table is empty unless a script put something
  // there: then hand out a fresh table instead (one lua_next when nothing was forged; a fresh
  // table also drops whatever a script made the old one grow to).
  lua_pushnil(L);
  if (lua_next(L, record) != 0) {
    lua_pop(L, 2);
    lua_getmetatable(L, record);  // the real one: the C API ignores __metatable
    lua_createtable(L, 0, 0);
    lua_insert(L, -2);
    lua_setmetatable(L, -2);
    lua_replace(L, record);
  }
  view->current = rec;
}

}  // namespace strata::lua
