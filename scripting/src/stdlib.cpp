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
// lua-mpack (Debian package lua-mpack, liblua5.1-mpack.so.0, libmpack-lua): MessagePack,
// opened host-side the same way. Its module table has pack/unpack/NIL (and streaming
// Packer/Unpacker/Session classes we do not expose).
extern "C" int luaopen_mpack(lua_State* L);

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

// The shape check strata.msgpack.decode makes before handing the text to lua-mpack's unpack:
// the text holds exactly one complete MessagePack value. lua-mpack mallocs each string's
// buffer when it meets the string's header (outside the Lua allocator, so outside the memory
// cap) and frees it only when the string is complete: a 5-byte "str32 of 4 GiB" header would
// allocate 4 GiB and, as the text ends there, never free it. Here every length is checked
// against the bytes that are left, so mpack only sees values whose strings are all present.
// Returns nullptr or the error (lua-mpack's own messages).
const char* check_msgpack(const unsigned char* p, size_t len) {
  const unsigned char* end = p + len;
  uint64_t pending = 1;  // values still to read
  auto big_endian = [](const unsigned char* q, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | q[i];
    return v;
  };
  while (pending > 0) {
    if (pending > static_cast<uint64_t>(end - p)) return "incomplete msgpack string";
    const unsigned c = *p++;
    --pending;
    uint64_t skip = 0, items = 0;
    int len_bytes = 0;      // bytes of a length field after the type byte
    uint64_t per_item = 0;  // 1 for arrays, 2 for maps, 0 for strings (length = bytes)
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
      continue;
    } else if (c <= 0x8f) {
      items = (c & 0x0f) * 2u;
    } else if (c <= 0x9f) {
      items = c & 0x0f;
    } else if (c <= 0xbf) {
      skip = c & 0x1f;
    } else if (c == 0xc1) {
      return "invalid msgpack string";
    } else if (c <= 0xc6) {  // bin 8/16/32
      len_bytes = 1 << (c - 0xc4);
    } else if (c <= 0xc9) {  // ext 8/16/32: length, then a type byte
      len_bytes = 1 << (c - 0xc7);
      skip = 1;
    } else if (c <= 0xd3) {  // float32, float64, uint8..64, int8..64
      static const uint8_t kSize[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
      skip = kSize[c - 0xca];
    } else if (c <= 0xd8) {  // fixext 1/2/4/8/16 and a type byte
      skip = 1 + (1u << (c - 0xd4));
    } else if (c <= 0xdb) {  // str 8/16/32
      len_bytes = 1 << (c - 0xd9);
    } else if (c <= 0xdd) {  // array 16/32
      len_bytes = c == 0xdc ? 2 : 4;
      per_item = 1;
    } else {  // map 16/32
      len_bytes = c == 0xde ? 2 : 4;
      per_item = 2;
    }
    if (len_bytes > 0) {
      if (end - p < len_bytes) return "incomplete msgpack string";
      uint64_t n = big_endian(p, len_bytes);
      p += len_bytes;
      if (per_item > 0) {
        items = n * per_item;
      } else {
        skip += n;
      }
    }
    if (skip > static_cast<uint64_t>(end - p)) return "incomplete msgpack string";
    p += skip;
    pending += items;  // at most 2 * 2^32 per value: cannot overflow 64 bits in len steps
  }
  return p == end ? nullptr : "trailing data in msgpack string";
}

// strata.msgpack.decode(s): check_msgpack, then lua-mpack's unpack (upvalue 1).
int lua_msgpack_decode(lua_State* L) {
  if (lua_gettop(L) != 1) return luaL_error(L, "expecting exactly 1 argument");
  size_t len = 0;
  const char* s = luaL_checklstring(L, 1, &len);
  if (const char* bad = check_msgpack(reinterpret_cast<const unsigned char*>(s), len)) {
    return luaL_error(L, "%s", bad);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

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
  push_json_decode(L);  // cjson's decode with a fast path, and get (json_decode.hpp)
  lua_setfield(L, -4, "decode");
  lua_setfield(L, -3, "get");
  lua_pop(L, 1);  // cjson
  lua_setfield(L, -2, "json");

  lua_newtable(L);  // strata.msgpack
  {
    // luaopen_mpack only touches this state (its metatables and the NIL sentinel live in this
    // state's registry), but it is opened under a lock like cjson so that a future version
    // writing process globals cannot race between worker threads loading their states.
    static std::mutex mpack_open;
    std::lock_guard<std::mutex> lock(mpack_open);
    lua_pushcfunction(L, luaopen_mpack);
    lua_call(L, 0, 1);
  }
  lua_getfield(L, -1, "pack");
  lua_setfield(L, -3, "encode");
  lua_getfield(L, -1, "unpack");
  lua_pushcclosure(L, lua_msgpack_decode, 1);  // unpack behind a shape check
  lua_setfield(L, -3, "decode");
  lua_getfield(L, -1, "NIL");
  lua_setfield(L, -3, "null");
  lua_pop(L, 1);  // mpack
  lua_setfield(L, -2, "msgpack");

  lua_pushcfunction(L, lua_hash);
  lua_setfield(L, -2, "hash");
  lua_pushcfunction(L, lua_log);
  lua_setfield(L, -2, "log");
  lua_setglobal(L, "strata");

  luaL_dostring(L, kPrint);  // cannot fail: fixed text, only base functions
  lua_settop(L, 0);
}

}  // namespace strata::lua
