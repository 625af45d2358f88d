// The write stages of the pipeline: a batch's plan goes to the durable tiers first (retried
// with backoff until acknowledged, pausing the source while a breaker is open), then to the
// volatile tiers (best effort, counted). Each KeyOp's durable outcome decides what the
// volatile tiers get.
#include <algorithm>
#include <charconv>

#include "chain/tier.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "loader/loader.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/pipeline.hpp"

namespace strata {
namespace {

// Retryable: the tier may come back. Anything else is a property of the record.
bool retryable(strata_status s) {
  return s == STRATA_ERR_UNAVAILABLE || s == STRATA_ERR_BREAKER_OPEN;
}

bool done(strata_status s) { return s == STRATA_OK || s == STRATA_NOT_FOUND; }

}  // namespace

// The op a durable tier gets for `op` (DELETE for a tombstone or an invalidation,
// INVALIDATE_TAG for a tag's).
strata_tier_op Pipeline::tier_op(const WritePlan& plan, const KeyOp& op, size_t tier) const {
  if (gate_) return gate_->durable_op(plan, op, tier);
  const RecordEntry& e = plan.records[op.record];
  bool set = op.action(tier) == STRATA_ACTION_SET;
  strata_tier_op t = make_op(op.tag ? STRATA_TIER_INVALIDATE_TAG
                             : set  ? STRATA_TIER_SET
                                    : STRATA_TIER_DELETE,
                             op.key, set ? std::string_view(e.value) : std::string_view(),
                             set ? op.ttl_ms(tier) : 0,
                             // invalidations are unversioned deletes under per-key orders
                             op.invalidation && !plan_.offset_versions ? 0 : e.version);
  if (tiers_[tier]->durable() && e.guard != SIZE_MAX) {
    const std::string& g = plan.guards[e.guard];
    t.guard_name = {g.data(), g.size()};
    t.guard_offset = e.rec->offset;
  }
  return t;
}

bool Pipeline::write_durable(WritePlan& plan) {
  for (size_t t = 0; t < tiers_.size(); ++t)
    if (tiers_[t]->durable() && !write_durable_tier(plan, t)) return false;
  return true;
}

void Pipeline::settle_durable(WritePlan& plan, size_t t, KeyOp& op, const strata_tier_op& r,
                              const OpResult& result) {
  bool refused = r.status == STRATA_NOT_STORED;
  bool applied = done(r.status);
  if (gate_) {
    // A replay's CAS on a key the live pipeline deleted answers NOT_FOUND: refused too.
    applied = ReplayGate::applied(op, r.status);
    refused = !applied && (r.status == STRATA_NOT_STORED || r.status == STRATA_NOT_FOUND);
  }
  if (applied) {
    if (op.durable == KeyOp::Outcome::Pending) op.durable = KeyOp::Outcome::Applied;
    if (op.tag && result.has_value &&
        !tag_keys(result.value, [&](std::string_view k) { op.tag_keys.emplace_back(k); })) {
      metrics_->tier_errors[t]->add(1);
      log::write(STRATA_LOG_ERROR, tiers_[t]->name(), settings_.name,
                 "INVALIDATE_TAG " + op.key +
                     ": the deleted keys came back malformed; the volatile tiers may keep some");
    }
    if (op.invalidation) {
      stats_.invalidations++;
      metrics_->invalidations->add(1);
    } else if (r.kind == STRATA_TIER_SET || r.kind == STRATA_TIER_ADD ||
               r.kind == STRATA_TIER_CAS) {
      stats_.keys_written++;
      metrics_->keys_written[t]->add(1);
    }
  } else if (refused) {
    // Applied before (at or below the watermark: a replay, a zombie) or older than the
    // stored version: the tiers already hold this or something newer.
    if (op.durable != KeyOp::Outcome::Failed) op.durable = KeyOp::Outcome::Refused;
    stats_.stale_skipped++;
    metrics_->replays_skipped->add(1);
  } else {
    metrics_->tier_errors[t]->add(1);
    std::string& dead = plan.records[op.record].dead;
    if (dead.empty()) dead = tiers_[t]->name() + ": " + r.error;
    op.durable = KeyOp::Outcome::Failed;
  }
}

// Sends the plan's ops for durable tier `t` until each has a final status. False when the
// pipeline stops while some are still unacknowledged (the batch is then not acked).
bool Pipeline::write_durable_tier(WritePlan& plan, size_t t) {
  Tier* tier = tiers_[t];
  std::vector<KeyOp*> pending;
  for (KeyOp& op : plan.ops)
    if (!op.superseded && op.action(t) != STRATA_ACTION_SKIP &&
        (!gate_ || op.durable == KeyOp::Outcome::Pending))
      pending.push_back(&op);
  int64_t backoff = settings_.retry_backoff_ms;
  std::vector<strata_tier_op> round;
  std::vector<size_t> first;  // round[first[k]] is pending[k]'s op, its TAG ops follow it
  std::vector<OpResult> results;
  bool paused = false;
  while (!pending.empty()) {
    round.clear();
    first.clear();
    for (KeyOp* op : pending) {
      first.push_back(round.size());
      round.push_back(tier_op(plan, *op, t));
      if (round.back().kind != STRATA_TIER_SET) continue;
      // Right after the SET, with its guard: the tier writes them in the SET's atomic step.
      for (const std::string& tag : plan.records[op->record].tags) {
        strata_tier_op g = round[first.back()];
        g.kind = STRATA_TIER_TAG;
        g.value = {tag.data(), tag.size()};
        g.ttl_ms = 0;
        g.version = 0;
        round.push_back(g);
      }
    }
    first.push_back(round.size());
    tier->execute(round, results);
    std::vector<KeyOp*> again;
    std::string last_error;
    for (size_t k = 0; k < pending.size(); ++k) {
      const size_t b = first[k], n = first[k + 1] - b;
      auto failed = std::find_if(round.begin() + static_cast<std::ptrdiff_t>(b),
                                 round.begin() + static_cast<std::ptrdiff_t>(b + n),
                                 [](const strata_tier_op& o) { return retryable(o.status); });
      if (failed != round.begin() + static_cast<std::ptrdiff_t>(b + n)) {
        again.push_back(pending[k]);
        last_error = failed->error;
      } else {
        settle_durable(plan, t, *pending[k], round[b], results[b]);
        settle_tags(plan, t, *pending[k], round.data() + b + 1, n - 1);
      }
    }
    pending.swap(again);
    if (pending.empty()) break;
    stats_.durable_retries++;
    metrics_->retries->add(1);
    metrics_->tier_errors[t]->add(static_cast<double>(pending.size()));
    if (!paused && tier->breaker().state() == CircuitBreaker::State::Open) {
      // Back-pressure: stop consuming instead of draining records into the void.
      paused = true;
      set_paused(true, tier->name() + ": durable tier unavailable, source paused: " + last_error);
    }
    if (stopping_) {
      log::write(STRATA_LOG_WARN, tier->name(), settings_.name,
                 "stopping with " + std::to_string(pending.size()) +
                     " durable writes unacknowledged; their records will be redelivered");
      if (paused) set_paused(false, {});
      return false;
    }
    wait_backoff(backoff);
    backoff = std::min(backoff * 2, settings_.retry_backoff_max_ms);
  }
  if (paused) set_paused(false, tier->name() + ": durable tier back, source resumed");
  return true;
}

// The TAG ops that went with a SET. One the tier refused for good (the tag's index key holds
// another type, say) leaves the key written without that membership: the record is a dead
// letter with the reason, so the operator learns the tag will not reach this key.
void Pipeline::settle_tags(WritePlan& plan, size_t t, KeyOp& op, const strata_tier_op* tags,
                           size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (tags[i].status == STRATA_OK || tags[i].status == STRATA_NOT_STORED) continue;
    metrics_->tier_errors[t]->add(1);
    std::string& dead = plan.records[op.record].dead;
    if (dead.empty())
      dead = tiers_[t]->name() + ": tag " + std::string(op_value(tags[i])) + ": " + tags[i].error;
  }
}

