// A counting in-memory tier for the tier chain's unit tests, built twice: as a volatile tier
// (fake_volatile_tier) and as a durable, versioned one (fake_durable_tier). The test drives it
// through the extern "C" fake_tier_* functions below (dlsym on the module's handle).
#include <strata/sdk.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#ifndef FAKE_TIER_NAME
#error "FAKE_TIER_NAME must be defined"
#endif
#ifndef FAKE_TIER_FLAGS
#define FAKE_TIER_FLAGS 0
#endif

namespace {

struct Item {
  std::string value;
  uint32_t flags = 0;
  int64_t ttl_ms = 0;
  uint64_t version = 0;
  int64_t remaining_ttl_ms = 0;  // what a GET reports as result_ttl_ms (0 = unknown)
};

class FakeTier : public strata::TierModule {
 public:
  static constexpr uint32_t kTierFlags = FAKE_TIER_FLAGS;
  static constexpr bool kVersioned = (FAKE_TIER_FLAGS & STRATA_TIER_VERSIONED) != 0;

  FakeTier(strata::Host host, const strata::Options&) : host_(host) {}

  void execute(strata_tier_op* ops, size_t count) override {
    if (down_) throw strata::Error(STRATA_ERR_UNAVAILABLE, "fake tier is down");
    for (size_t i = 0; i < count; ++i) {
      run(ops[i]);
      // After the read: the test can hold a GET "in flight" with the value already read.
      if (ops[i].kind == STRATA_TIER_GET) wait_gate();
    }
  }

  void health() override {
    if (down_) throw strata::Error(STRATA_ERR_UNAVAILABLE, "fake tier is down");
  }

  void run(strata_tier_op& op) {
    std::string key(op.key.data, op.key.len);
    std::lock_guard lock(mu_);
    ++counts_[op.kind];
    if (sequence_) last_seq_[op.kind] = sequence_->fetch_add(1) + 1;
    auto it = items_.find(key);
    switch (op.kind) {
      case STRATA_TIER_GET:
        if (it == items_.end()) {
          op.status = STRATA_NOT_FOUND;
        } else {
          host_.set_value(op, it->second.value.data(), it->second.value.size());
          op.result_flags = it->second.flags;
          strata::set_result_ttl(op, it->second.remaining_ttl_ms);
          op.status = STRATA_OK;
        }
        break;
      case STRATA_TIER_ADD:
        if (it != items_.end()) {
          op.status = STRATA_NOT_STORED;
          break;
        }
        [[fallthrough]];
      case STRATA_TIER_SET:
        if (kVersioned && it != items_.end() && op.version != 0 &&
            op.version < it->second.version) {
          op.status = STRATA_NOT_STORED;
          break;
        }
        items_[key] =
            Item{std::string(op.value.data, op.value.len), op.flags, op.ttl_ms, op.version};
        op.status = STRATA_OK;
        break;
      case STRATA_TIER_WATERMARK_GET:  // not flagged STRATA_TIER_WATERMARK: never sent
        strata::set_op_error(op, STRATA_ERR_INVALID, "no watermarks");
        break;
      case STRATA_TIER_DELETE:
        if (it == items_.end()) {
          op.status = STRATA_NOT_FOUND;
        } else if (kVersioned && op.version != 0 && op.version < it->second.version) {
          op.status = STRATA_NOT_STORED;
        } else {
          items_.erase(it);
          op.status = STRATA_OK;
        }
        break;
      default:
        run_rich(op, key);
        break;
    }
  }

