#include "sandbox.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "common/log.hpp"
#include "pattern.hpp"
#include "stdlib.hpp"

namespace strata::lua {
namespace {

StateContext* context_of(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<StateContext*>(ud);
}

// Moves a block between the pool and malloc as its size crosses SmallBlockPool::kMax: which of
// the two owns a block follows from the size Lua passes back (LuaJIT always passes the exact
// old size).
void* resize_block(SmallBlockPool& pool, void* ptr, size_t osize, size_t nsize) {
  constexpr size_t kMax = SmallBlockPool::kMax;
  if (ptr == nullptr) return nsize <= kMax ? pool.take(nsize) : std::malloc(nsize);
  if (osize > kMax && nsize > kMax) return std::realloc(ptr, nsize);
  if (osize <= kMax && nsize <= kMax &&
      SmallBlockPool::class_of(osize) == SmallBlockPool::class_of(nsize)) {
    return ptr;
  }
  void* p = nsize <= kMax ? pool.take(nsize) : std::malloc(nsize);
  if (p == nullptr) return nullptr;
  std::memcpy(p, ptr, osize < nsize ? osize : nsize);
  if (osize <= kMax) {
    pool.give(ptr, osize);
  } else {
    std::free(ptr);
  }
  return p;
}

// Counts bytes so that a script cannot take the process down with string.rep(x, 1e10). Only
// growth is refused (Lua assumes shrinking never fails), and only while a hook runs: the host's
// own pushes between calls are unprotected and must not raise.
void* limited_alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* ctx = static_cast<StateContext*>(ud);
  int64_t old_size = ptr ? static_cast<int64_t>(osize) : 0;
  if (nsize == 0) {
    if (ptr == nullptr) return nullptr;
    if (osize <= SmallBlockPool::kMax) {
      ctx->pool.give(ptr, osize);
    } else {
      std::free(ptr);
    }
    ctx->memory_used -= old_size;
    return nullptr;
  }
  int64_t delta = static_cast<int64_t>(nsize) - old_size;
  if (delta > 0 && ctx->memory_limit > 0 && ctx->enforce_memory &&
      ctx->memory_used + delta > ctx->memory_limit) {
    ctx->memory_exceeded = true;
    return nullptr;
  }
  void* p = resize_block(ctx->pool, ptr, ptr ? osize : 0, nsize);
  if (p != nullptr) ctx->memory_used += delta;
  return p;
}

void on_count(lua_State* L, lua_Debug* ar);
[[noreturn]] void raise_exhausted(lua_State* L, StateContext* ctx, int level, const char* what);

void arm(lua_State* L, StateContext* ctx) {
  ctx->armed = ctx->remaining > INT_MAX ? INT_MAX : static_cast<int>(ctx->remaining);
  lua_sethook(L, on_count, LUA_MASKCOUNT, ctx->armed);
}

// Fires after `armed` VM instructions (never inside JIT traces: the JIT is off when a budget is
// set). Once exhausted it stays armed at 1, so a script that pcall()s the error away fails again
// at its next instruction and the error reaches the host.
void on_count(lua_State* L, lua_Debug*) {
  StateContext* ctx = context_of(L);
  if (!ctx->budget_exhausted) {
    ctx->remaining -= ctx->armed;
    if (ctx->remaining > 0) {
      arm(L, ctx);
      return;
    }
    ctx->budget_exhausted = true;
    ctx->armed = 1;
    lua_sethook(L, on_count, LUA_MASKCOUNT, 1);
  }
  raise_exhausted(L, ctx, 0, nullptr);
}

// The message of an exhausted budget: the Lua line being run (a C function has none: look at
// its Lua caller), and `what` when a C function ran out.
[[noreturn]] void raise_exhausted(lua_State* L, StateContext* ctx, int level, const char* what) {
  lua_Debug ar;
  const char* src = "?";
  int line = 0;
  for (; lua_getstack(L, level, &ar); ++level) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0) {
      src = ar.short_src;
      line = ar.currentline;
      break;
    }
  }
  char msg[320];
  std::snprintf(msg, sizeof msg, "instruction budget of %lld exhausted in %s at %s:%d%s%s%s",
                static_cast<long long>(ctx->budget), ctx->phase, src, line, what ? " (in " : "",
                what ? what : "", what ? ")" : "");
  lua_pushstring(L, msg);
  lua_error(L);
  std::abort();  // lua_error does not return
}

