#include "pipeline/replay_gate.hpp"

#include "chain/tier.hpp"

namespace strata {
namespace {

bool writes_value(const KeyOp& op) {
  if (op.invalidation) return false;
  for (const auto& d : op.decisions)
    if (d.action == STRATA_ACTION_SET) return true;
  return false;
}

bool sent_anywhere(const KeyOp& op) {
  if (op.invalidation) return true;
  for (const auto& d : op.decisions)
    if (d.action != STRATA_ACTION_SKIP) return true;
  return false;
}

uint64_t token_of(const std::string& value) {
  uint64_t t = strata_cas_token(value.data(), value.size());
  return t == ~uint64_t(0) ? t - 1 : t;  // ~0 marks "deleted by the replay"
}

}  // namespace

bool ReplayGate::overwriting() const {
  return overwrite_ && ordering_ == Ordering::Partition && !reconcile_;
}

const uint64_t* ReplayGate::find(const std::string& key) const {
  auto it = tokens_.find(key);
  return it == tokens_.end() ? nullptr : &it->second;
}

void ReplayGate::prepare(WritePlan& plan, const std::vector<Tier*>& tiers) {
  const bool per_key = ordering_ != Ordering::Partition;
  for (KeyOp& op : plan.ops) {
    op.replay_kind = 0;
    op.replay_token = 0;
    if (op.superseded || !sent_anywhere(op)) continue;
    const uint64_t* held = find(op.key);
    bool mine = held && *held != kTaken && *held != kAbsent;
    op.replay_token = mine ? *held : 0;
    if (overwriting()) {
      // The operator says no later record of these keys was applied: plain writes.
      op.replay_kind = writes_value(op) ? STRATA_TIER_SET : STRATA_TIER_DELETE;
      op.replay_token = 0;
      continue;
    }
    if (reconcile_) {
      // Only a delete of what the replay wrote; the rest is the live pipeline's.
      op.replay_kind = !writes_value(op) && mine ? STRATA_TIER_DELETE : 0;
    } else if (writes_value(op)) {
      // Per key: the versions refuse what is older, as they do live.
      if (per_key)
        op.replay_kind = STRATA_TIER_SET;
      else if (!held || *held == kAbsent)
        op.replay_kind = STRATA_TIER_ADD;
      else if (mine)
        op.replay_kind = STRATA_TIER_CAS;
    } else if (per_key && !op.invalidation) {
      op.replay_kind = STRATA_TIER_DELETE;  // versioned: leaves a tombstone
    } else if (mine) {
      op.replay_kind = STRATA_TIER_DELETE;  // only if it still holds the replay's value
    }
    if (op.replay_kind == 0) op.durable = KeyOp::Outcome::Refused;  // nothing of ours there
  }
  check_deletes(plan, tiers);
}

// A delete of the replay's own value: GET first, delete only when the token still matches.
// Two round trips, not one atomic step: a live write landing between them is deleted (a miss
// the next read refills from the source of truth, never an older value).
void ReplayGate::check_deletes(WritePlan& plan, const std::vector<Tier*>& tiers) {
  std::vector<KeyOp*> checks;
  for (KeyOp& op : plan.ops)
    if (op.replay_kind == STRATA_TIER_DELETE && op.replay_token != 0 &&
        (ordering_ == Ordering::Partition || op.invalidation || reconcile_))
      checks.push_back(&op);
  if (checks.empty()) return;
  std::vector<strata_tier_op> gets;
  std::vector<OpResult> results;
  for (Tier* t : tiers) {
    if (!t->durable()) continue;
    gets.clear();
    for (KeyOp* op : checks) gets.push_back(make_op(STRATA_TIER_GET, op->key));
    t->execute(gets, results);
    for (size_t k = 0; k < checks.size(); ++k) {
      KeyOp& op = *checks[k];
      if (op.replay_kind == 0) continue;
      if (gets[k].status == STRATA_NOT_FOUND ||
          (gets[k].status == STRATA_OK && results[k].has_value &&
           token_of(results[k].value) != op.replay_token)) {
        op.replay_kind = 0;  // gone or rewritten by the live pipeline: its business now
        op.durable = KeyOp::Outcome::Refused;
        tokens_[op.key] = gets[k].status == STRATA_NOT_FOUND ? kAbsent : kTaken;
      } else if (gets[k].status != STRATA_OK) {
        op.replay_kind = 0;
        op.durable = KeyOp::Outcome::Failed;
        std::string& dead = plan.records[op.record].dead;
        if (dead.empty()) dead = t->name() + ": replay could not check the key: " + gets[k].error;
      }
    }
  }
}

strata_tier_op ReplayGate::durable_op(const WritePlan& plan, const KeyOp& op, size_t tier) const {
  const RecordEntry& e = plan.records[op.record];
  auto kind = static_cast<strata_tier_op_kind>(op.replay_kind);
  if (kind == STRATA_TIER_DELETE)
    return make_op(
        kind, op.key, {}, 0,
        ordering_ != Ordering::Partition && !op.invalidation && !reconcile_ ? e.version : 0);
  uint64_t version = kind == STRATA_TIER_CAS                   ? op.replay_token
                     : kind == STRATA_TIER_SET && !overwriting() ? e.version
                                                                 : 0;
  return make_op(kind, op.key, e.value, op.ttl_ms(tier), version);
}

strata_tier_op ReplayGate::volatile_op(const WritePlan& plan, const KeyOp& op, size_t tier,
                                       uint32_t tier_flags) const {
  const RecordEntry& e = plan.records[op.record];
  bool set = op.action(tier) == STRATA_ACTION_SET && e.dead.empty();
  if (!set || overwriting()) return make_op(STRATA_TIER_DELETE, op.key);
  // Never SET: the live pipeline may have put a newer copy there since the durable write.
  if (op.replay_token == 0) return make_op(STRATA_TIER_ADD, op.key, e.value, op.ttl_ms(tier));
  if (tier_flags & STRATA_TIER_RICH)
    return make_op(STRATA_TIER_CAS, op.key, e.value, op.ttl_ms(tier), op.replay_token);
  return make_op(STRATA_TIER_DELETE, op.key);  // cannot compare: drop our older copy
}

bool ReplayGate::applied(const KeyOp& op, strata_status s) {
  if (op.replay_kind == STRATA_TIER_DELETE) return s == STRATA_OK || s == STRATA_NOT_FOUND;
  return s == STRATA_OK;
}

void ReplayGate::settle(const WritePlan& plan) {
  for (const KeyOp& op : plan.ops) {
    if (op.superseded || op.replay_kind == 0) continue;
    if (op.durable == KeyOp::Outcome::Applied) {
      tokens_[op.key] =
          op.replay_kind == STRATA_TIER_DELETE ? kAbsent : token_of(plan.records[op.record].value);
    } else if (op.durable == KeyOp::Outcome::Refused && ordering_ == Ordering::Partition) {
      auto [it, fresh] = tokens_.try_emplace(op.key, kTaken);
      if (!fresh && it->second == kTaken) continue;
      it->second = kTaken;
      ++yielded_;
    }
  }
}

void ReplayGate::keep_refused_as_dead(WritePlan& plan) const {
  if (!dead_letters_ || ordering_ != Ordering::Partition || reconcile_ || overwrite_) return;
  for (const KeyOp& op : plan.ops) {
    if (op.superseded || op.invalidation || !sent_anywhere(op) ||
        op.durable != KeyOp::Outcome::Refused)
      continue;
    std::string& dead = plan.records[op.record].dead;
    if (dead.empty())
      dead = "dead-letter replay: key \"" + op.key +
             "\" holds a value of the live pipeline, and order = \"partition\" keeps no "
             "per-key version to tell whether it is newer than this record's; left as it is "
             "(strata dead-letters replay --overwrite writes it anyway)";
  }
}

}  // namespace strata
