#include "chain/tier_chain.hpp"

#include <functional>

#include "common/log.hpp"

namespace strata {

std::string describe_failure(const Tier& tier, const strata_tier_op& op) {
  std::string msg = op.error;
  // Tier::execute prefixes whole-batch and breaker errors with the tier's name already.
  if (msg.rfind(tier.name() + ":", 0) == 0) return msg;
  if (msg.empty()) msg = "status " + std::to_string(op.status);
  return tier.name() + ": " + op_kind_name(op.kind) + " failed: " + msg;
}

std::string failure_for_log(const Tier& tier, const strata_tier_op& op) {
  std::string msg = describe_failure(tier, op);
  const std::string prefix = tier.name() + ": ";
  return msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg;
}

namespace {

std::string_view to_view(strata_bytes b) { return {b.data, b.len}; }

}  // namespace

// How much sooner than the durable tier's copy a refilled volatile copy must expire. Volatile
// tiers such as memcached count TTLs in whole seconds (memcached_l1 rounds up) on a clock that
// ticks once a second, so their copy can outlive the requested TTL by up to ~2 s.
constexpr int64_t kRefillTtlMarginMs = 2000;

int64_t refill_ttl(int64_t remaining_ms) {
  if (remaining_ms <= 0) return 0;
  return remaining_ms > kRefillTtlMarginMs ? remaining_ms - kRefillTtlMarginMs : -1;
}

TierChain::TierChain(std::vector<Tier*> tiers, ChainSettings s)
    : tiers_(std::move(tiers)), settings_(s) {}

GetResult TierChain::get(std::string_view key) {
  // Concurrent gets of one key share one read: the leader reads L1, then L2, refills L1 and
  // publishes; the others wait. A get that starts after the leader finished finds the refill in
  // L1, so a burst of misses makes exactly one L2 read (as long as the refill landed).
  FlightShard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard lock(shard.mu);
    auto [it, inserted] = shard.flights.try_emplace(std::string(key));
    if (inserted) it->second = std::make_shared<Flight>();
    flight = it->second;
    leader = inserted;
  }
  if (!leader) {
    std::unique_lock lock(flight->mu);
    flight->cv.wait(lock, [&] { return flight->done; });
    return flight->result;
  }

  GetResult result = read_through(key);
  {
    std::lock_guard lock(shard.mu);
    shard.flights.erase(std::string(key));
  }
  {
    std::lock_guard lock(flight->mu);
    flight->result = result;
    flight->done = true;
  }
  flight->cv.notify_all();
  return result;
}

std::vector<GetResult> TierChain::get_many(const std::vector<std::string_view>& keys) {
  std::vector<GetResult> out(keys.size());
  std::vector<bool> answered;
  if (keys.size() < 2 || !read_first_volatile(keys, out, answered)) answered.assign(keys.size(), false);
  for (size_t i = 0; i < keys.size(); ++i)
    if (!answered[i]) out[i] = get(keys[i]);  // a miss or an error: L2, single flight, refill
  return out;
}

bool TierChain::first_tier_volatile() const { return !tiers_.empty() && !tiers_[0]->durable(); }

bool TierChain::read_first_volatile(const std::vector<std::string_view>& keys,
                                    std::vector<GetResult>& out, std::vector<bool>& answered) {
  if (!first_tier_volatile()) return false;
  out.assign(keys.size(), GetResult{});
  answered.assign(keys.size(), false);
  Tier* first = tiers_[0];
  std::vector<strata_tier_op> ops;
  ops.reserve(keys.size());
  for (std::string_view k : keys) ops.push_back(make_op(STRATA_TIER_GET, k));
  std::vector<OpResult> results;
  first->execute(ops, results);
  const bool degraded = durable_degraded();
  for (size_t i = 0; i < keys.size(); ++i) {
    const strata_tier_op& op = ops[i];
    if (op.status != STRATA_OK) continue;  // a miss or an error: the caller's get() decides
    answered[i] = true;
    GetResult& r = out[i];
    r.tier = first->name();
    if (op.result_flags == STRATA_ITEM_NEGATIVE) continue;  // NOT_FOUND: a negative entry
    r.status = STRATA_OK;
    r.value = std::move(results[i].value);
    r.flags = op.result_flags;
    r.ttl_ms = op.result_ttl_ms;
    r.stale = degraded;
  }
  return true;
}