// Message handler of every protected call: makes sure the message names the script line, also
// for errors raised inside C functions (strata.json.decode) or by error(msg, 0).
int on_error(lua_State* L) {
  StateContext* ctx = context_of(L);
  if (ctx->budget_exhausted || ctx->memory_exceeded) return 1;
  if (!lua_isstring(L, 1)) {
    if (!luaL_callmeta(L, 1, "__tostring") || !lua_isstring(L, -1)) {
      lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    lua_replace(L, 1);
  }
  const char* msg = lua_tostring(L, 1);
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); ++level) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline <= 0) continue;  // a C function: look at its Lua caller
    size_t n = std::strlen(ar.short_src);
    if (std::strncmp(msg, ar.short_src, n) != 0 || msg[n] != ':') {
      lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
    }
    break;
  }
  return 1;
}

// LuaJIT calls this for an error raised outside any protected call, and exit()s if it returns.
// It never returns: it jumps back to the innermost SandboxedState::guarded(), which reports.
int on_panic(lua_State* L) {
  StateContext* ctx = context_of(L);
  const char* msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
  ctx->broken = true;
  ctx->panic_message = msg ? msg : "(error object is not a string)";
  log::write(STRATA_LOG_ERROR, ctx->instance, {},
             "Lua panic (unprotected error), the Lua state is discarded: " + ctx->panic_message);
  if (ctx->recovery != nullptr) std::longjmp(*ctx->recovery, 1);
  // Unreachable by construction (every entry point is guarded); abort() at least says where.
  log::error("Lua panic outside SandboxedState::guarded(): aborting");
  std::abort();
}

void open_library(lua_State* L, const char* name, lua_CFunction open) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 0);
}

void remove_global(lua_State* L, const char* name) {
  lua_pushnil(L);
  lua_setglobal(L, name);
}

bool allowed(const std::vector<std::string>& allow, const char* name) {
  for (const auto& a : allow) {
    if (a == name) return true;
  }
  return false;
}

// Runs with the base library in place. `load`/`loadstring` accept source text only: LuaJIT
// does not verify bytecode, so a crafted binary chunk could corrupt memory.
constexpr const char* kPrelude = R"lua(
local rawload, type, error = load, type, error
load = function(chunk, name) return rawload(chunk, name, "t") end
loadstring = function(s, name)
  if type(s) ~= "string" then error("loadstring expects a string", 2) end
  return rawload(s, name, "t")
end
-- "stop" would let every later record run into the memory cap; the other options are harmless.
local rawcollect, tostring = collectgarbage, tostring
collectgarbage = function(opt, arg)
  if opt == nil or opt == "collect" or opt == "count" or opt == "step" then
    return rawcollect(opt, arg)
  end
  error("collectgarbage(\"" .. tostring(opt) .. "\") is not allowed in the sandbox", 2)
end
)lua";

