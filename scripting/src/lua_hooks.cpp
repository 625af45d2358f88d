#include "lua_hooks.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "record_view.hpp"
#include "sandbox.hpp"

namespace strata::lua {
namespace {

// Values pinned on the state's stack for its whole life: reaching them is an index, not a
// registry or global lookup.
enum Slot : int {
  kHandler = SandboxedState::kHandlerSlot,  // 1
  kJsonEncode,                              // strata.json.encode as it was before the script ran
  kRecord,                                  // the record table, reused for every record
  kHookFirst,  // key, ttl, value, invalidate, version, tags, invalidate_tags (nil if absent)
  kPinned = kHookFirst + 6,
};

constexpr const char* kHookNames[] = {"key",     "ttl",  "value",          "invalidate",
                                      "version", "tags", "invalidate_tags"};
constexpr int kKey = 0, kTtl = 1, kValue = 2, kInvalidate = 3, kVersion = 4, kTags = 5,
              kInvalidateTags = 6;
constexpr int kLastHook = kInvalidateTags;

// A tag is an index key in the durable tier and a word in its messages: 1..kMaxTagBytes
// printable bytes without spaces (what a memcached key may hold, shorter).
std::string check_tags(const char* hook, const std::vector<std::string>& tags) {
  if (tags.size() > kMaxTagsPerRecord)
    return std::string(hook) + " returned " + std::to_string(tags.size()) + " tags; at most " +
           std::to_string(kMaxTagsPerRecord) + " per record";
  for (size_t i = 0; i < tags.size(); ++i) {
    const std::string& t = tags[i];
    if (t.empty() || t.size() > kMaxTagBytes)
      return std::string(hook) + " returned a tag of " + std::to_string(t.size()) + " bytes at [" +
             std::to_string(i + 1) + "]; expected 1 to " + std::to_string(kMaxTagBytes);
    for (unsigned char c : t)
      if (c <= 0x20 || c == 0x7f)
        return std::string(hook) + " returned a tag with a space or control character at [" +
               std::to_string(i + 1) + "]";
  }
  return {};
}

std::string type_error(const char* hook, lua_State* L, int idx, const char* expected) {
  return std::string(hook) + " returned a " + luaL_typename(L, idx) + "; expected " + expected;
}

// A string or an array of strings at the top of the stack.
bool collect_strings(lua_State* L, const char* hook, std::vector<std::string>& out,
                     std::string& error) {
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    out.emplace_back(s, len);
    return true;
  }
  if (lua_type(L, -1) != LUA_TTABLE) {
    error = type_error(hook, L, -1, "a string, a table of strings or nil");
    return false;
  }
  size_t n = lua_objlen(L, -1);
  out.reserve(n);
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, -1, static_cast<int>(i));
    if (lua_type(L, -1) != LUA_TSTRING) {
      error = std::string(hook) + " returned a table whose element [" + std::to_string(i) +
              "] is a " + luaL_typename(L, -1) + "; expected strings";
      lua_pop(L, 1);
      return false;
    }
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    out.emplace_back(s, len);
    lua_pop(L, 1);
  }
  return true;
}

bool read_version(lua_State* L, uint64_t& version, std::string& error) {
  constexpr double kMaxExact = 9007199254740992.0;  // 2^53: larger doubles are not exact
  if (lua_type(L, -1) == LUA_TNUMBER) {
    double d = lua_tonumber(L, -1);
    if (!(d >= 0) || d > kMaxExact || std::floor(d) != d) {
      error = "version() returned " + std::string(lua_tostring(L, -1)) +
              "; expected a non-negative integer (a decimal string above 2^53)";
      return false;
    }
    version = static_cast<uint64_t>(d);
    return true;
  }
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    auto [end, ec] = std::from_chars(s, s + len, version);
    if (len == 0 || ec != std::errc() || end != s + len) {
      error = "version() returned \"" + std::string(s, len) +
              "\"; expected a non-negative integer (decimal digits only)";
      return false;
    }
    return true;
  }
  error = type_error("version()", L, -1, "a non-negative integer or nil");
  return false;
}

