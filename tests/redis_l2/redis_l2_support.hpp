// Helpers of the redis_l2 integration tests: a batch of ops with stable storage, a handle on a
// started instance loaded through the host's loader, and the test fixture. Included by
// redis_l2_test.cpp and watermark_test.cpp (each gets its own copy: anonymous namespace).
#pragma once

#include <gtest/gtest.h>

#include <toml++/toml.h>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "loader/loader.hpp"
#include "metrics/metrics.hpp"
#include "servers.hpp"

namespace strata {
namespace {

using test::ServerProcess;

// A batch of tier ops with stable storage for keys, values and GET results.
struct Batch {
  std::vector<std::string> keys, values;
  std::vector<std::string> guard_names;  // "" = the op's guard_name is left as set
  std::vector<strata_tier_op> ops;
  std::vector<OpResult> results;

  void add(strata_tier_op_kind kind, std::string key, std::string value = "", uint64_t version = 0,
           int64_t ttl_ms = 0) {
    keys.push_back(std::move(key));
    values.push_back(std::move(value));
    guard_names.emplace_back();
    strata_tier_op op{};
    op.struct_size = sizeof op;
    op.kind = kind;
    op.version = version;
    op.ttl_ms = ttl_ms;
    ops.push_back(op);
  }
  // Guards the last op added by the watermark of `name` (kept here: the op points into it).
  void guard(std::string name, int64_t offset) {
    guard_names.back() = std::move(name);
    ops.back().guard_offset = offset;
  }
  // Fixes the pointers once the vectors stop growing.
  strata_tier_op* prepare() {
    results.assign(ops.size(), OpResult{});
    for (size_t i = 0; i < ops.size(); ++i) {
      ops[i].key = {keys[i].data(), keys[i].size()};
      ops[i].value = {values[i].data(), values[i].size()};
      if (!guard_names[i].empty()) ops[i].guard_name = {guard_names[i].data(), guard_names[i].size()};
      ops[i].host_result = &results[i];
      ops[i].status = STRATA_ERR_INTERNAL;
    }
    return ops.data();
  }
};

class TierHandle {
 public:
  explicit TierHandle(std::unique_ptr<ModuleInstance> inst) : inst_(std::move(inst)) {}
  int run(Batch& b, std::string* err_out = nullptr) {
    strata_error err{};
    int rc = inst_->tier()->execute(inst_->handle(), b.prepare(), b.ops.size(), &err);
    if (err_out) *err_out = err.message;
    return rc;
  }
  // One op; returns its status (and the GET value / the error in *out).
  strata_status one(strata_tier_op_kind kind, const std::string& key, const std::string& value = "",
                    uint64_t version = 0, int64_t ttl_ms = 0, std::string* out = nullptr) {
    Batch b;
    b.add(kind, key, value, version, ttl_ms);
    run(b);
    if (out)
      *out =
          kind == STRATA_TIER_GET && b.results[0].has_value ? b.results[0].value : b.ops[0].error;
    return b.ops[0].status;
  }
  std::string get(const std::string& key) {
    std::string v;
    return one(STRATA_TIER_GET, key, "", 0, 0, &v) == STRATA_OK ? v : "<missing>";
  }
  int health(std::string* msg) {
    strata_error err{};
    int rc = inst_->tier()->health(inst_->handle(), &err);
    *msg = err.message;
    return rc;
  }
  ModuleInstance& instance() { return *inst_; }

 private:
  std::unique_ptr<ModuleInstance> inst_;
};

class RedisL2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    loader_ = new ModuleLoader(ModuleLoader::default_search_path(""));
    auto m = loader_->load("redis_l2");
    ASSERT_TRUE(m.ok()) << m.error();
    module_ = m.value();
  }
  static void TearDownTestSuite() {
    delete loader_;
    loader_ = nullptr;
  }

  // Validated options from TOML text; the instance is created but not started.
  Result<std::unique_ptr<ModuleInstance>> create(const std::string& toml_text) {
    toml::table table = toml::parse(toml_text);
    Diagnostics diags;
    auto opts = validate_table(table, "redis_l2_test.toml", "tiers." + name_,
                               module_->desc->options, module_->desc->option_count, {}, diags);
    if (!opts) return fail(diags.str());
    return ModuleInstance::create(*module_, "tiers." + name_, "", std::move(*opts));
  }
  // Created and started; fails the test otherwise.
  std::unique_ptr<TierHandle> open(const std::string& toml_text) {
    auto inst = create(toml_text);
    EXPECT_TRUE(inst.ok()) << inst.error();
    if (!inst.ok()) return nullptr;
    auto started = inst.value()->start();
    EXPECT_TRUE(started.ok()) << started.error();
    return std::make_unique<TierHandle>(std::move(inst.value()));
  }
  std::string addr(const ServerProcess& r) { return "address = \"" + r.address() + "\"\n"; }

  double metric(const std::string& name) {
    Series* s = MetricsRegistry::global().find(name, "module_instance=\"tiers." + name_ + "\"");
    return s ? s->value() : 0.0;
  }
  static long long evalsha_calls(const ServerProcess& r) {
    std::string info = r.redis_cli("INFO commandstats");
    size_t p = info.find("cmdstat_evalsha:calls=");
    return p == std::string::npos ? 0 : std::atoll(info.c_str() + p + 22);
  }

  void SetUp() override {
    // A per-test instance name keeps metric series apart.
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  std::string name_;
  static inline ModuleLoader* loader_ = nullptr;
  static inline const LoadedModule* module_ = nullptr;
};

}  // namespace
}  // namespace strata
