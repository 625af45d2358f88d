// The `strata` table every script sees: strata.json.decode/encode/null, strata.hash, strata.log
// (and print(), routed to strata.log). Installed by SandboxedState::create (sandbox.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <lua.hpp>

namespace strata::lua {

// Pushes nothing; sets the globals `strata` and `print`. Call with the base library open.
void open_strata_library(lua_State* L);

// XXH64 with seed 0: stable across runs, hosts and versions (it is a published algorithm).
uint64_t hash64(std::string_view data);
// hash64 as 16 lowercase hex digits: what strata.hash(s) returns.
std::string hash64_hex(std::string_view data);

}  // namespace strata::lua