// Host steps run through SandboxedState::call_host (arg = lightuserdata at index 1).
int get_global(lua_State* L) {
  lua_getglobal(L, static_cast<const char*>(lua_touserdata(L, 1)));  // may run _G's __index
  return 1;
}

int get_json_encode(lua_State* L) {
  lua_getglobal(L, "strata");
  lua_getfield(L, -1, "json");
  lua_getfield(L, -1, "encode");
  return 1;
}

int new_record_table(lua_State* L) {
  push_record_table(L, static_cast<RecordView*>(lua_touserdata(L, 1)));
  return 1;
}

void push_config_value(lua_State* L, const ConfigValue& v) {
  luaL_checkstack(L, 4, "init()'s config is nested too deeply");
  switch (v.kind) {
    case ConfigValue::Kind::String:
      lua_pushlstring(L, v.str.data(), v.str.size());
      return;
    case ConfigValue::Kind::Number:
      lua_pushnumber(L, v.number);
      return;
    case ConfigValue::Kind::Boolean:
      lua_pushboolean(L, v.boolean);
      return;
    case ConfigValue::Kind::Array:
      lua_createtable(L, static_cast<int>(v.items.size()), 0);
      for (size_t i = 0; i < v.items.size(); ++i) {
        push_config_value(L, v.items[i]);
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      return;
    case ConfigValue::Kind::Table:
      lua_createtable(L, 0, static_cast<int>(v.fields.size()));
      for (const auto& [k, child] : v.fields) {
        lua_pushlstring(L, k.data(), k.size());
        push_config_value(L, child);
        lua_rawset(L, -3);
      }
      return;
  }
}

// init()'s config: a fresh table (and fresh subtables) per Lua state, so a script that changes
// its copy changes nothing outside that state.
int new_config_table(lua_State* L) {
  const auto* config =
      static_cast<const std::vector<std::pair<std::string, ConfigValue>>*>(lua_touserdata(L, 1));
  lua_createtable(L, 0, static_cast<int>(config->size()));
  for (const auto& [k, v] : *config) {
    lua_pushlstring(L, k.data(), k.size());
    push_config_value(L, v);
    lua_rawset(L, -3);
  }
  return 1;
}

// "Lua script x.lua: " + what failed, for errors from SandboxedState::call.
bool with_where(const std::string& where, std::string& error) {
  error = where + ": " + error;
  return false;
}

}  // namespace

void HookResult::clear() {
  skip = false;
  keys.clear();
  has_ttl = false;
  ttl_ms = -1;
  has_value = false;
  value.clear();
  invalidate.clear();
  has_version = false;
  version = 0;
  tags.clear();
  invalidate_tags.clear();
}

KeyHooks::KeyHooks() = default;
KeyHooks::~KeyHooks() = default;

Result<std::unique_ptr<KeyHooks>> KeyHooks::load(const ScriptSettings& s) {
  const std::string where = "Lua script " + s.path;
  std::ifstream file(s.path, std::ios::binary);
  if (!file) return fail("cannot read " + where + ": " + std::strerror(errno));
  std::ostringstream text;
  text << file.rdbuf();
  std::string source = text.str();
  if (!source.empty() && source[0] == '\x1b') {
    return fail(where + " is precompiled bytecode; only source text is accepted");
  }
  if (!source.empty() && source[0] == '#') source.insert(0, "--");  // shebang; keeps lines

  auto state =
      SandboxedState::create(s.allow, s.instruction_budget, s.memory_limit_bytes, s.instance);
  if (!state) return fail(where + ": " + state.error());
  std::unique_ptr<KeyHooks> hooks(new KeyHooks());
  hooks->state_ = std::move(*state);
  hooks->path_ = s.path;
  std::string error;
  bool ok = hooks->state_->guarded([&] { return hooks->pin_script(s, source, error); }, error);
  if (!ok) return fail(hooks->state_->broken() ? where + ": " + error : error);
  return hooks;
}

