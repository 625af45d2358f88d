// SandboxedState: one LuaJIT state with only the allowed libraries, an instruction budget per
// protected call and a memory cap. KeyHooks (lua_hooks.cpp) owns one per worker thread; the
// budget needs the JIT engine off because LuaJIT's count hook never fires inside traces.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <lua.hpp>

#include "common/result.hpp"

namespace strata::lua {

// Reached from C callbacks (allocator, count hook, strata.log) through the allocator's ud.
struct StateContext {
  int64_t memory_limit = 0;  // bytes; 0 = unlimited
  int64_t memory_used = 0;
  bool memory_exceeded = false;
  bool enforce_memory = false;  // only inside call(): host pushes outside must not fail
  int64_t budget = 0;           // instructions per call; 0 = unlimited
  int64_t remaining = 0;        // instructions left in the current call
  int armed = 0;                // count the hook was last armed with
  bool budget_exhausted = false;
  const char* phase = "";  // "key()", "the main chunk", ... for messages
  std::string instance;    // for strata.log / print
};

class SandboxedState {
 public:
  // Stack slot of the message handler; callers pin their own values above it.
  static constexpr int kHandlerSlot = 1;

  static Result<std::unique_ptr<SandboxedState>> create(const std::vector<std::string>& allow,
                                                        int64_t instruction_budget,
                                                        int64_t memory_limit_bytes,
                                                        std::string instance);
  ~SandboxedState();
  lua_State* L() const { return L_; }
  StateContext& context() { return *ctx_; }

  // Calls the function below `nargs` arguments on top of the stack with a fresh budget. On
  // failure pops everything it consumed, sets `error` ("key() failed: keys.lua:3: ..." or the
  // budget / memory reason) and returns false; on success leaves `nresults` values.
  bool call(int nargs, int nresults, const char* phase, std::string& error);

 private:
  SandboxedState() = default;
  std::unique_ptr<StateContext> ctx_;
  lua_State* L_ = nullptr;
};

}  // namespace strata::lua