// Opens the allowed libraries; run by lua_cpcall so that no failure can reach the panic handler.
int open_sandbox(lua_State* L) {
  const auto* allow = static_cast<const std::vector<std::string>*>(lua_touserdata(L, 1));
  open_library(L, "", luaopen_base);
  open_library(L, LUA_TABLIBNAME, luaopen_table);
  open_library(L, LUA_STRLIBNAME, luaopen_string);
  open_library(L, LUA_MATHLIBNAME, luaopen_math);
  open_library(L, LUA_BITLIBNAME, luaopen_bit);
  if (allowed(*allow, "require")) {
    open_library(L, LUA_LOADLIBNAME, luaopen_package);
  } else {
    remove_global(L, "dofile");  // file access and module loading come with `require`
    remove_global(L, "loadfile");
  }
  // Opening the jit library is what switches the JIT engine on (CPU detection, JIT_F_ON); the
  // script itself never sees `jit` (jit.on() would defeat the budget).
  open_library(L, LUA_JITLIBNAME, luaopen_jit);
  remove_global(L, LUA_JITLIBNAME);
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");  // and not through require("jit") either
  lua_pushnil(L);
  lua_setfield(L, -2, LUA_JITLIBNAME);
  lua_pop(L, 1);
  if (allowed(*allow, "io")) open_library(L, LUA_IOLIBNAME, luaopen_io);
  if (allowed(*allow, "os")) open_library(L, LUA_OSLIBNAME, luaopen_os);
  if (allowed(*allow, "debug")) open_library(L, LUA_DBLIBNAME, luaopen_debug);
  if (allowed(*allow, "ffi")) {
    lua_pushcfunction(L, luaopen_ffi);
    lua_pushstring(L, LUA_FFILIBNAME);
    lua_call(L, 1, 1);
    lua_setglobal(L, LUA_FFILIBNAME);
  }
  // newproxy makes userdata with a __gc finalizer: Lua code that would run inside the garbage
  // collector at any allocation, outside the budget and outside any protected call.
  remove_global(L, "newproxy");
  if (luaL_dostring(L, kPrelude) != 0) lua_error(L);  // reported as an internal error
  open_strata_library(L);
  // With a budget, pattern matching is charged to it (pattern.hpp); without one the script is
  // trusted and keeps LuaJIT's own (JIT-compiled) functions.
  if (context_of(L)->budget > 0) open_bounded_patterns(L);

  return 0;
}

}  // namespace

int64_t budget_left(lua_State* L) {
  StateContext* ctx = context_of(L);
  if (ctx->budget <= 0) return INT64_MAX;
  return ctx->budget_exhausted ? 0 : ctx->remaining;
}

void charge_budget(lua_State* L, int64_t spent) {
  StateContext* ctx = context_of(L);
  // Not re-armed: the count hook subtracts what it counted when it next fires, so instructions
  // run since it was armed are not forgotten.
  if (ctx->budget > 0) ctx->remaining -= spent;
}

void raise_budget_exhausted(lua_State* L, const char* what) {
  StateContext* ctx = context_of(L);
  ctx->budget_exhausted = true;  // and every further instruction of this call raises again
  ctx->remaining = 0;
  ctx->armed = 1;
  lua_sethook(L, on_count, LUA_MASKCOUNT, 1);
  raise_exhausted(L, ctx, 1, what);
}

Result<std::unique_ptr<SandboxedState>> SandboxedState::create(
    const std::vector<std::string>& allow, int64_t instruction_budget, int64_t memory_limit_bytes,
    std::string instance) {
  static const char* const kKnown[] = {"io", "os", "require", "debug", "ffi"};
  for (const auto& a : allow) {
    bool known = false;
    for (const char* k : kKnown) known = known || a == k;
    if (!known) {
      return fail("unknown library '" + a + "' in allow (expected io, os, require, debug, ffi)");
    }
  }
  if (instruction_budget < 0) return fail("instruction_budget must be >= 0");
  if (memory_limit_bytes < 0) return fail("memory limit must be >= 0");

  std::unique_ptr<SandboxedState> s(new SandboxedState());
  s->ctx_ = std::make_unique<StateContext>();
  s->ctx_->memory_limit = memory_limit_bytes;
  s->ctx_->budget = instruction_budget;
  s->ctx_->instance = std::move(instance);
  // Needs LuaJIT's GC64 mode (the default on x86-64 since 2.1); older builds refuse a custom
  // allocator, which we report rather than run without the cap.
  s->L_ = lua_newstate(limited_alloc, s->ctx_.get());
  if (s->L_ == nullptr) return fail("cannot create a Lua state (LuaJIT without GC64 mode?)");
  lua_State* L = s->L_;
  lua_atpanic(L, on_panic);
  if (lua_cpcall(L, open_sandbox, const_cast<std::vector<std::string>*>(&allow)) != 0) {
    const char* msg = lua_tostring(L, -1);
    return fail(std::string("internal error opening the Lua libraries: ") +
                (msg ? msg : "(no message)"));
  }

  // The count hook never fires inside JIT-compiled traces (LuaJIT only checks hooks in the
  // interpreter unless built with LUAJIT_ENABLE_CHECKHOOK), so a budget requires the interpreter.
  if (instruction_budget > 0) luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);

  std::string error;
  bool ok = s->guarded(
      [L] {
        lua_settop(L, 0);
        lua_checkstack(L, 32);
        lua_pushcfunction(L, on_error);  // kHandlerSlot
        return true;
      },
      error);
  if (!ok) return fail(error);
  return s;
}

