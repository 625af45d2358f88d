// SandboxedState: one LuaJIT state with only the allowed libraries, an instruction budget per
// protected call and a memory cap. KeyHooks (lua_hooks.cpp) owns one per worker thread; the
// budget needs the JIT engine off because LuaJIT's count hook never fires inside traces.
#pragma once

#include <cxxabi.h>

#include <csetjmp>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <lua.hpp>

#include "common/result.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define STRATA_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define STRATA_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define STRATA_POOL_POISON(p, n) ((void)(p), (void)(n))
#define STRATA_POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace strata::lua {

// The allocator's free lists for small blocks. Most of what a hook allocates is small and dies
// before the next record (the decoded table, its hash part, the strings it builds), and the
// collector frees it in bursts; glibc malloc/free per object (tcache overflowing into
// malloc_consolidate) was ~12 % of a JSON key hook. Blocks of up to kMax bytes come from 64 KiB
// chunks in 16-byte classes and go back to their class's list; larger blocks use malloc. The
// chunks are freed with the state (after lua_close), never before.
class SmallBlockPool {
 public:
  static constexpr size_t kGranule = 16;
  static constexpr size_t kMax = 512;
  static constexpr size_t kChunk = 64 << 10;

  SmallBlockPool() = default;
  SmallBlockPool(const SmallBlockPool&) = delete;
  SmallBlockPool& operator=(const SmallBlockPool&) = delete;
  ~SmallBlockPool() {
    for (void* c : chunks_) std::free(c);
  }
  static size_t class_of(size_t n) { return (n - 1) / kGranule; }  // 1 <= n <= kMax
  // A block of at least n bytes; nullptr when out of memory.
  void* take(size_t n) {
    size_t c = class_of(n);
    size_t size = (c + 1) * kGranule;
    if (FreeBlock* b = free_[c]) {
      STRATA_POOL_UNPOISON(b, size);
      free_[c] = b->next;
      return b;
    }
    if (static_cast<size_t>(end_ - bump_) < size && !refill()) return nullptr;
    void* p = bump_;
    bump_ += size;
    STRATA_POOL_UNPOISON(p, size);
    return p;
  }
  void give(void* p, size_t n) {
    size_t c = class_of(n);
    auto* b = static_cast<FreeBlock*>(p);
    b->next = free_[c];
    free_[c] = b;
    STRATA_POOL_POISON(p, (c + 1) * kGranule);  // ASan builds: a use after free is reported
  }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  bool refill() {
    // The tail of the previous chunk is left unused (< kMax bytes of 64 KiB).
    char* c = static_cast<char*>(std::malloc(kChunk));
    if (c == nullptr) return false;
    try {
      chunks_.push_back(c);
    } catch (...) {  // bad_alloc: report it as the allocation failing
      std::free(c);
      return false;
    }
    bump_ = c;
    end_ = c + kChunk;
    STRATA_POOL_POISON(c, kChunk);
    return true;
  }
  FreeBlock* free_[kMax / kGranule] = {};
  char* bump_ = nullptr;
  char* end_ = nullptr;
  std::vector<void*> chunks_;
};

// Reached from C callbacks (allocator, count hook, strata.log) through the allocator's ud.
struct StateContext {
  SmallBlockPool pool;
  int64_t memory_limit = 0;  // bytes; 0 = unlimited
  int64_t memory_used = 0;
  bool memory_exceeded = false;
  bool enforce_memory = false;  // only inside call(): host pushes outside must not fail
  int64_t budget = 0;           // instructions per call; 0 = unlimited
  int64_t remaining = 0;        // instructions left in the current call
  int armed = 0;                // count the hook was last armed with
  bool budget_exhausted = false;
  const char* phase = "";            // "key()", "the main chunk", ... for messages
  std::string instance;              // for strata.log / print
  std::jmp_buf* recovery = nullptr;  // where the panic handler jumps; set by guarded()
  bool broken = false;               // a panic happened: the state must not be used (or closed)
  std::string panic_message;
};

// For C functions doing work the count hook cannot see (pattern.cpp): the budget units the
// current call may still spend (INT64_MAX without a budget), charging what was spent, and
// raising the budget error ("... at keys.lua:3 (in string.find)"), which does not return.
int64_t budget_left(lua_State* L);
void charge_budget(lua_State* L, int64_t spent);
[[noreturn]] void raise_budget_exhausted(lua_State* L, const char* what);

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

  // call() for host code: runs fn(L) with the lightuserdata `arg` as its only argument, under
  // the same budget and memory cap. Host work that can raise (a global lookup reaching a
  // metamethod, building a table) goes through here instead of running unprotected.
  bool call_host(lua_CFunction fn, void* arg, int nresults, const char* phase, std::string& error);

  // Runs `body` (returning bool) so that no Lua error can leave it. Everything the host does
  // with the state is protected, so reaching either handler here means an error escaped anyway
  // (an allocation failing in a host push, say). With LuaJIT's external unwinding (x86-64) such
  // an error is a foreign C++ exception: catching it here keeps it from a catch(...) or noexcept
  // frame further up (std::thread would terminate). Without it LuaJIT calls the panic handler,
  // which jumps back here instead of returning (LuaJIT then calls exit()). Either way the state
  // is `broken`, never used or closed again; destructors of C++ objects between here and the
  // failing call may be skipped (a leak, not a crash). Every entry point into a state (create,
  // load, run, destroy) runs inside one.
  template <class Body>
  bool guarded(Body&& body, std::string& error) {
    if (ctx_->broken) {
      error = "the Lua state is unusable after a Lua panic: " + ctx_->panic_message;
      return false;
    }
    std::jmp_buf env;
    std::jmp_buf* outer = ctx_->recovery;
    ctx_->recovery = &env;
    bool ok = false;
    if (setjmp(env) == 0) {
      try {
        ok = body();
      } catch (abi::__forced_unwind&) {  // thread cancellation must go on unwinding
        ctx_->recovery = outer;
        throw;
      } catch (...) {
        escaped();
      }
    }
    ctx_->recovery = outer;
    if (ctx_->broken) error = "Lua panic (the state was discarded): " + ctx_->panic_message;
    return ok && !ctx_->broken;
  }
  bool broken() const { return ctx_->broken; }

 private:
  SandboxedState() = default;
  void escaped();  // a Lua error or C++ exception left guarded()'s body: mark the state broken
  std::unique_ptr<StateContext> ctx_;
  lua_State* L_ = nullptr;
};

}  // namespace strata::lua
