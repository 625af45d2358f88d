// Bounded Lua pattern matching: string.find, string.match, string.gmatch and string.gsub with
// Lua 5.1 / LuaJIT semantics, but every matcher step is charged to the hook's instruction
// budget. LuaJIT's count hook never fires inside a C function, so its own matcher can backtrack
// for hours on one call (string.find(five_mb, string.rep("a*", 10) .. "b")). Installed by
// SandboxedState::create for states with a budget (sandbox.cpp).
#pragma once

#include <lua.hpp>

namespace strata::lua {

// Replaces the four functions in the global `string` table (which is also the strings'
// metatable __index, so s:find(...) uses them too). Raises on failure: call it protected.
void open_bounded_patterns(lua_State* L);

}  // namespace strata::lua