// Write-back wrote L1 before L2 answered: the keys a tag's invalidation deleted from L2 are
// known only now, so they leave the volatile tiers here.
void Pipeline::drop_tag_keys(WritePlan& plan) {
  std::vector<strata_tier_op> ops;
  std::vector<OpResult> results;
  for (const KeyOp& op : plan.ops)
    if (op.tag)
      for (const std::string& k : op.tag_keys) ops.push_back(make_op(STRATA_TIER_DELETE, k));
  if (ops.empty()) return;
  for (size_t t = 0; t < tiers_.size(); ++t) {
    if (tiers_[t]->durable()) continue;
    std::vector<strata_tier_op> mine = ops;
    tiers_[t]->execute(mine, results);
    for (const strata_tier_op& o : mine)
      if (!done(o.status) && o.status != STRATA_ERR_BAD_KEY) {
        stats_.volatile_errors++;
        if (!suspects_[t]->add(std::string(op_key(o)), clock::mono_ms()))
          metrics_->suspects_overflow->add(1);
      }
  }
}

void Pipeline::set_paused(bool pause, const std::string& why) {
  if (pause)
    source_->source()->pause(source_->handle());
  else
    source_->source()->resume(source_->handle());
  stats_.paused = pause;
  metrics_->paused->set(pause ? 1 : 0);
  if (!why.empty()) log::write(pause ? STRATA_LOG_WARN : STRATA_LOG_INFO, {}, settings_.name, why);
}

