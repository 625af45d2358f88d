// The fronts' writes on the TierChain (memcached's set, add, delete, touch, and the durable-only
// replace, append, prepend, incr, decr, cas). Each answers with a status the front maps to
// memcached's reply. The durable tier (the source of truth) goes first; volatile copies follow
// it or, where the op's result is only known to the durable tier, are deleted so that the next
// get refills them from there.
#include <string>

#include "chain/tier_chain.hpp"
#include "common/log.hpp"

namespace strata {
namespace {

// Lower case for messages: "the durable tier does not support append".
std::string lower_kind(strata_tier_op_kind kind) {
  std::string s = op_kind_name(kind);
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

OpOutcome failed(const Tier& tier, const strata_tier_op& op) {
  return OpOutcome{op.status, {}, describe_failure(tier, op)};
}

OpOutcome invalid(std::string message) { return OpOutcome{STRATA_ERR_INVALID, {}, message}; }

// The durable tier might have applied an op that failed this way (a timeout after sending).
bool maybe_applied(strata_status s) {
  return s == STRATA_ERR_UNAVAILABLE || s == STRATA_ERR_INTERNAL;
}

// Runs one op on one tier; its GET/INCR value (if any) in *value.
strata_tier_op run_one(Tier& tier, const strata_tier_op& in, std::string* value = nullptr) {
  std::vector<strata_tier_op> ops{in};
  std::vector<OpResult> results;
  tier.execute(ops, results);
  if (value && !results.empty() && results[0].has_value) *value = std::move(results[0].value);
  return ops[0];
}

}  // namespace

OpOutcome TierChain::store(std::string_view key, std::string_view value, int64_t ttl_ms,
                           uint32_t flags) {
  bool any_durable = false;
  for (Tier* tier : tiers_) {
    if (!tier->durable()) continue;
    any_durable = true;
    strata_tier_op op = run_one(*tier, make_op(STRATA_TIER_SET, key, value, ttl_ms, 0, flags));
    if (op.status != STRATA_OK) return failed(*tier, op);
  }
  std::string volatile_error;
  bool any_ok = set_volatile(key, value, ttl_ms, 0, flags, &volatile_error);
  if (!any_durable && !any_ok && !volatile_error.empty())
    return OpOutcome{STRATA_ERR_UNAVAILABLE, {}, volatile_error};
  return {};
}

OpOutcome TierChain::add(std::string_view key, std::string_view value, int64_t ttl_ms,
                         uint32_t flags) {
  bool any_durable = false;
  for (Tier* tier : tiers_) {
    if (!tier->durable()) continue;
    any_durable = true;
    strata_tier_op op = run_one(*tier, make_op(STRATA_TIER_ADD, key, value, ttl_ms, 0, flags));
    if (op.status == STRATA_NOT_STORED) return OpOutcome{STRATA_NOT_STORED, {}, {}};
    if (op.status != STRATA_OK) return failed(*tier, op);
  }
  if (any_durable) {
    // The durable tier now holds exactly this value: a volatile copy (even a negative entry)
    // is older, so SET, not ADD.
    std::string ignored;
    set_volatile(key, value, ttl_ms, 0, flags, &ignored);
    return {};
  }
  // Volatile tiers only: the first one decides, the others follow it.
  OpOutcome out{STRATA_NOT_STORED, {}, {}};
  bool decided = false;
  for (Tier* tier : tiers_) {
    strata_tier_op op = run_one(*tier, make_op(STRATA_TIER_ADD, key, value, ttl_ms, 0, flags));
    if (!decided) {
      out = op.status == STRATA_OK || op.status == STRATA_NOT_STORED
                ? OpOutcome{op.status, {}, {}}
                : failed(*tier, op);
      decided = true;
      if (op.status != STRATA_OK) return out;
    }
  }
  return out;
}

OpOutcome TierChain::remove(std::string_view key) {
  bool any_durable = false;
  bool durable_found = false;
  for (Tier* tier : tiers_) {
    if (!tier->durable()) continue;
    any_durable = true;
    strata_tier_op op = run_one(*tier, make_op(STRATA_TIER_DELETE, key));
    if (op.status == STRATA_OK) durable_found = true;
    if (op.status != STRATA_OK && op.status != STRATA_NOT_FOUND) return failed(*tier, op);
  }
  // Even when the durable tier had nothing, a volatile copy (or negative entry) may linger.
  bool volatile_found = false;
  std::string volatile_error;
  for (Tier* tier : tiers_) {
    if (tier->durable()) continue;
    strata_tier_op op = run_one(*tier, make_op(STRATA_TIER_DELETE, key));
    if (op.status == STRATA_OK) volatile_found = true;
    if (op.status == STRATA_OK || op.status == STRATA_NOT_FOUND) continue;
    log::write(STRATA_LOG_WARN, tier->name(), {},
               "volatile tier may keep the deleted key until its TTL: " +
                   failure_for_log(*tier, op));
    if (volatile_error.empty()) volatile_error = describe_failure(*tier, op);
  }
  if (any_durable) return OpOutcome{durable_found ? STRATA_OK : STRATA_NOT_FOUND, {}, {}};
  if (!volatile_found && !volatile_error.empty())
    return OpOutcome{STRATA_ERR_UNAVAILABLE, {}, volatile_error};
  return OpOutcome{volatile_found ? STRATA_OK : STRATA_NOT_FOUND, {}, {}};
}

OpOutcome TierChain::touch(std::string_view key, int64_t ttl_ms) {
  bool any_durable = false;
  strata_status answer = STRATA_NOT_FOUND;
  for (Tier* tier : tiers_) {
    if (!tier->durable()) continue;
    if (!tier->rich()) return invalid("the durable tier does not support touch");
    any_durable = true;
    strata_tier_op op = run_one(*tier, make_op(STRATA_TIER_TOUCH, key, {}, ttl_ms));
    if (op.status != STRATA_OK && op.status != STRATA_NOT_FOUND) return failed(*tier, op);
    if (op.status == STRATA_OK) answer = STRATA_OK;
  }
  if (!any_durable) {
    for (Tier* tier : tiers_)
      if (!tier->rich()) return invalid(tier->name() + " does not support touch");
  }
  for (Tier* tier : tiers_) {
    if (tier->durable()) continue;
    // A tier that cannot touch drops its copy instead: the next get refills it with the
    // durable tier's new TTL. So does every tier when the durable tier has no such key.
    bool can_touch = tier->rich() && (answer == STRATA_OK || !any_durable);
    strata_tier_op op = run_one(
        *tier, can_touch ? make_op(STRATA_TIER_TOUCH, key, {}, ttl_ms) : make_op(STRATA_TIER_DELETE, key));
    if (!any_durable && op.status == STRATA_OK) answer = STRATA_OK;
    if (op.status != STRATA_OK && op.status != STRATA_NOT_FOUND)
      log::write(STRATA_LOG_WARN, tier->name(), {},
                 "volatile copy keeps its old TTL: " + failure_for_log(*tier, op));
  }
  return OpOutcome{answer, {}, {}};
}

OpOutcome TierChain::durable_only(strata_tier_op_kind kind, std::string_view key,
                                  std::string_view value, int64_t ttl_ms, uint32_t flags,
                                  uint64_t arg) {
  Tier* durable = nullptr;
  size_t count = 0;
  for (Tier* tier : tiers_)
    if (tier->durable()) {
      durable = durable ? durable : tier;
      ++count;
    }
  const std::string what = lower_kind(kind);
  if (!durable) return invalid("the chain has no durable tier for " + what);
  if (count > 1)
    return invalid("the chain has " + std::to_string(count) + " durable tiers; " + what +
                   " needs exactly one");
  if (!durable->rich()) return invalid("the durable tier does not support " + what);
  OpOutcome out;
  strata_tier_op op =
      run_one(*durable, make_op(kind, key, value, ttl_ms, arg, flags), &out.value);
  out.status = op.status;
  if (op.status >= STRATA_ERR_BAD_KEY) out.error = describe_failure(*durable, op);
  if (op.status == STRATA_OK || maybe_applied(op.status)) drop_volatile(key, what.c_str());
  return out;
}

OpOutcome TierChain::flush_volatile() {
  for (Tier* tier : tiers_)
    if (!tier->durable() && !tier->flushable())
      return invalid(tier->name() + " does not support flush");
  OpOutcome out;
  for (Tier* tier : tiers_) {
    if (tier->durable()) continue;
    strata_tier_op op = run_one(*tier, make_op(STRATA_TIER_FLUSH, {}));
    if (op.status != STRATA_OK && out.status == STRATA_OK) out = failed(*tier, op);
  }
  return out;
}

OpOutcome TierChain::invalidate_volatile(std::string_view key) {
  OpOutcome out{STRATA_NOT_FOUND, {}, {}};
  bool failed_once = false;
  for (Tier* tier : tiers_) {
    if (tier->durable()) continue;
    strata_tier_op op = run_one(*tier, make_op(STRATA_TIER_DELETE, key));
    if (op.status == STRATA_OK && !failed_once) out.status = STRATA_OK;
    if (op.status != STRATA_OK && op.status != STRATA_NOT_FOUND && !failed_once) {
      out = failed(*tier, op);
      failed_once = true;
    }
  }
  return out;
}

void TierChain::drop_volatile(std::string_view key, const char* why) {
  for (Tier* tier : tiers_) {
    if (tier->durable()) continue;
    strata_tier_op op = run_one(*tier, make_op(STRATA_TIER_DELETE, key));
    if (op.status != STRATA_OK && op.status != STRATA_NOT_FOUND)
      log::write(STRATA_LOG_WARN, tier->name(), {},
                 std::string("volatile copy may be stale after ") + why +
                     " until its TTL: " + failure_for_log(*tier, op));
  }
}

}  // namespace strata