GetResult TierChain::read_through(std::string_view key) {
  GetResult result;
  std::vector<Tier*> missed;  // volatile tiers that answered "no such key": refill candidates
  std::vector<uint64_t> marks;  // their delete marks from before the read
  const size_t slot = Tier::mark_slot(key);
  std::vector<uint64_t> before(tiers_.size());
  for (size_t i = 0; i < tiers_.size(); ++i) before[i] = tiers_[i]->delete_mark(slot);
  bool durable_missed = false;
  std::string first_error;
  strata_status first_error_status = STRATA_NOT_FOUND;
  std::vector<strata_tier_op> ops(1);
  std::vector<OpResult> results;

  for (size_t t = 0; t < tiers_.size(); ++t) {
    Tier* tier = tiers_[t];
    ops[0] = make_op(STRATA_TIER_GET, key);
    tier->execute(ops, results);
    const strata_tier_op& op = ops[0];
    if (op.status == STRATA_OK) {
      result.tier = tier->name();
      if (op.result_flags == STRATA_ITEM_NEGATIVE && !tier->durable()) {
        // A negative entry: L2 said "no such key" a moment ago.
        result.status = STRATA_NOT_FOUND;
        return result;
      }
      result.status = STRATA_OK;
      result.value = std::move(results[0].value);
      result.flags = op.result_flags;
      result.ttl_ms = op.result_ttl_ms;
      // Every volatile tier before this one that missed gets the value: with its own default
      // TTL, or, when the value expires here sooner, a TTL that ends before it does here.
      int64_t ttl = refill_ttl(op.result_ttl_ms);
      if (ttl >= 0) refill(missed, marks, slot, key, result.value, op.result_flags, ttl);
      if (!tier->durable()) result.stale = durable_degraded();
      return result;
    }
    if (op.status == STRATA_NOT_FOUND) {
      if (tier->durable()) {
        durable_missed = true;
      } else {
        missed.push_back(tier);
        marks.push_back(before[t]);
      }
      continue;
    }
    // Down, breaker open, bad key, ...: skip this tier (and never refill it on this read).
    if (first_error.empty()) {
      first_error = describe_failure(*tier, op);
      first_error_status = op.status;
    }
    if (tier->durable()) {
      // The source of truth is unreachable: what L1 did not have, we cannot answer.
      result.status = op.status;
      result.error = describe_failure(*tier, op);
      return result;
    }
  }

  if (durable_missed) {
    if (settings_.neg_ttl_ms > 0)
      refill(missed, marks, slot, key, {}, STRATA_ITEM_NEGATIVE, settings_.neg_ttl_ms);
    return result;  // NOT_FOUND
  }
  if (missed.empty() && !first_error.empty()) {
    // Only volatile tiers, and none of them answered.
    result.status = first_error_status;
    result.error = first_error;
  }
  return result;
}

void TierChain::refill(const std::vector<Tier*>& tiers, const std::vector<uint64_t>& marks,
                       size_t slot, std::string_view key, std::string_view value, uint32_t flags,
                       int64_t ttl_ms) {
  // ADD, never SET: a refill that arrives after a newer write must not overwrite it.
  std::vector<strata_tier_op> ops(1);
  std::vector<OpResult> results;
  for (size_t i = 0; i < tiers.size(); ++i) {
    Tier* tier = tiers[i];
    ops[0] = make_op(STRATA_TIER_ADD, key, value, ttl_ms, 0, flags);
    tier->execute(ops, results);
    if (ops[0].status == STRATA_OK && tier->delete_mark(slot) != marks[i]) {
      // A delete of this key (slot) came while we read: the value may predate it.
      ops[0] = make_op(STRATA_TIER_DELETE, key);
      tier->execute(ops, results);
    } else if (ops[0].status == STRATA_OK) {
      tier->count_refill();
    } else if (ops[0].status != STRATA_NOT_STORED) {
      log::write(STRATA_LOG_DEBUG, tier->name(), {},
                 "refill failed: " + failure_for_log(*tier, ops[0]));
    }
  }
}

