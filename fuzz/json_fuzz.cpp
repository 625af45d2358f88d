// libFuzzer target: strata.json.decode and strata.json.get against lua-cjson. The input is one
// JSON text (any bytes). In a sandboxed hook state it is decoded with strata.json.decode (the
// fast path of json_decode.cpp, falling back to cjson) and read with strata.json.get along a
// few paths; in a plain Lua state the same text is decoded with cjson's decode and indexed in
// Lua. Both states print what they got with the same dump (keys sorted, -0 and NaN spelled
// out, errors with their message): any difference is a bug of the fast path.
#include <unistd.h>
#include <lua.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "common/log.hpp"
#include "lua_hooks.hpp"
#include "lua_json_dump.hpp"

namespace {

// Shared by both states, after kLuaJsonDump: `decode`, `get` and `null` are set before it runs.
constexpr const char* kCheck = R"lua(
local function first_key(t)
  local best
  for k in pairs(t) do
    if best == nil or dump_order(k, best) then best = k end
  end
  return best
end
function check(s)
  local ok, v = pcall(decode, s)
  local out = {tostring(ok) .. ':' .. (ok and dump(v) or tostring(v))}
  -- get along the smallest key at each level (the same in both states), and paths that miss
  local path, cur = {}, ok and v or nil
  for _ = 1, 3 do
    if type(cur) ~= 'table' then break end
    local k = first_key(cur)
    if k == nil then break end
    path[#path + 1] = k
    cur = cur[k]
  end
  for _, p in ipairs({path, {'\0missing'}, {1}, {1, 1}, {2}}) do
    local ok2, g = pcall(get, s, unpack(p))
    out[#out + 1] = tostring(ok2) .. ':' .. (ok2 and dump(g) or tostring(g))
  end
  return table.concat(out, '\n')
end
)lua";

// The reference `get`: cjson's decode, then plain indexing; cjson's error as it raised it (a
// Lua caller would add its own position to the message, a C function's call does not).
constexpr const char* kReferenceGet = R"lua(
function get(s, ...)
  local ok, v = pcall(decode, s)
  if not ok then error(v, 0) end
  for i = 1, select('#', ...) do
    if type(v) ~= 'table' then return nil end
    v = v[select(i, ...)]
  end
  return v
end
)lua";

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "json_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

lua_State* reference = nullptr;
std::unique_ptr<strata::lua::KeyHooks> hooks;

void open_reference() {
  reference = strata::test::new_cjson_state();
  if (!reference) broken("luaL_newstate failed", "");
  std::atexit([] { lua_close(reference); });  // cjson frees its buffers in the state's GC
  const std::string check = std::string(strata::test::kLuaJsonDump) + kCheck;
  if (luaL_dostring(reference, kReferenceGet) != 0 || luaL_dostring(reference, check.c_str()) != 0)
    broken("the reference script does not load", lua_tostring(reference, -1));
}

void load_hooks() {
  char tmpl[] = "/tmp/strata-json-fuzz-XXXXXX";
  if (!mkdtemp(tmpl)) broken("mkdtemp failed", tmpl);
  std::string dir = tmpl, path = dir + "/json.lua";
  std::ofstream(path) << "decode, get, null = strata.json.decode, strata.json.get, "
                         "strata.json.null\n"
                      << strata::test::kLuaJsonDump << kCheck
                      << "function key(r) return check(r.value) end\n";
  strata::lua::ScriptSettings s;
  s.path = path;
  s.instruction_budget = 50'000'000;  // dump of a 4 KiB document: well under 1 M
  s.memory_limit_bytes = 64 << 20;
  s.instance = "pipelines.fuzz";
  auto loaded = strata::lua::KeyHooks::load(s);
  unlink(path.c_str());
  rmdir(dir.c_str());
  if (!loaded) broken("the fuzz script does not load", loaded.error());
  hooks = std::move(loaded.value());
}

std::string run_reference(const std::string& text) {
  lua_settop(reference, 0);
  lua_getglobal(reference, "check");
  lua_pushlstring(reference, text.data(), text.size());
  if (lua_pcall(reference, 1, 1, 0) != 0) broken("the reference check raised", text);
  size_t len = 0;
  const char* s = lua_tolstring(reference, -1, &len);
  std::string out(s, len);
  lua_settop(reference, 0);
  lua_gc(reference, LUA_GCSTEP, 0);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  strata::log::set_level(STRATA_LOG_ERROR);
  open_reference();
  load_hooks();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return -1;
  std::string text(reinterpret_cast<const char*>(data), size);
  strata_record rec{};
  rec.struct_size = sizeof rec;
  rec.topic = "fuzz";
  rec.key = {"k", 1};
  rec.value = {text.data(), text.size()};
  rec.timestamp_ms = -1;
  strata::lua::HookResult out;
  std::string error;
  if (!hooks->run(rec, out, error)) broken("the strata check raised", error + "\n" + text);
  if (out.keys.size() != 1) broken("the check returned no key", text);
  std::string want = run_reference(text);
  if (out.keys[0] != want)
    broken("strata.json differs from cjson",
           "input: " + text + "\nstrata:\n" + out.keys[0] + "\ncjson:\n" + want);
  return 0;
}