  // REPLACE .. CAS, sent only when FAKE_TIER_FLAGS has STRATA_TIER_RICH (the host must never
  // send them otherwise: the counts tell a test whether it did).
  void run_rich(strata_tier_op& op, const std::string& key) {
    auto it = items_.find(key);
    std::string value(op.value.data ? op.value.data : "", op.value.len);
    if (it == items_.end()) {
      op.status = op.kind == STRATA_TIER_INCR || op.kind == STRATA_TIER_DECR ||
                          op.kind == STRATA_TIER_TOUCH || op.kind == STRATA_TIER_CAS
                      ? STRATA_NOT_FOUND
                      : STRATA_NOT_STORED;
      return;
    }
    Item& item = it->second;
    op.status = STRATA_OK;
    switch (op.kind) {
      case STRATA_TIER_REPLACE:
        item = Item{value, op.flags, op.ttl_ms, 0};
        break;
      case STRATA_TIER_APPEND:
        item.value += value;
        break;
      case STRATA_TIER_PREPEND:
        item.value = value + item.value;
        break;
      case STRATA_TIER_INCR:
      case STRATA_TIER_DECR: {
        if (item.value.empty() || item.value.find_first_not_of("0123456789") != std::string::npos) {
          strata::set_op_error(op, STRATA_ERR_INVALID, "non-numeric value");
          return;
        }
        uint64_t n = std::stoull(item.value);
        n = op.kind == STRATA_TIER_INCR ? n + op.version : (n > op.version ? n - op.version : 0);
        item.value = std::to_string(n);
        host_.set_value(op, item.value.data(), item.value.size());
        break;
      }
      case STRATA_TIER_TOUCH:
        item.ttl_ms = op.ttl_ms;
        break;
      case STRATA_TIER_CAS:
        if (strata_cas_token(item.value.data(), item.value.size()) != op.version) {
          op.status = STRATA_NOT_STORED;
          return;
        }
        item = Item{value, op.flags, op.ttl_ms, 0};
        break;
      default:
        strata::set_op_error(op, STRATA_ERR_INVALID, "unknown op kind");
        break;
    }
  }

  void wait_gate() {
    std::unique_lock lock(gate_mu_);
    ++waiting_;
    gate_cv_.wait(lock, [&] { return gate_open_; });
    --waiting_;
  }

  strata::Host host_;
  std::atomic<bool> down_{false};
  std::mutex mu_;
  std::map<std::string, Item> items_;
  std::map<int, int> counts_;
  std::map<int, uint64_t> last_seq_;
  std::atomic<uint64_t>* sequence_ = nullptr;

  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool gate_open_ = true;
  int waiting_ = 0;
};

constexpr strata_option_def kOptions[] = {
    strata::option("label", STRATA_OPT_STRING, "", "free text, unused"),
};

FakeTier* self(void* inst) {
  return static_cast<FakeTier*>(static_cast<strata::ModuleBase*>(inst));
}

}  // namespace

#if defined(FAKE_TIER_ABI10)
#define FAKE_TIER_OLD_MINOR 0
#elif defined(FAKE_TIER_ABI11)
#define FAKE_TIER_OLD_MINOR 1
#endif

#ifndef FAKE_TIER_OLD_MINOR
STRATA_MODULE(FakeTier, FAKE_TIER_NAME, "0.0.1", "counting in-memory tier for tests", kOptions)
#else
// Poses as a module built for ABI 1.0 (whose strata_tier_op ended at host_result) or 1.1 (at
// result_ttl_ms): it walks the ops array with that stride and never sees the later fields.
#define strata_module_entry fake_tier_inner_entry
STRATA_MODULE(FakeTier, FAKE_TIER_NAME, "0.0.1", "counting in-memory tier for tests", kOptions)
#undef strata_module_entry

