// Tier: one tier module instance (memcached, Redis, ...) behind its circuit breaker, with the
// per-tier metrics. The TierChain reads and writes through it; the pipeline's writer calls
// execute() directly for its batches.
#pragma once

#include <strata/ops.hpp>  // make_op, set_op_error: the SDK's, one copy
#include <strata/strata.h>

#include <array>
#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "chain/breaker.hpp"
#include "loader/loader.hpp"

namespace strata {

class Series;

class Tier {
 public:
  Tier(ModuleInstance& instance, BreakerSettings breaker);
  Tier(const Tier&) = delete;
  Tier& operator=(const Tier&) = delete;

  const std::string& name() const;  // "tiers.l1"
  uint32_t flags() const;           // strata_tier_hooks::tier_flags
  bool durable() const { return (flags() & STRATA_TIER_DURABLE) != 0; }
  // Declares STRATA_TIER_RICH (REPLACE .. CAS) and is built for ABI 1.2 or later.
  bool rich() const { return (flags() & STRATA_TIER_RICH) != 0; }
  // Declares STRATA_TIER_FLUSHABLE (STRATA_TIER_FLUSH) and is built for ABI 1.2 or later.
  bool flushable() const { return (flags() & STRATA_TIER_FLUSHABLE) != 0; }
  // Declares STRATA_TIER_SCANNABLE (STRATA_TIER_SCAN) and is built for ABI 1.2 or later.
  bool scannable() const { return (flags() & STRATA_TIER_SCANNABLE) != 0; }

  // Runs ops through the module if the breaker allows, else sets every op to
  // STRATA_ERR_BREAKER_OPEN with a message naming the tier. results.size() is made ==
  // ops.size() and op.host_result points at results[i]. Availability failures (whole batch
  // failed, any op UNAVAILABLE/INTERNAL) count as one breaker failure; a batch that ran counts
  // as a success. Returns false when the batch failed as a whole or the breaker refused.
  bool execute(std::vector<strata_tier_op>& ops, std::vector<OpResult>& results);

  CircuitBreaker& breaker() { return breaker_; }
  bool health();  // the module's health hook (true when the module has none)

  // Counts a read-path refill that the tier stored (called by the TierChain).
  void count_refill();

  // Deletes and flushes seen by this tier, per slot of key hashes: a read-through notes the
  // mark of its key before it reads the durable tier, and drops its refill again when the
  // mark moved meanwhile, so a refill of a value read before a delete (the invalidation bus's
  // delete of a key another node just wrote) never outlives that delete.
  static size_t mark_slot(std::string_view key);
  uint64_t delete_mark(size_t slot) const {
    return marks_[slot].load(std::memory_order_seq_cst) +
           flush_mark_.load(std::memory_order_seq_cst);
  }

 private:
  void refuse(std::vector<strata_tier_op>& ops);
  // An op execute() left STRATA_UNANSWERED (or set to a value outside strata_status) becomes
  // STRATA_ERR_INTERNAL with a message naming the instance and the module.
  void fail_unanswered(strata_tier_op& op) const;
  // Fails the batch (true) when it holds a rich op kind and the tier does not declare
  // STRATA_TIER_RICH.
  bool refuse_unsupported(std::vector<strata_tier_op>& ops);
  // execute() for a module built against an older minor (smaller ops): packs the ops for it.
  int execute_packed(std::vector<strata_tier_op>& ops, strata_error* err);
  void on_breaker_change(CircuitBreaker::State from, CircuitBreaker::State to);
  void show_breaker_state(CircuitBreaker::State current);

  static constexpr size_t kMarkSlots = 4096;
  void bump_marks(const std::vector<strata_tier_op>& ops);

  ModuleInstance& instance_;
  const strata_tier_hooks* hooks_;
  size_t op_size_ = sizeof(strata_tier_op);  // the op size of the module's ABI minor
  CircuitBreaker breaker_;
  Series* hits_;
  Series* misses_;
  Series* errors_;
  Series* refills_;
  Series* latency_;
  std::array<Series*, 3> breaker_state_{};  // closed, open, half_open
  Series* breaker_opens_;
  std::array<std::atomic<uint64_t>, kMarkSlots> marks_{};
  std::atomic<uint64_t> flush_mark_{0};
};

// "GET", "SET", ... for messages.
const char* op_kind_name(strata_tier_op_kind kind);

// "tiers.l2: SET failed: <the module's message>" for an op that failed on `tier` (a message
// that already names the tier is kept as it is).
std::string describe_failure(const Tier& tier, const strata_tier_op& op);
// The same without the tier's name, for log lines (the logger prefixes the instance).
std::string failure_for_log(const Tier& tier, const strata_tier_op& op);

}  // namespace strata
