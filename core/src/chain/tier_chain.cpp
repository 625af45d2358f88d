#include "chain/tier_chain.hpp"

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

TierChain::TierChain(std::vector<Tier*> tiers, ChainSettings s)
    : tiers_(std::move(tiers)), settings_(s) {}

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
