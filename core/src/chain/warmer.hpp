// Warmer: refills volatile tiers (a memcached L1 that restarted empty) from the durable tier
// of a chain, for `strata warm`. Each step is one STRATA_TIER_SCAN page of the durable tier
// (keys, values, flags, TTLs) and one batch of ADDs per target tier, with the read-through's
// refill TTL (refill_ttl), so a newer value already in L1 is never overwritten and a warmed
// copy never outlives the durable one. Not thread-safe: one thread calls step().
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chain/tier.hpp"
#include "common/result.hpp"

namespace strata {

struct WarmSettings {
  std::string prefix;     // only keys starting with it ("" = every key)
  uint64_t count = 0;     // keys the durable tier looks at per step (SCAN COUNT); 0 = its choice
  // A SCAN step, or the ADDs of a page that failed for availability (down, timeout, breaker
  // open), are tried this often before giving up; the first wait is retry_backoff_ms, doubled
  // each time (0.5 + 1 + 2 s: longer than memcached_l1's 2 s retry_timeout of a closed server).
  int attempts = 4;
  int64_t retry_backoff_ms = 500;
};

struct WarmCounts {
  uint64_t scanned = 0;  // keys the scan visited (entries handed back + bookkeeping left out)
  // Per key and target tier:
  uint64_t added = 0;    // ADD stored it
  uint64_t present = 0;  // ADD answered NOT_STORED: the tier already held the key (kept)
  // Not offered or refused for good: the tier's bookkeeping keys, values that expire within
  // the refill margin, keys or values the target cannot hold (BAD_KEY, TOO_LARGE).
  uint64_t skipped = 0;
  uint64_t errors = 0;  // ADDs that failed otherwise (down, timeout, ... after every attempt)
};

class Warmer {
 public:
  // `source` must be durable and declare STRATA_TIER_SCANNABLE; `targets` volatile.
  static Result<Warmer> create(Tier* source, std::vector<Tier*> targets, WarmSettings s);

  // One page: false when the warm cannot go on (the scan failed `attempts` times, not one ADD
  // of a page's last attempt got through, `stop` was raised while waiting to retry); error()
  // says why (also the last failure of a step that went on).
  bool step(const std::atomic<bool>& stop);
  bool finished() const { return finished_; }
  const WarmCounts& counts() const { return counts_; }
  const std::string& error() const { return error_; }
  // Keys the scan still has to visit, when the source says how many keys it holds and no
  // prefix narrows the scan (a MATCH scan visits keys it does not hand back).
  std::optional<uint64_t> keys_left() const;

 private:
  Warmer(Tier* source, std::vector<Tier*> targets, WarmSettings s)
      : source_(source), targets_(std::move(targets)), s_(std::move(s)) {}
  // The next page's bytes into `page`; false with error_ set after the last attempt.
  bool scan_page(const std::atomic<bool>& stop, std::string* page);
  // ADDs `ops` to `tier`, retrying those that failed for availability; false when the tier
  // looks down (counts updated either way).
  bool add_to(Tier* tier, std::vector<strata_tier_op> ops, const std::atomic<bool>& stop);

  Tier* source_;
  std::vector<Tier*> targets_;
  WarmSettings s_;
  std::string cursor_;
  bool finished_ = false;
  uint64_t keys_total_ = STRATA_SCAN_TOTAL_UNKNOWN;
  WarmCounts counts_;
  std::string error_;
};

}  // namespace strata
