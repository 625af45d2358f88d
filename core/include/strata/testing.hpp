// strata::testing: the installed test kit for module authors (libstrata_testing, target
// strata::testing in the CMake package). Loads a module .so through the host's REAL loader
// (ABI, descriptor and build-signature checks), validates its options from a TOML snippet with
// the host's validator, creates and starts it, and runs its ops through the host's own tier
// wrapper (unanswered ops, flags, TTLs and errors come back exactly as the host sees them).
// Tiers, policies and sources; fronts are not supported yet.
// No host to write. Works with any test framework; failures throw std::runtime_error.
//
//   strata::testing::Module mod("build/my_tier.so");
//   auto tier = mod.tier("capacity = 100");
//   EXPECT_EQ(tier.set("k", "v").status, STRATA_OK);
//   EXPECT_EQ(tier.get("k").value, "v");
#pragma once

#include <strata/strata.h>

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__GNUC__)
#define STRATA_TESTING_API __attribute__((visibility("default")))
#else
#define STRATA_TESTING_API
#endif

namespace strata::testing {

// "STRATA_OK", "STRATA_NOT_FOUND", ... for assertion messages.
STRATA_TESTING_API const char* status_name(strata_status status);

// The outcome of one tier op, as the host saw it.
struct Result {
  strata_status status = STRATA_UNANSWERED;
  std::string value;      // GET hit: the value the tier handed over
  uint32_t flags = 0;     // GET: result_flags
  int64_t ttl_ms = 0;     // GET: result_ttl_ms (STRATA_TTL_NEVER, ms, or 0 = unknown)
  std::string error;      // the message of an error status (names the instance, as the host's)
  bool ok() const { return status == STRATA_OK; }
};
STRATA_TESTING_API std::ostream& operator<<(std::ostream& out, const Result& r);

// One op of a batch (run()): Op::get("k"), Op::set("k", "v"), Op::of(STRATA_TIER_INCR, "n").
struct Op {
  strata_tier_op_kind kind = STRATA_TIER_GET;
  std::string key;
  std::string value;
  int64_t ttl_ms = STRATA_TTL_DEFAULT;
  uint32_t flags = 0;
  uint64_t version = 0;

  static Op of(strata_tier_op_kind kind, std::string key, std::string value = {},
               int64_t ttl_ms = STRATA_TTL_DEFAULT, uint32_t flags = 0, uint64_t version = 0) {
    Op op;
    op.kind = kind;
    op.key = std::move(key);
    op.value = std::move(value);
    op.ttl_ms = ttl_ms;
    op.flags = flags;
    op.version = version;
    return op;
  }
  static Op get(std::string key) { return of(STRATA_TIER_GET, std::move(key)); }
  static Op set(std::string key, std::string value, int64_t ttl_ms = STRATA_TTL_DEFAULT,
                uint32_t flags = 0) {
    return of(STRATA_TIER_SET, std::move(key), std::move(value), ttl_ms, flags);
  }
  static Op add(std::string key, std::string value, int64_t ttl_ms = STRATA_TTL_DEFAULT,
                uint32_t flags = 0) {
    return of(STRATA_TIER_ADD, std::move(key), std::move(value), ttl_ms, flags);
  }
  static Op del(std::string key) { return of(STRATA_TIER_DELETE, std::move(key)); }
};

// Option values by name, for Module::tier(options) / policy(options): each value is a TOML
// value ("100", "true", "[\"a\", \"b\"]", "\"text\"") or, when it is not one, a plain string.
using OptionMap = std::map<std::string, std::string>;

struct ModuleState;  // the loader and what it loaded (shared by a Module and its instances)
struct InstanceState;

// A created and started tier instance. Stopped (drained) and destroyed with the last copy.
class STRATA_TESTING_API TierInstance {
 public:
  Result get(std::string_view key);
  Result set(std::string_view key, std::string_view value, int64_t ttl_ms = STRATA_TTL_DEFAULT,
             uint32_t flags = 0);
  Result add(std::string_view key, std::string_view value, int64_t ttl_ms = STRATA_TTL_DEFAULT,
             uint32_t flags = 0);
  Result del(std::string_view key);
  // One batch, one execute() call: the module sees the ops in this order.
  std::vector<Result> run(const std::vector<Op>& ops);
  // The module's health hook (true when it has none).
  bool healthy();
  uint32_t tier_flags() const;

