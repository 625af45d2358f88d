// strata.json.decode: lua-cjson's decode with a fast path. Strict JSON up to a size and depth is
// decoded here, each table created at its final size; anything else (escapes, numbers outside
// the strict grammar, what cjson accepts beyond JSON, every error) goes to cjson, so results and
// error messages stay cjson's. strata.json.get reads one value out of a document the same way.
// Installed by open_strata_library (stdlib.cpp).
#pragma once

#include <lua.hpp>

namespace strata::lua {

// Pops cjson's decode function and pushes strata.json.get, then strata.json.decode (on top);
// both fall back to cjson's decode. get(s, a, b, ...) is decode(s)[a][b]..., nil where a step
// meets a missing member or a value that is not a table, without building the tables around
// the answer: the whole document is still checked, so invalid JSON raises exactly as decode.
void push_json_decode(lua_State* L);

}  // namespace strata::lua