// Loads and runs the script and pins its hooks. Every step that can raise (the script, a global
// lookup that reaches a metamethod on _G, building init's table) is a protected call.
bool KeyHooks::pin_script(const ScriptSettings& s, const std::string& source, std::string& error) {
  const std::string where = "Lua script " + s.path;
  lua_State* L = state_->L();
  // Pin what the host needs before the script can change the globals.
  if (!state_->call_host(get_json_encode, nullptr, 1, "pinning strata.json.encode", error)) {
    return false;
  }
  view_ = std::make_unique<RecordView>();
  if (!state_->call_host(new_record_table, view_.get(), 1, "creating the record table", error)) {
    return false;
  }

  std::string chunkname = "@" + s.path;
  if (luaL_loadbuffer(L, source.data(), source.size(), chunkname.c_str()) != 0) {
    const char* msg = lua_tostring(L, -1);
    error = "Lua syntax error: " + std::string(msg ? msg : "(no message)");
    return false;
  }
  if (!state_->call(0, 0, "the main chunk", error)) return with_where(where, error);

  for (int h = kKey; h <= kLastHook; ++h) {
    if (!lookup_global(kHookNames[h], error)) return with_where(where, error);
    int type = lua_type(L, -1);
    if (type != LUA_TFUNCTION && type != LUA_TNIL) {
      error = where + ": global '" + kHookNames[h] + "' must be a function, not a " +
              luaL_typename(L, -1);
      return false;
    }
    has_[h] = type == LUA_TFUNCTION;
  }
  if (!has_[kKey]) {
    error = where + " defines no key(record) function";
    return false;
  }

  if (!lookup_global("init", error)) return with_where(where, error);
  if (lua_type(L, -1) == LUA_TFUNCTION) {
    has_init_ = true;
    auto* config = const_cast<std::vector<std::pair<std::string, ConfigValue>>*>(&s.config);
    if (!state_->call_host(new_config_table, config, 1, "building init()'s config", error) ||
        !state_->call(1, 2, "init()", error)) {
      return with_where(where, error);
    }
    if (lua_type(L, -2) == LUA_TBOOLEAN && !lua_toboolean(L, -2)) {
      const char* why = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
      error = where + ": init() returned false" + (why ? std::string(": ") + why : "");
      return false;
    }
    lua_pop(L, 2);
  } else if (!lua_isnil(L, -1)) {
    error = where + ": global 'init' must be a function, not a " + luaL_typename(L, -1);
    return false;
  } else {
    lua_pop(L, 1);
  }
  if (lua_gettop(L) != kPinned) {
    error = where + ": internal error: Lua stack is unbalanced";
    return false;
  }
  return true;
}

bool KeyHooks::lookup_global(const char* name, std::string& error) {
  std::string phase = std::string("the lookup of global '") + name + "'";
  return state_->call_host(get_global, const_cast<char*>(name), 1, phase.c_str(), error);
}

bool KeyHooks::has_hook(std::string_view name) const {
  if (name == "init") return has_init_;
  for (int h = kKey; h <= kLastHook; ++h) {
    if (name == kHookNames[h]) return has_[h];
  }
  return false;
}

bool KeyHooks::call_hook(int fn_slot, const char* phase, std::string& error) {
  lua_State* L = state_->L();
  lua_pushvalue(L, fn_slot);
  lua_pushvalue(L, kRecord);
  return state_->call(1, 1, phase, error);
}

bool KeyHooks::run(const strata_record& rec, HookResult& out, std::string& error) {
  lua_State* L = state_->L();
  out.clear();
  // The guard is a setjmp: a few ns, and it turns a panic in the host's own pushes (an
  // allocation failing outside any protected call) into this record's error.
  return state_->guarded(
      [&] {
        lua_checkstack(L, 8);
        begin_record(L, kRecord, view_.get(), &rec);
        bool ok = run_hooks(out, error);
        view_->current = nullptr;
        lua_settop(L, kPinned);
        return ok;
      },
      error);
}

