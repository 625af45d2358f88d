// TierChain: the read-through path over a pipeline's tiers (L1 memcached, then the durable L2
// Redis) and the write/delete path that keeps them in the right order. Serves the CLI
// (`strata cache get`), the embeddable C++ API and, later, the memcached-protocol front.
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
  std::string tier;  // the instance that answered ("tiers.l1"); "" on a plain miss
  // The value came from a volatile tier while a durable tier's breaker was not closed, so it
  // may be older than what L2 holds.
  bool stale = false;
  std::string error;  // "tiers.l2: ..." when status is an error
};

class TierChain {  // thread-safe; tiers in read order (L1 first, the durable last)
 public:
  TierChain(std::vector<Tier*> tiers, ChainSettings s);

  // L1 hit -> done. Miss -> L2 with one read in flight per key, refill L1 with ADD.
  GetResult get(std::string_view key);
  // Durable tiers first (any failure is returned, L1 untouched), then volatile tiers.
  Result<void> set(std::string_view key, std::string_view value, int64_t ttl_ms = 0,
                   uint64_t version = 0);
  // Durable tiers first, then volatile tiers.
  Result<void> del(std::string_view key, uint64_t version = 0);

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

  GetResult read_through(std::string_view key);
  void refill(const std::vector<Tier*>& tiers, std::string_view key, std::string_view value,
              uint32_t flags, int64_t ttl_ms);
  bool durable_degraded() const;

  std::vector<Tier*> tiers_;
  ChainSettings settings_;
  std::array<FlightShard, kShards> shards_;
};

}  // namespace strata
