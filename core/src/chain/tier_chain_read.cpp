// TierChain's read path: read-through over the tiers in order with one read in flight per key,
// refills with ADD, negative entries, stale on error. Several keys go together: one GET batch
// per tier for every key still unanswered (a front's misses are one L2 round trip, not one per
// key); get(key) is the one-key case.
#include <functional>

#include "chain/tier_chain.hpp"
#include "common/log.hpp"

namespace strata {

// How much sooner than the durable tier's copy a refilled volatile copy must expire. Volatile
// tiers such as memcached count TTLs in whole seconds (memcached_l1 rounds up) on a clock that
// ticks once a second, so their copy can outlive the requested TTL by up to ~2 s.
constexpr int64_t kRefillTtlMarginMs = 2000;

// Declared in tier_chain.hpp: the read-through below and `strata warm` (warmer.cpp) both use it.
int64_t refill_ttl(int64_t remaining_ms) {
  if (remaining_ms <= 0) return 0;
  return remaining_ms > kRefillTtlMarginMs ? remaining_ms - kRefillTtlMarginMs : -1;
}

// One key's read in progress through the tiers.
struct TierChain::Read {
  std::string_view key;
  size_t slot = 0;
  std::vector<uint64_t> before;  // every tier's delete mark of `slot` before the read began
  std::vector<Tier*> missed;     // volatile tiers that answered "no such key": refill candidates
  std::vector<uint64_t> marks;   // their delete marks from before the read
  bool durable_missed = false;
  bool done = false;
  std::string first_error;
  strata_status first_error_status = STRATA_NOT_FOUND;
  GetResult result;
};

GetResult TierChain::get(std::string_view key) { return std::move(get_all({key})[0]); }

std::vector<GetResult> TierChain::get_many(const std::vector<std::string_view>& keys) {
  std::vector<GetResult> out(keys.size());
  std::vector<bool> answered;
  if (keys.size() < 2 || !read_first_volatile(keys, out, answered))
    answered.assign(keys.size(), false);
  std::vector<std::string_view> rest;
  std::vector<size_t> where;
  for (size_t i = 0; i < keys.size(); ++i)
    if (!answered[i]) {  // a miss or an error: L2, single flight, refill
      rest.push_back(keys[i]);
      where.push_back(i);
    }
  if (rest.empty()) return out;
  std::vector<GetResult> got = get_all(rest);
  for (size_t j = 0; j < rest.size(); ++j) out[where[j]] = std::move(got[j]);
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

std::vector<GetResult> TierChain::get_all(const std::vector<std::string_view>& keys) {
  // Concurrent gets of one key share one read: the leader reads L1, then L2, refills L1 and
  // publishes; the others wait. A get that starts after the leader finished finds the refill in
  // L1, so a burst of misses makes exactly one L2 read (as long as the refill landed). Every
  // leader here publishes before this call waits for any flight, so two callers that each lead
  // a key the other follows cannot wait for each other (nor a key listed twice for itself).
  struct Join {
    FlightShard* shard;
    std::shared_ptr<Flight> flight;
    bool leader;
  };
  std::vector<Join> joins;
  joins.reserve(keys.size());
  std::vector<std::string_view> lead;
  std::vector<size_t> lead_at;
  for (size_t i = 0; i < keys.size(); ++i) {
    FlightShard& shard = shards_[std::hash<std::string_view>{}(keys[i]) % kShards];
    std::lock_guard lock(shard.mu);
    auto [it, inserted] = shard.flights.try_emplace(std::string(keys[i]));
    if (inserted) it->second = std::make_shared<Flight>();
    joins.push_back(Join{&shard, it->second, inserted});
    if (inserted) {
      lead.push_back(keys[i]);
      lead_at.push_back(i);
    }
  }
  std::vector<GetResult> out(keys.size());
  std::vector<GetResult> led;
  try {
    led = read_through(lead);
  } catch (const std::exception& e) {
    led.assign(lead.size(), GetResult{});
    for (GetResult& r : led) {
      r.status = STRATA_ERR_INTERNAL;
      r.error = std::string("read failed: ") + e.what();
    }
  }
  for (size_t j = 0; j < lead.size(); ++j) {
    Join& join = joins[lead_at[j]];
    {
      std::lock_guard lock(join.shard->mu);
      join.shard->flights.erase(std::string(lead[j]));
    }
    {
      std::lock_guard lock(join.flight->mu);
      join.flight->result = led[j];
      join.flight->done = true;
    }
    join.flight->cv.notify_all();
    out[lead_at[j]] = std::move(led[j]);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (joins[i].leader) continue;
    Flight& f = *joins[i].flight;
    std::unique_lock lock(f.mu);
    f.cv.wait(lock, [&] { return f.done; });
    out[i] = f.result;
  }
  return out;
}

std::vector<GetResult> TierChain::read_through(const std::vector<std::string_view>& keys) {
  std::vector<Read> reads(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    Read& r = reads[i];
    r.key = keys[i];
    r.slot = Tier::mark_slot(r.key);
    r.before.resize(tiers_.size());
    for (size_t t = 0; t < tiers_.size(); ++t) r.before[t] = tiers_[t]->delete_mark(r.slot);
  }
  std::vector<strata_tier_op> ops;
  std::vector<OpResult> results;
  std::vector<Read*> asked;
  for (size_t t = 0; t < tiers_.size(); ++t) {
    ops.clear();
    asked.clear();
    for (Read& r : reads)
      if (!r.done) {
        ops.push_back(make_op(STRATA_TIER_GET, r.key));
        asked.push_back(&r);
      }
    if (ops.empty()) break;
    tiers_[t]->execute(ops, results);  // one batch: memcached_l1 and redis_l2 pipeline it
    for (size_t i = 0; i < ops.size(); ++i) read_step(*asked[i], t, ops[i], results[i]);
  }
  std::vector<GetResult> out;
  out.reserve(reads.size());
  for (Read& r : reads) {
    read_finish(r);
    out.push_back(std::move(r.result));
  }
  return out;
}

void TierChain::read_step(Read& r, size_t t, const strata_tier_op& op, OpResult& got) {
  Tier* tier = tiers_[t];
  if (op.status == STRATA_OK) {
    r.done = true;
    r.result.tier = tier->name();
    if (op.result_flags == STRATA_ITEM_NEGATIVE && !tier->durable()) {
      // A negative entry: L2 said "no such key" a moment ago.
      r.result.status = STRATA_NOT_FOUND;
      return;
    }
    r.result.status = STRATA_OK;
    r.result.value = std::move(got.value);
    r.result.flags = op.result_flags;
    r.result.ttl_ms = op.result_ttl_ms;
    // Every volatile tier before this one that missed gets the value: with its own default
    // TTL, or, when the value expires here sooner, a TTL that ends before it does here.
    int64_t ttl = refill_ttl(op.result_ttl_ms);
    if (ttl >= 0) refill(r.missed, r.marks, r.slot, r.key, r.result.value, op.result_flags, ttl);
    if (!tier->durable()) r.result.stale = durable_degraded();
    return;
  }
  if (op.status == STRATA_NOT_FOUND) {
    if (tier->durable()) {
      r.durable_missed = true;
    } else {
      r.missed.push_back(tier);
      r.marks.push_back(r.before[t]);
    }
    return;
  }
  // Down, breaker open, bad key, ...: skip this tier (and never refill it on this read).
  if (r.first_error.empty()) {
    r.first_error = describe_failure(*tier, op);
    r.first_error_status = op.status;
  }
  if (tier->durable()) {
    // The source of truth is unreachable: what L1 did not have, we cannot answer.
    r.done = true;
    r.result.status = op.status;
    r.result.error = describe_failure(*tier, op);
  }
}

void TierChain::read_finish(Read& r) {
  if (r.done) return;
  r.done = true;
  if (r.durable_missed) {
    if (settings_.neg_ttl_ms > 0)
      refill(r.missed, r.marks, r.slot, r.key, {}, STRATA_ITEM_NEGATIVE, settings_.neg_ttl_ms);
    return;  // NOT_FOUND
  }
  if (r.missed.empty() && !r.first_error.empty()) {
    // Only volatile tiers, and none of them answered.
    r.result.status = r.first_error_status;
    r.result.error = r.first_error;
  }
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

}  // namespace strata
