// strata.json.decode: lua-cjson's decode with a fast path. Strict JSON up to a size and depth is
// decoded here, each table created at its final size; anything else (escapes, numbers outside
// the strict grammar, what cjson accepts beyond JSON, every error) goes to cjson, so results and
// error messages stay cjson's. Installed by open_strata_library (stdlib.cpp).
#pragma once

#include <lua.hpp>

namespace strata::lua {

// Pops cjson's decode function and pushes strata.json.decode, which falls back to it.
void push_json_decode(lua_State* L);

}  // namespace strata::lua
