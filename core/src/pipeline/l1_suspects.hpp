// Keys whose copy in a volatile tier (memcached) may be stale because a write to it failed
// with an unknown outcome: a timeout against a stalled server may still be applied late, and
// a write that never reached the server leaves the older copy in place while the durable tier
// moved on. The pipeline deletes such keys once the tier answers again, twice: at once, and
// `settle` later, after writes that were still in the server's socket buffers were applied.
// So a stale copy lives at most until the tier answers again plus `settle` (docs/tier_chain.md),
// not for its whole TTL. Bounded: past `capacity` keys, new suspects are counted, not kept.
// Used by the pipeline's worker thread only.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace strata {

class L1Suspects {
 public:
  L1Suspects(size_t capacity, int64_t settle_ms) : capacity_(capacity), settle_ms_(settle_ms) {}

  // A write of `key` failed with an unknown outcome at `now_ms`. False when the list is full
  // and the key is not tracked.
  bool add(const std::string& key, int64_t now_ms);
  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }

  // Keys to delete now (due), at most `max`.
  std::vector<std::string> due(int64_t now_ms, size_t max) const;
  // The sweep's DELETE of `key` was answered (deleted or not found) at `now_ms`.
  void swept(const std::string& key, int64_t now_ms);

 private:
  struct Entry {
    int64_t due_ms;
    int sweeps_left;
  };
  size_t capacity_;
  int64_t settle_ms_;
  std::unordered_map<std::string, Entry> keys_;
};

}  // namespace strata
