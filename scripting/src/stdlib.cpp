#include "stdlib.hpp"

#include <cstdio>
#include <cstring>
#include <mutex>

#include "common/log.hpp"
#include "json_decode.hpp"
#include "sandbox.hpp"

// lua-cjson (Debian package lua-cjson, liblua5.1-cjson.so.0), opened host-side so that the
// sandboxed `require` is not needed. It resolves its lua_* symbols against LuaJIT.
extern "C" int luaopen_cjson(lua_State* L);

namespace strata::lua {
namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kP3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t kP5 = 0x27D4EB2F165667C5ULL;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
uint64_t read64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // little-endian host (x86-64, aarch64); the project targets only those
}
uint32_t read32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t round64(uint64_t acc, uint64_t input) { return rotl(acc + input * kP2, 31) * kP1; }
uint64_t merge(uint64_t acc, uint64_t val) { return (acc ^ round64(0, val)) * kP1 + kP4; }

int lua_hash(lua_State* L) {
  size_t len = 0;
  const char* s = luaL_checklstring(L, 1, &len);
  char hex[17];
  static const char kDigits[] = "0123456789abcdef";
  uint64_t h = hash64(std::string_view(s, len));
  for (int i = 15; i >= 0; --i, h >>= 4) hex[i] = kDigits[h & 0xF];
  lua_pushlstring(L, hex, 16);
  return 1;
}

int lua_log(lua_State* L) {
  const char* level_name = luaL_checkstring(L, 1);
  size_t len = 0;
  const char* msg = luaL_checklstring(L, 2, &len);
  strata_log_level level;
  if (!log::parse_level(level_name, &level)) {
    return luaL_argerror(L, 1, "level must be \"debug\", \"info\", \"warn\" or \"error\"");
  }
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  log::write(level, static_cast<StateContext*>(ud)->instance, {}, std::string_view(msg, len));
  return 0;
}

// print(...) as Lua's, but into the log at info level: stdout is not a place for a daemon.
constexpr const char* kPrint = R"lua(
local log, tostring, select, concat = strata.log, tostring, select, table.concat
print = function(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  log("info", concat(parts, "\t"))
end
)lua";

}  // namespace

uint64_t hash64(std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const unsigned char* end = p + data.size();
  uint64_t h;
  if (data.size() >= 32) {
    uint64_t v1 = kP1 + kP2, v2 = kP2, v3 = 0, v4 = 0 - kP1;
    for (; p + 32 <= end; p += 32) {
      v1 = round64(v1, read64(p));
      v2 = round64(v2, read64(p + 8));
      v3 = round64(v3, read64(p + 16));
      v4 = round64(v4, read64(p + 24));
    }
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge(h, v1);
    h = merge(h, v2);
    h = merge(h, v3);
    h = merge(h, v4);
  } else {
    h = kP5;
  }
  h += data.size();
  for (; p + 8 <= end; p += 8) h = rotl(h ^ round64(0, read64(p)), 27) * kP1 + kP4;
  if (p + 4 <= end) {
    h = rotl(h ^ (static_cast<uint64_t>(read32(p)) * kP1), 23) * kP2 + kP3;
    p += 4;
  }
  for (; p < end; ++p) h = rotl(h ^ (*p * kP5), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

std::string hash64_hex(std::string_view data) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash64(data)));
  return hex;
}

void open_strata_library(lua_State* L) {
  lua_newtable(L);  // strata

  lua_newtable(L);  // strata.json
  {
    // luaopen_cjson writes process globals (fpconv's locale probe): worker threads load their
    // states concurrently, so open it under a lock.
    static std::mutex cjson_open;
    std::lock_guard<std::mutex> lock(cjson_open);
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
  }
  for (const char* name : {"encode", "null"}) {
    lua_getfield(L, -1, name);
    lua_setfield(L, -3, name);
  }
  lua_getfield(L, -1, "decode");
  push_json_decode(L);  // cjson's decode with a fast path (json_decode.hpp)
  lua_setfield(L, -3, "decode");
  lua_pop(L, 1);  // cjson
  lua_setfield(L, -2, "json");

  lua_pushcfunction(L, lua_hash);
  lua_setfield(L, -2, "hash");
  lua_pushcfunction(L, lua_log);
  lua_setfield(L, -2, "log");
  lua_setglobal(L, "strata");

  luaL_dostring(L, kPrint);  // cannot fail: fixed text, only base functions
  lua_settop(L, 0);
}

}  // namespace strata::lua
