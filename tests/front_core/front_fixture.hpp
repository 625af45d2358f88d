// The front_core tests' fixture: real memcached and redis-server, a Runtime built from a TOML
// file with memcached_l1, redis_l2 and the test_front module, and the test front's control
// functions (dlsym on its module). Ops go in through the front's own thread, as a real front's.
#pragma once

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <strata/sdk.hpp>

#include <memory>
#include <string>
#include <vector>

#include "files.hpp"
#include "runtime/runtime.hpp"
#include "servers.hpp"

namespace strata::front_test {

// The test front's extern "C" functions.
struct FrontControl {
  void* (*pending_new)() = nullptr;
  void (*pending_free)(void*) = nullptr;
  int (*pending_dones)(void*) = nullptr;
  int (*submit)(void*, strata_chain_op*, size_t, void*) = nullptr;
  int (*wait)(void*, int) = nullptr;
  int (*wait_dones)(long, int) = nullptr;
  void (*release)(void*, strata_chain_op*, size_t) = nullptr;
  void (*counts)(long*) = nullptr;
  void (*hold_next_done)() = nullptr;
  int (*wait_held)(int) = nullptr;
  void (*release_held)() = nullptr;

  template <typename F>
  static void bind(void* handle, const char* name, F*& fn) {
    fn = reinterpret_cast<F*>(::dlsym(handle, name));
    ASSERT_NE(fn, nullptr) << name << ": " << ::dlerror();
  }
  void load(void* h) {
    bind(h, "test_front_pending_new", pending_new);
    bind(h, "test_front_pending_free", pending_free);
    bind(h, "test_front_pending_dones", pending_dones);
    bind(h, "test_front_submit", submit);
    bind(h, "test_front_wait", wait);
    bind(h, "test_front_wait_dones", wait_dones);
    bind(h, "test_front_release", release);
    bind(h, "test_front_counts", counts);
    bind(h, "test_front_hold_next_done", hold_next_done);
    bind(h, "test_front_wait_held", wait_held);
    bind(h, "test_front_release_held", release_held);
  }
};

struct Counts {
  long accepted = 0, refused = 0, done = 0, duplicates = 0, inline_dones = 0;
};

// One op's inputs and outputs, with storage for its key and value. A result still held when
// the Call goes is released then (`releaser`, set by FrontFixture::call).
struct Call {
  std::string key, value;
  strata_chain_op op{};
  void (*releaser)(void*, strata_chain_op*, size_t) = nullptr;
  void* front = nullptr;
  ~Call() {
    if (releaser && op.host_private) releaser(front, &op, 1);
  }
};

class FrontFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // memcached_l1 + redis_l2 as [tiers.l1] / [tiers.l2], `front` as the body of [fronts.t]
  // (after its module line), `extra` appended as is.
  std::string config(const std::string& front, const std::string& extra = "") const;
  // Builds and starts the runtime from `toml`; false (with the diagnostics) if it failed.
  ::testing::AssertionResult start_runtime(const std::string& toml);
  void stop_runtime() { rt_.reset(); }

  // Runs one op through the front and waits for its done (bounded); the result stays in the
  // returned Call until release(call).
  std::unique_ptr<Call> call(strata_chain_op_kind kind, const std::string& key,
                             const std::string& value = "", int64_t ttl_ms = 0,
                             uint32_t flags = 0, uint64_t cas = 0);
  void release(Call& c) { ctl_.release(front_inst(), &c.op, 1); }
  Counts counts() const;
  void* front_inst() const { return rt_->front("fronts.t")->handle(); }

  test::ServerProcess memcached_{test::ServerProcess::Kind::Memcached};
  test::ServerProcess redis_{test::ServerProcess::Kind::Redis};
  std::string dir_;
  std::unique_ptr<Runtime> rt_;
  FrontControl ctl_;
  void* keep_loaded_ = nullptr;  // a handle of our own on the module: counters outlive rt_
  std::vector<void*> pendings_;
};

// Calls of one Redis command since the last CONFIG RESETSTAT (INFO commandstats).
long redis_calls(const test::ServerProcess& redis, const std::string& command);

}  // namespace strata::front_test
