// Lua source of `dump(v)`: a Lua value as text that two Lua states print alike (table keys
// sorted by dump_order, -0 and NaN spelled out, numbers with 17 digits, the JSON null sentinel,
// read from a global `null` when dump runs, as `null`). Prepended to the scripts that compare
// strata.json with lua-cjson: tests/scripting and fuzz/json_fuzz.
#pragma once

#include <lua.hpp>

extern "C" int luaopen_cjson(lua_State* L);  // liblua5.1-cjson, linked by strata_scripting

namespace strata::test {

// A plain Lua state (standard libraries, no sandbox) whose globals `decode` and `null` are
// lua-cjson's: the reference the comparisons run against. nullptr if no state could be made.
inline lua_State* new_cjson_state() {
  lua_State* L = luaL_newstate();
  if (L == nullptr) return nullptr;
  luaL_openlibs(L);
  lua_pushcfunction(L, luaopen_cjson);
  lua_call(L, 0, 1);
  lua_getfield(L, -1, "decode");
  lua_setglobal(L, "decode");
  lua_getfield(L, -1, "null");
  lua_setglobal(L, "null");
  lua_pop(L, 1);
  return L;
}

inline constexpr const char* kLuaJsonDump = R"lua(
local function dump_order(a, b)
  if type(a) ~= type(b) then return type(a) < type(b) end
  return a < b
end
local function dump(v)
  local t = type(v)
  if t == 'table' then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, dump_order)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = dump(k) .. '=' .. dump(v[k]) end
    return '{' .. table.concat(parts, ',') .. '}'
  elseif t == 'number' then
    if v ~= v then return 'nan' end
    if v == 0 and 1 / v < 0 then return '-0' end
    return string.format('%.17g', v)
  elseif t == 'string' then
    return string.format('%q', v)
  elseif t == 'userdata' then
    return v == null and 'null' or 'userdata'
  end
  return tostring(v)
end
)lua";

}  // namespace strata::test