 private:
  friend class Module;
  explicit TierInstance(std::shared_ptr<InstanceState> s) : state_(std::move(s)) {}
  std::shared_ptr<InstanceState> state_;
};

// A created and started policy instance.
class STRATA_TESTING_API PolicyInstance {
 public:
  // The decisions for one key of a record, one per tier of `tiers` (default: a volatile
  // "tiers.l1" then a durable, versioned "tiers.l2"). hook_ttl_ms: what the ttl() hook gave
  // (STRATA_TTL_DEFAULT = none). Throws when decide() fails, with the module's message.
  std::vector<strata_policy_decision> decide(std::string_view key, std::string_view value,
                                             int64_t hook_ttl_ms = STRATA_TTL_DEFAULT);
  std::vector<strata_policy_decision> decide(std::string_view key, std::string_view value,
                                             int64_t hook_ttl_ms,
                                             const std::vector<strata_policy_tier>& tiers);

 private:
  friend class Module;
  explicit PolicyInstance(std::shared_ptr<InstanceState> s) : state_(std::move(s)) {}
  std::shared_ptr<InstanceState> state_;
};

// One record of a polled batch, copied out (the batch is released before poll() returns).
struct Record {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  bool null_key = false;    // key.data was NULL
  bool tombstone = false;   // value.data was NULL
  int64_t timestamp_ms = -1;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A created and started source instance, driven as the pipeline's worker thread drives it:
// call it from one thread.
class STRATA_TESTING_API SourceInstance {
 public:
  // One poll() of up to `max_records`, waiting at most `timeout_ms`; the batch is copied and
  // released at once. Throws when poll() fails, with the module's message.
  std::vector<Record> poll(size_t max_records = 1000, int timeout_ms = 100);
  // Polls until `count` records came or `timeout_ms` passed (bounded); returns what came.
  std::vector<Record> poll_until(size_t count, int timeout_ms = 10000);
  // ack() of positions that are safe to commit (next_offset per topic/partition).
  void ack(const std::string& topic, int32_t partition, int64_t next_offset);
  void pause();
  void resume();
  int64_t lag();  // -1 when unknown (or the module has no lag hook), -2 pending (see strata.h)

 private:
  friend class Module;
  explicit SourceInstance(std::shared_ptr<InstanceState> s) : state_(std::move(s)) {}
  std::shared_ptr<InstanceState> state_;
};

class STRATA_TESTING_API Module {
 public:
  // Loads the .so by path. Throws std::runtime_error with the loader's exact sentence.
  explicit Module(const std::string& path);
  ~Module();

  const strata_module_descriptor& descriptor() const;

  // Validates `toml` (the body of the instance's section, e.g. "capacity = 10\nttl = \"5s\"")
  // against the module's option table, creates the instance as `instance` and starts it.
  // Throws std::runtime_error with the validator's "file:line:col: message" lines or the
  // loader's "module "x" create failed for ..." sentence.
  TierInstance tier(std::string_view toml = "", const std::string& instance = "tiers.test");
  TierInstance tier(const OptionMap& options, const std::string& instance = "tiers.test");
  PolicyInstance policy(std::string_view toml = "",
                        const std::string& instance = "policies.test");
  PolicyInstance policy(const OptionMap& options,
                        const std::string& instance = "policies.test");
  SourceInstance source(std::string_view toml = "",
                        const std::string& instance = "sources.test");

  // What tier()/policy() would throw for this configuration, or "" when it would succeed (the
  // instance is created, started and destroyed again).
  std::string create_error(std::string_view toml);

 private:
  std::shared_ptr<InstanceState> create(std::string_view toml, const std::string& instance,
                                        strata_module_kind kind);
  std::shared_ptr<ModuleState> state_;
};

// The TOML text an OptionMap stands for (exposed for error messages and tests).
STRATA_TESTING_API std::string to_toml(const OptionMap& options);

}  // namespace strata::testing