// invalidate() and invalidate_tags(): they run for skipped records too (a delete event).
bool KeyHooks::run_invalidate(HookResult& out, std::string& error) {
  if (has_[kInvalidate]) {
    lua_State* L = state_->L();
    if (!call_hook(kHookFirst + kInvalidate, "invalidate()", error)) return false;
    if (!lua_isnil(L, -1) && !collect_strings(L, "invalidate()", out.invalidate, error)) {
      return false;
    }
    lua_pop(L, 1);
  }
  return run_tags(kInvalidateTags, out.invalidate_tags, error);
}

// tags() or invalidate_tags(): nil, a string or a table of strings, within the tag bounds.
bool KeyHooks::run_tags(int hook, std::vector<std::string>& out, std::string& error) {
  if (!has_[hook]) return true;
  lua_State* L = state_->L();
  const std::string phase = std::string(kHookNames[hook]) + "()";
  if (!call_hook(kHookFirst + hook, phase.c_str(), error)) return false;
  if (!lua_isnil(L, -1) && !collect_strings(L, phase.c_str(), out, error)) return false;
  lua_pop(L, 1);
  error = check_tags(phase.c_str(), out);
  return error.empty();
}

bool KeyHooks::run_hooks(HookResult& out, std::string& error) {
  lua_State* L = state_->L();
  if (!call_hook(kHookFirst + kKey, "key()", error)) return false;
  if (lua_isnil(L, -1)) {
    out.skip = true;
    return run_invalidate(out, error);  // a skipped record may still invalidate (deletes)
  }
  if (!collect_strings(L, "key()", out.keys, error)) return false;
  for (const auto& k : out.keys) {
    if (k.empty()) {
      error = "key() returned an empty key";
      return false;
    }
  }
  lua_pop(L, 1);
  if (out.keys.empty()) {  // {} means the same as nil
    out.skip = true;
    return run_invalidate(out, error);
  }

  if (has_[kTtl]) {
    if (!call_hook(kHookFirst + kTtl, "ttl()", error)) return false;
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TNUMBER) {
        error = type_error("ttl()", L, -1, "a number of seconds or nil");
        return false;
      }
      double seconds = lua_tonumber(L, -1);
      if (!(seconds >= 0) || seconds > 9.2e15) {  // also rejects NaN; 9.2e15 s fits in int64 ms
        error = "ttl() returned " + std::string(lua_tostring(L, -1)) +
                "; expected a non-negative number of seconds";
        return false;
      }
      out.has_ttl = true;
      out.ttl_ms = std::llround(seconds * 1000.0);
      if (out.ttl_ms == 0 && seconds > 0) out.ttl_ms = 1;  // never turn "expire soon" into 0
    }
    lua_pop(L, 1);
  }

  if (has_[kValue]) {
    if (!call_hook(kHookFirst + kValue, "value()", error)) return false;
    int type = lua_type(L, -1);
    if (type == LUA_TTABLE) {
      lua_pushvalue(L, kJsonEncode);
      lua_insert(L, -2);
      if (!state_->call(1, 1, "value() JSON encoding", error)) return false;
      type = LUA_TSTRING;
    }
    if (type == LUA_TSTRING) {
      size_t len = 0;
      const char* s = lua_tolstring(L, -1, &len);
      out.has_value = true;
      out.value.assign(s, len);
    } else if (type != LUA_TNIL) {
      error = type_error("value()", L, -1, "a string, a table (sent as JSON) or nil");
      return false;
    }
    lua_pop(L, 1);
  }

  if (!run_tags(kTags, out.tags, error)) return false;
  if (!run_invalidate(out, error)) return false;

  if (has_[kVersion]) {
    if (!call_hook(kHookFirst + kVersion, "version()", error)) return false;
    if (!lua_isnil(L, -1)) {
      if (!read_version(L, out.version, error)) return false;
      out.has_version = true;
    }
    lua_pop(L, 1);
  }
  return true;
}

}  // namespace strata::lua