namespace {

// States abandoned after a Lua panic: one may be inconsistent, so it is never closed. They stay
// reachable from here for the life of the process (a process has the few it ever panicked),
// which is what they are: kept on purpose, not lost (LeakSanitizer agrees).
void keep_abandoned(lua_State* L, std::unique_ptr<StateContext> ctx) {
  static std::mutex mu;
  static auto* abandoned = new std::vector<std::pair<lua_State*, StateContext*>>;
  std::lock_guard<std::mutex> lock(mu);
  abandoned->emplace_back(L, ctx.release());  // its memory lives in the context's pool
}

}  // namespace

SandboxedState::~SandboxedState() {
  if (L_ == nullptr) return;
  if (ctx_->broken) {
    keep_abandoned(L_, std::move(ctx_));
    return;
  }
  std::string error;
  guarded(
      [this] {
        lua_close(L_);
        return true;
      },
      error);
}

bool SandboxedState::call(int nargs, int nresults, const char* phase, std::string& error) {
  StateContext* ctx = ctx_.get();
  ctx->phase = phase;
  ctx->budget_exhausted = false;
  ctx->memory_exceeded = false;
  if (ctx->budget > 0) {
    ctx->remaining = ctx->budget;
    arm(L_, ctx);
  }
  ctx->enforce_memory = true;
  int rc = lua_pcall(L_, nargs, nresults, kHandlerSlot);
  ctx->enforce_memory = false;
  if (rc == 0) return true;
  if (ctx->budget_exhausted) {
    error = lua_tostring(L_, -1);
  } else if (rc == LUA_ERRMEM) {
    error = "memory limit of " + std::to_string(ctx->memory_limit) + " bytes exceeded in " + phase;
  } else {
    const char* msg = lua_tostring(L_, -1);
    error = std::string(phase) + " failed: " + (msg ? msg : "(no message)");
  }
  lua_pop(L_, 1);
  if (rc == LUA_ERRMEM) lua_gc(L_, LUA_GCCOLLECT, 0);
  return false;
}

void SandboxedState::escaped() {  // called inside guarded()'s catch (...)
  ctx_->broken = true;
  try {
    throw;
  } catch (const std::exception& e) {  // a C++ exception from host code
    ctx_->panic_message = std::string("C++ exception: ") + e.what();
  } catch (...) {  // a Lua error: LuaJIT leaves its message on the stack
    const char* msg = lua_type(L_, -1) == LUA_TSTRING ? lua_tostring(L_, -1) : nullptr;
    ctx_->panic_message = msg ? msg : "(no message)";
  }
  log::write(
      STRATA_LOG_ERROR, ctx_->instance, {},
      "Lua error outside a protected call, the Lua state is discarded: " + ctx_->panic_message);
}

bool SandboxedState::call_host(lua_CFunction fn, void* arg, int nresults, const char* phase,
                               std::string& error) {
  lua_pushcfunction(L_, fn);
  lua_pushlightuserdata(L_, arg);
  return call(1, nresults, phase, error);
}

}  // namespace strata::lua
