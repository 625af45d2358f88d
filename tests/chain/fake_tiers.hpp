// The chain tests' counting fake tiers (tests/chain/fakes), loaded through the real loader,
// and their control functions (dlsym on the module's handle). Shared by the chain's unit tests.
#pragma once

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "chain/tier.hpp"
#include "config/config.hpp"
#include "loader/loader.hpp"

namespace strata::chain_test {

// The fake's control functions, looked up in the loaded module.
struct FakeControl {
  int (*count)(void*, int);
  void (*set_down)(void*, int);
  void (*put)(void*, const char*, const char*, uint32_t, uint64_t);
  int (*lookup)(void*, const char*, char*, size_t, uint32_t*, int64_t*);
  void (*use_sequence)(void*, std::atomic<uint64_t>*);
  uint64_t (*last_seq)(void*, int);
  void (*gate)(void*, int);
  int (*waiting)(void*);
  int (*set_remaining_ttl)(void*, const char*, int64_t);

  template <typename F>
  static void bind(void* handle, const char* name, F*& fn) {
    fn = reinterpret_cast<F*>(::dlsym(handle, name));
    ASSERT_NE(fn, nullptr) << name << ": " << ::dlerror();
  }
  void load(void* handle) {
    bind(handle, "fake_tier_count", count);
    bind(handle, "fake_tier_set_down", set_down);
    bind(handle, "fake_tier_put", put);
    bind(handle, "fake_tier_lookup", lookup);
    bind(handle, "fake_tier_use_sequence", use_sequence);
    bind(handle, "fake_tier_last_seq", last_seq);
    bind(handle, "fake_tier_gate", gate);
    bind(handle, "fake_tier_waiting", waiting);
    bind(handle, "fake_tier_set_remaining_ttl", set_remaining_ttl);
  }
};

// One fake tier instance with its control functions.
struct FakeTier {
  std::unique_ptr<ModuleInstance> instance;
  FakeControl ctl;
  std::unique_ptr<Tier> tier;

  void* inst() const { return instance->handle(); }
  int count(strata_tier_op_kind k) const { return ctl.count(inst(), k); }
  void down(bool d) const { ctl.set_down(inst(), d ? 1 : 0); }
  void put(const char* k, const char* v, uint32_t flags = 0, uint64_t version = 0) const {
    ctl.put(inst(), k, v, flags, version);
  }
  // What a GET of `key` reports as its remaining TTL (strata_tier_op.result_ttl_ms).
  void remaining_ttl(const char* k, int64_t ms) const {
    ASSERT_EQ(ctl.set_remaining_ttl(inst(), k, ms), 1) << k;
  }
  // Value of `key`, or nullopt.
  std::optional<std::string> lookup(const char* key, uint32_t* flags = nullptr,
                                    int64_t* ttl = nullptr) const {
    char buf[256];
    uint32_t f = 0;
    int64_t t = 0;
    if (!ctl.lookup(inst(), key, buf, sizeof buf, &f, &t)) return std::nullopt;
    if (flags) *flags = f;
    if (ttl) *ttl = t;
    return std::string(buf);
  }
};

inline ModuleLoader& fake_loader() {
  static ModuleLoader loader({STRATA_CHAIN_FAKES_DIR});
  return loader;
}

inline std::string unique_suffix() {
  static std::atomic<int> n{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->name()) + "_" + std::to_string(n++);
}

inline FakeTier make_fake(const std::string& module, const std::string& instance_name,
                   BreakerSettings breaker) {
  FakeTier f;
  auto mod = fake_loader().load(module);
  EXPECT_TRUE(mod.ok()) << mod.error();
  if (!mod.ok()) return f;
  const LoadedModule* m = mod.value();
  Diagnostics diags;
  toml::table empty;
  auto opts = validate_table(empty, "test.toml", instance_name, m->desc->options,
                             m->desc->option_count, {}, diags);
  EXPECT_TRUE(opts.has_value()) << diags.str();
  if (!opts) return f;
  auto inst = ModuleInstance::create(*m, instance_name, "", std::move(*opts));
  EXPECT_TRUE(inst.ok()) << inst.error();
  if (!inst.ok()) return f;
  f.instance = std::move(inst.value());
  EXPECT_TRUE(f.instance->start().ok());
  f.ctl.load(m->handle);
  f.tier = std::make_unique<Tier>(*f.instance, breaker);
  return f;
}

}  // namespace strata::chain_test