bool TierChain::durable_degraded() const {
  for (Tier* tier : tiers_)
    if (tier->durable() && tier->breaker().state() != CircuitBreaker::State::Closed) return true;
  return false;
}

Result<void> TierChain::set(std::string_view key, std::string_view value, int64_t ttl_ms,
                            uint64_t version, uint32_t flags) {
  return write(make_op(STRATA_TIER_SET, key, value, ttl_ms, version, flags));
}

Result<void> TierChain::del(std::string_view key, uint64_t version) {
  return write(make_op(STRATA_TIER_DELETE, key, {}, 0, version));
}

Result<void> TierChain::write(const strata_tier_op& op) {
  const bool is_set = op.kind == STRATA_TIER_SET;
  const char* what = is_set ? "set" : "delete";
  std::vector<strata_tier_op> ops(1);
  std::vector<OpResult> results;
  bool any_durable = false;
  for (Tier* tier : tiers_) {
    if (!tier->durable()) continue;
    any_durable = true;
    ops[0] = op;
    tier->execute(ops, results);
    if (ops[0].status == STRATA_NOT_STORED) {
      // A newer version is stored: this write is superseded (a replay). Leave L1 alone so it
      // cannot be rolled back to the older value.
      log::write(
          STRATA_LOG_DEBUG, tier->name(), {},
          std::string(what) + " superseded by a newer version; volatile tiers left as they are");
      return {};
    }
    bool ok = ops[0].status == STRATA_OK || (!is_set && ops[0].status == STRATA_NOT_FOUND);
    if (!ok) return fail(describe_failure(*tier, ops[0]));
  }

  std::string volatile_error;
  bool any_volatile_ok = write_volatile(op, &volatile_error);
  // Without a durable tier the volatile ones are all there is: failing all of them is an error.
  if (!any_durable && !any_volatile_ok && !volatile_error.empty()) return fail(volatile_error);
  return {};
}

bool TierChain::set_volatile(std::string_view key, std::string_view value, int64_t ttl_ms,
                             uint64_t version, uint32_t flags, std::string* first_error) {
  return write_volatile(make_op(STRATA_TIER_SET, key, value, ttl_ms, version, flags), first_error);
}

bool TierChain::write_volatile(const strata_tier_op& op, std::string* first_error) {
  const bool is_set = op.kind == STRATA_TIER_SET;
  std::vector<strata_tier_op> ops(1);
  std::vector<OpResult> results;
  bool any_ok = false;
  for (Tier* tier : tiers_) {
    if (tier->durable()) continue;
    // A volatile tier keeps no versions: its delete is unconditional.
    ops[0] = is_set ? op : make_op(STRATA_TIER_DELETE, to_view(op.key));
    tier->execute(ops, results);
    if (ops[0].status == STRATA_OK || (!is_set && ops[0].status == STRATA_NOT_FOUND)) {
      any_ok = true;
      continue;
    }
    // Counted by the tier's error metric; L1 is volatile, so this is not the caller's failure.
    log::write(STRATA_LOG_WARN, tier->name(), {},
               (is_set ? "volatile tier not updated: "
                       : "volatile tier may keep the deleted key until its TTL: ") +
                   failure_for_log(*tier, ops[0]));
    if (first_error->empty()) *first_error = describe_failure(*tier, ops[0]);
    if (is_set && ops[0].status == STRATA_ERR_TOO_LARGE) {
      // An older value may still sit there; drop it rather than serve it.
      ops[0] = make_op(STRATA_TIER_DELETE, to_view(op.key));
      tier->execute(ops, results);
    }
  }
  return any_ok;
}

}  // namespace strata