void Pipeline::write_volatile(WritePlan& plan) {
  std::vector<strata_tier_op> ops;
  std::vector<OpResult> results;
  for (size_t t = 0; t < tiers_.size(); ++t) {
    if (tiers_[t]->durable()) continue;
    ops.clear();
    for (KeyOp& op : plan.ops) {
      // Failed: the durable tier still holds what L1 may hold. Refused: L1 may hold the newer
      // copy that made the durable tier refuse; a replay must never remove it.
      if (op.superseded || op.durable == KeyOp::Outcome::Failed ||
          op.durable == KeyOp::Outcome::Refused || op.action(t) == STRATA_ACTION_SKIP)
        continue;
      if (op.tag) {  // the keys the durable tier deleted for the tag
        for (const std::string& k : op.tag_keys) ops.push_back(make_op(STRATA_TIER_DELETE, k));
        continue;
      }
      if (gate_ && op.replay_kind == 0) continue;
      const RecordEntry& e = plan.records[op.record];
      // A record dead on another key was still written durably here: drop the older L1 copy.
      bool set = op.action(t) == STRATA_ACTION_SET && e.dead.empty();
      ops.push_back(gate_ ? gate_->volatile_op(plan, op, t, tiers_[t]->flags())
                          : make_op(set ? STRATA_TIER_SET : STRATA_TIER_DELETE, op.key,
                                    set ? std::string_view(e.value) : std::string_view(),
                                    set ? op.ttl_ms(t) : 0));
      op.volatile_set = op.volatile_set || set;
    }
    if (ops.empty()) continue;
    tiers_[t]->execute(ops, results);
    settle_volatile(t, ops);
  }
}

// Counts the volatile results. A key or value the tier refuses (too long, too large) is not a
// dead letter: the record is durable and reads find it there (docs/tier_chain.md); it is
// counted per tier, and an older copy of a too-large value is dropped.
void Pipeline::settle_volatile(size_t t, const std::vector<strata_tier_op>& ops) {
  std::vector<strata_tier_op> cleanup;
  std::vector<OpResult> results;
  for (size_t k = 0; k < ops.size(); ++k) {
    const strata_tier_op& op = ops[k];
    // A replay's ADD or CAS that finds a copy it did not write leaves it: the live one.
    if (done(op.status) || (gate_ && op.status == STRATA_NOT_STORED)) {
      if (op.status == STRATA_OK && (op.kind == STRATA_TIER_SET || op.kind == STRATA_TIER_ADD ||
                                     op.kind == STRATA_TIER_CAS)) {
        stats_.l1_written++;
        metrics_->keys_written[t]->add(1);
      }
      continue;
    }
    metrics_->tier_errors[t]->add(1);
    if (op.status != STRATA_ERR_BAD_KEY && op.status != STRATA_ERR_TOO_LARGE) {
      // A failing volatile tier never blocks a commit. But its copy may now be stale (the
      // write may land late, or never replaced an older copy): delete it once the tier is back.
      stats_.volatile_errors++;
      if (!suspects_[t]->add(std::string(op_key(op)), clock::mono_ms()))
        metrics_->suspects_overflow->add(1);
      continue;
    }
    uint64_t n = ++stats_.l1_refused;
    metrics_->refused[t]->add(1);
    if (n == 1 || n % 1000 == 0)
      log::write(STRATA_LOG_WARN, tiers_[t]->name(), settings_.name,
                 std::to_string(n) +
                     " write(s) refused so far, kept in the durable tier only; "
                     "latest: " +
                     op.error);
    if (op.status == STRATA_ERR_TOO_LARGE)
      cleanup.push_back(make_op(STRATA_TIER_DELETE, op_key(op)));
  }
  if (!cleanup.empty()) tiers_[t]->execute(cleanup, results);
  metrics_->suspects[t]->set(static_cast<double>(suspects_[t]->size()));
}