namespace {
constexpr size_t kOpSize_1_0 = FAKE_TIER_OLD_MINOR == 0 ? offsetof(strata_tier_op, result_ttl_ms)
                                                        : offsetof(strata_tier_op, guard_name);

int execute_1_0(void* inst, strata_tier_op* ops, size_t n, strata_error* err) {
  auto* base = reinterpret_cast<unsigned char*>(ops);
  const auto* inner = static_cast<const strata_tier_hooks*>(fake_tier_inner_entry()->kind_hooks);
  for (size_t i = 0; i < n; ++i) {
    strata_tier_op op{};
    std::memcpy(&op, base + i * kOpSize_1_0, kOpSize_1_0);
    if (op.struct_size != kOpSize_1_0) {
      strata::set_error(err, "op " + std::to_string(i) + " is not an op of the module's ABI");
      return STRATA_ERR_INVALID;
    }
    int rc = inner->execute(inst, &op, 1, err);
    std::memcpy(base + i * kOpSize_1_0, &op, kOpSize_1_0);
    if (rc != STRATA_OK) return rc;
  }
  return STRATA_OK;
}
}  // namespace

extern "C" STRATA_EXPORT const strata_module_descriptor* strata_module_entry(void) {
  static const strata_tier_hooks hooks = [] {
    strata_tier_hooks h =
        *static_cast<const strata_tier_hooks*>(fake_tier_inner_entry()->kind_hooks);
    h.execute = execute_1_0;
    return h;
  }();
  static const strata_module_descriptor d = [] {
    strata_module_descriptor x = *fake_tier_inner_entry();
    x.abi_minor = FAKE_TIER_OLD_MINOR;
    x.kind_hooks = &hooks;
    return x;
  }();
  return &d;
}
#endif

extern "C" {

// Ops of `kind` the tier ran (not counting batches refused while down).
STRATA_EXPORT int fake_tier_count(void* inst, int kind) {
  std::lock_guard lock(self(inst)->mu_);
  return self(inst)->counts_[kind];
}

STRATA_EXPORT void fake_tier_set_down(void* inst, int down) { self(inst)->down_ = down != 0; }

STRATA_EXPORT void fake_tier_put(void* inst, const char* key, const char* value, uint32_t flags,
                                 uint64_t version) {
  std::lock_guard lock(self(inst)->mu_);
  self(inst)->items_[key] = Item{value, flags, 0, version};
}

// The remaining TTL a GET of `key` reports (strata_tier_op.result_ttl_ms); 0 when absent.
STRATA_EXPORT int fake_tier_set_remaining_ttl(void* inst, const char* key, int64_t ms) {
  std::lock_guard lock(self(inst)->mu_);
  auto it = self(inst)->items_.find(key);
  if (it == self(inst)->items_.end()) return 0;
  it->second.remaining_ttl_ms = ms;
  return 1;
}

// 1 and the item's fields when present, else 0. `value` gets at most cap-1 bytes + NUL.
STRATA_EXPORT int fake_tier_lookup(void* inst, const char* key, char* value, size_t cap,
                                   uint32_t* flags, int64_t* ttl_ms) {
  std::lock_guard lock(self(inst)->mu_);
  auto it = self(inst)->items_.find(key);
  if (it == self(inst)->items_.end()) return 0;
  strata::copy_message(value, cap, it->second.value);
  *flags = it->second.flags;
  *ttl_ms = it->second.ttl_ms;
  return 1;
}

// Shared counter across tiers: each op takes the next number, so tests can check ordering.
STRATA_EXPORT void fake_tier_use_sequence(void* inst, std::atomic<uint64_t>* seq) {
  std::lock_guard lock(self(inst)->mu_);
  self(inst)->sequence_ = seq;
}

// Sequence number of the last op of `kind` (0 when none).
STRATA_EXPORT uint64_t fake_tier_last_seq(void* inst, int kind) {
  std::lock_guard lock(self(inst)->mu_);
  return self(inst)->last_seq_[kind];
}

// GETs block (after reading their item) while the gate is closed.
STRATA_EXPORT void fake_tier_gate(void* inst, int open) {
  {
    std::lock_guard lock(self(inst)->gate_mu_);
    self(inst)->gate_open_ = open != 0;
  }
  self(inst)->gate_cv_.notify_all();
}

STRATA_EXPORT int fake_tier_waiting(void* inst) {
  std::lock_guard lock(self(inst)->gate_mu_);
  return self(inst)->waiting_;
}

}  // extern "C"
