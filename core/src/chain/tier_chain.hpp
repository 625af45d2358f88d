// TierChain: the read-through path over a pipeline's tiers (L1 memcached, then the durable L2
// Redis) and the write/delete path that keeps them in the right order. Serves the CLI
// (`strata cache get`), the embeddable C++ API and the fronts (through ChainService).
#pragma once

#include <strata/strata.h>

#include <array>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chain/tier.hpp"
#include "common/result.hpp"

namespace strata {

struct ChainSettings {
  // > 0: after the durable tier answered "no such key", remember that in the volatile tiers
  // for this long (a negative entry), so a hot missing key does not hammer L2.
  int64_t neg_ttl_ms = 0;
};

struct GetResult {
  strata_status status = STRATA_NOT_FOUND;
  std::string value;
  uint32_t flags = 0;  // the item's client flags, as the answering tier stored them
  int64_t ttl_ms = 0;  // remaining TTL in the answering tier; -1 no expiry; 0 unknown
  std::string tier;    // the instance that answered ("tiers.l1"); "" on a plain miss
  // The value came from a volatile tier while a durable tier's breaker was not closed, so it
  // may be older than what L2 holds.
  bool stale = false;
  std::string error;  // "tiers.l2: ..." when status is an error
};

// What one write of the fronts' ops (store, add, remove, touch, durable_only) came to.
struct OpOutcome {
  strata_status status = STRATA_OK;  // OK, NOT_FOUND, NOT_STORED or an error
  std::string value;                 // INCR/DECR: the new value as decimal text
  std::string error;                 // "tiers.l2: ..." when status is an error
};

// The TTL a refill of a volatile tier gets for a value that the durable tier says expires in
// `remaining_ms` (strata_tier_op.result_ttl_ms): 0 = the volatile tier's default (no expiry or
// unknown); -1 = do not refill (the value expires too soon for a copy to expire before it).
// The read-through and `strata warm` both use it (docs/tier_chain.md, "Refill TTL").
int64_t refill_ttl(int64_t remaining_ms);

class TierChain {  // thread-safe; tiers in read order (L1 first, the durable last)
 public:
  TierChain(std::vector<Tier*> tiers, ChainSettings s);

  // L1 hit -> done. Miss -> L2 with one read in flight per key, refill L1 with ADD.
  GetResult get(std::string_view key);
  // get() of several keys, each tier read once for all the keys still unanswered (one batch
  // per tier: a burst of misses is one L2 round trip); single flight per key as get().
  std::vector<GetResult> get_all(const std::vector<std::string_view>& keys);
  // get_all() after one batched read of the first tier when it is volatile: its hits (and
  // negative entries) answer at once, the other keys take get_all() (L1 again, then L2).
  std::vector<GetResult> get_many(const std::vector<std::string_view>& keys);
  // get_many()'s first half: one batched read of the first tier, false (nothing read) when it
  // is durable. `answered[i]`: out[i] is final (a hit, or a negative entry's NOT_FOUND); every
  // other key needs get() (a miss or an error there: L2, single flight, refill). Never waits
  // for L2: a front may call it on its own thread.
  bool read_first_volatile(const std::vector<std::string_view>& keys, std::vector<GetResult>& out,
                           std::vector<bool>& answered);
  bool first_tier_volatile() const;
  // Durable tiers first (any failure is returned, L1 untouched), then volatile tiers.
  Result<void> set(std::string_view key, std::string_view value, int64_t ttl_ms = 0,
                   uint64_t version = 0, uint32_t flags = 0);
  // Durable tiers first, then volatile tiers.
  Result<void> del(std::string_view key, uint64_t version = 0);

  // The fronts' ops (tier_chain_ops.cpp), each answering with memcached's meaning. Durable
  // tiers first; a durable failure leaves the volatile tiers alone.
  // set() with its status: a failing volatile tier is logged and counted, not returned.
  OpOutcome store(std::string_view key, std::string_view value, int64_t ttl_ms, uint32_t flags);
  // ADD in the durable tier (NOT_STORED when present), then SET in the volatile ones.
  OpOutcome add(std::string_view key, std::string_view value, int64_t ttl_ms, uint32_t flags);
  // DELETE everywhere; NOT_FOUND when the durable tier had no such key.
  OpOutcome remove(std::string_view key);
  // TOUCH in every tier holding the key: the durable tier must declare STRATA_TIER_RICH; a
  // volatile tier that does not gets its copy deleted (the next get refills it with the new
  // TTL).
  OpOutcome touch(std::string_view key, int64_t ttl_ms);
  // REPLACE, APPEND, PREPEND, INCR, DECR or CAS (`arg`: the delta or the expected token) on
  // the one durable tier, which must declare STRATA_TIER_RICH (else STRATA_ERR_INVALID "the
  // durable tier does not support <op>"); then the volatile copies are deleted.
  OpOutcome durable_only(strata_tier_op_kind kind, std::string_view key, std::string_view value,
                         int64_t ttl_ms, uint32_t flags, uint64_t arg);

  // FLUSH of every volatile tier (durable tiers are never flushed): STRATA_ERR_INVALID, and
  // nothing flushed, when one of them does not declare STRATA_TIER_FLUSHABLE; else the first
  // failure, or OK.
  OpOutcome flush_volatile();
  // DELETE of `key` in every volatile tier only: OK when one held it, NOT_FOUND when none did,
  // or the first failure (every tier is still tried).
  OpOutcome invalidate_volatile(std::string_view key);

  const std::vector<Tier*>& tiers() const { return tiers_; }

 private:
  // One get in progress for a key; followers wait for the leader's result.
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    GetResult result;
  };
  struct FlightShard {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights;
  };
  static constexpr size_t kShards = 32;

  struct Read;  // one key's read in progress (tier_chain_read.cpp)
  // The leaders' part of get_all(): the tiers in order, one GET batch each.
  std::vector<GetResult> read_through(const std::vector<std::string_view>& keys);
  // What tiers_[t]'s answer `op` means for `r`; sets r.done when it is answered.
  void read_step(Read& r, size_t t, const strata_tier_op& op, OpResult& got);
  void read_finish(Read& r);  // after the last tier: NOT_FOUND, a negative entry, the error
  // `marks[i]`: tiers[i]'s delete mark of `slot` before the read began (Tier::delete_mark).
  void refill(const std::vector<Tier*>& tiers, const std::vector<uint64_t>& marks, size_t slot,
              std::string_view key, std::string_view value, uint32_t flags, int64_t ttl_ms);
  bool durable_degraded() const;
  // set() and del(): `op` (SET or DELETE) in every durable tier, then in the volatile ones.
  Result<void> write(const strata_tier_op& op);
  // SET in every volatile tier (set()'s second half); true when one stored it.
  bool set_volatile(std::string_view key, std::string_view value, int64_t ttl_ms, uint64_t version,
                    uint32_t flags, std::string* first_error);
  // The second half of write(): a SET, or an unversioned DELETE, in every volatile tier; true
  // when one stored it (a DELETE: answered OK or NOT_FOUND).
  bool write_volatile(const strata_tier_op& op, std::string* first_error);
  // DELETE in every volatile tier; the copies a durable-only op made stale.
  void drop_volatile(std::string_view key, const char* why);

  std::vector<Tier*> tiers_;
  ChainSettings settings_;
  std::array<FlightShard, kShards> shards_;
};

}  // namespace strata