// Deletes the volatile copies that failed writes left possibly stale, once their tier answers,
// at most 1000 per tier per call. Runs between batches, also idle. While the tier's breaker is
// open, execute() refuses at once; once its open time is over the sweep is the half-open
// probe, so an idle pipeline does not wait for a write to find the tier back (the fault
// matrix caught suspects never swept after memcached was killed at the end of a run).
void Pipeline::sweep_suspects(bool all) {
  for (size_t t = 0; t < tiers_.size(); ++t) {
    L1Suspects* s = suspects_[t].get();
    if (!s || s->empty()) continue;
    int64_t now = clock::mono_ms();
    std::vector<std::string> keys = all ? s->due(INT64_MAX, s->size()) : s->due(now, 1000);
    if (keys.empty()) continue;
    std::vector<strata_tier_op> ops;
    ops.reserve(keys.size());
    for (const auto& k : keys) ops.push_back(make_op(STRATA_TIER_DELETE, k));
    std::vector<OpResult> results;
    tiers_[t]->execute(ops, results);
    for (size_t i = 0; i < ops.size(); ++i) {
      if (!done(ops[i].status)) continue;
      s->swept(keys[i], now);
      metrics_->sweeps[t]->add(1);
    }
    metrics_->suspects[t]->set(static_cast<double>(s->size()));
  }
}

// A partition seen for the first time (no assignment told us) has its watermark read once.
void Pipeline::skip_known_replays(WritePlan& plan) {
  for (KeyOp& op : plan.ops) {
    const RecordEntry& e = plan.records[op.record];
    if (e.guard == SIZE_MAX) continue;
    auto it = known_watermarks_.find(plan.guards[e.guard]);
    if (it == known_watermarks_.end()) {
      int64_t stored = stored_position(e.rec->topic ? e.rec->topic : "", e.rec->partition);
      it = known_watermarks_.emplace(plan.guards[e.guard], std::max<int64_t>(stored, 0)).first;
    }
    if (e.rec->offset < it->second)
      op.durable = KeyOp::Outcome::Refused;  // L2 refuses it too; L1 must not see it first
  }
}

void Pipeline::note_watermarks(const WritePlan& plan) {
  for (const KeyOp& op : plan.ops) {
    const RecordEntry& e = plan.records[op.record];
    if (e.guard == SIZE_MAX || op.durable == KeyOp::Outcome::Pending) continue;
    int64_t& wm = known_watermarks_[plan.guards[e.guard]];
    wm = std::max(wm, e.rec->offset + 1);
  }
}

// The volatile copy written first is not what the durable tier holds when it refused the
// write (a newer one is stored: an unknown replay, a zombie, an older version) or failed it
// for good: drop it, so the next read refills from the durable tier.
void Pipeline::repair_volatile(WritePlan& plan) {
  std::vector<strata_tier_op> ops;
  std::vector<OpResult> results;
  for (size_t t = 0; t < tiers_.size(); ++t) {
    if (tiers_[t]->durable()) continue;
    ops.clear();
    for (const KeyOp& op : plan.ops)
      if (op.volatile_set &&
          (op.durable == KeyOp::Outcome::Refused || op.durable == KeyOp::Outcome::Failed))
        ops.push_back(make_op(STRATA_TIER_DELETE, op.key));
    if (ops.empty()) continue;
    tiers_[t]->execute(ops, results);
    for (size_t k = 0; k < ops.size(); ++k)
      if (!done(ops[k].status)) {
        stats_.volatile_errors++;
        if (!suspects_[t]->add(std::string(ops[k].key.data, ops[k].key.len), clock::mono_ms()))
          metrics_->suspects_overflow->add(1);
      }
  }
}

// strata_host_api.stored_position: the lowest watermark the durable tiers hold for the
// partition (a tier that lost it wins: the source then starts from Kafka's committed offset).
int64_t Pipeline::stored_position(const char* topic, int32_t partition) {
  const std::string name = settings_.name + "/" + topic + "/" + std::to_string(partition);
  int64_t lowest = -1;
  std::vector<OpResult> results;
  for (Tier* t : tiers_) {
    if (!t->durable()) continue;
    std::vector<strata_tier_op> ops{make_op(STRATA_TIER_WATERMARK_GET, name)};
    t->execute(ops, results);
    int64_t v = -1;
    if (ops[0].status != STRATA_OK || !results[0].has_value) return -1;
    const std::string& s = results[0].value;
    if (std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc() || v < 0) return -1;
    lowest = lowest < 0 ? v : std::min(lowest, v);
  }
  if (lowest >= 0) known_watermarks_[name] = lowest;  // write-back skips replays below it
  return lowest;
}

}  // namespace strata
