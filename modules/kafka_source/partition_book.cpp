#include "partition_book.hpp"

#include <strata/strata.h>

#include <algorithm>

namespace kafka_source {

void PartitionBook::assigned(const PartitionKey& key, uint64_t now_ns) {
  assigned_once_ = true;
  Standing& s = owned_[key];
  s = Standing{};
  s.assigned_ns = now_ns;
}

void PartitionBook::delivered(const PartitionKey& key, int64_t next_offset) {
  auto it = owned_.find(key);
  if (it == owned_.end()) return;
  it->second.delivered = std::max(it->second.delivered, next_offset);
  it->second.fetching = true;
}

void PartitionBook::reached_end(const PartitionKey& key, int64_t end_offset) {
  auto it = owned_.find(key);
  if (it == owned_.end()) return;
  it->second.at_end = std::max(it->second.at_end, end_offset);
  it->second.fetching = true;
}

void PartitionBook::seen(const PartitionKey& key) {
  auto it = owned_.find(key);
  if (it != owned_.end()) it->second.fetching = true;
}

std::vector<PartitionKey> PartitionBook::fetching() const {
  std::vector<PartitionKey> out;
  for (const auto& [key, s] : owned_)
    if (s.fetching) out.push_back(key);
  return out;
}

PartitionBook::Lag PartitionBook::lag(const Watermarks& watermarks, uint64_t now_ns,
                                      uint64_t stall_ns, bool paused) {
  Lag out{0, {}};
  if (owned_.empty()) {
    out.records = assigned_once_ ? 0 : STRATA_LAG_UNKNOWN;
    return out;
  }
  bool pending = false;
  for (auto& [key, s] : owned_) {
    int64_t lo = -1, hi = -1;
    bool have_end = watermarks(key, &lo, &hi) && hi >= 0;
    int64_t pos = std::max(s.delivered, s.at_end);
    if (have_end && pos < 0 && lo >= 0 && lo == hi) pos = hi;  // an empty partition
    if (have_end && pos >= 0) {
      out.records += std::max<int64_t>(0, hi - pos);
      continue;
    }
    pending = true;
    if (stall_ns == 0 || paused || s.stall_warned || now_ns - s.assigned_ns < stall_ns) continue;
    s.stall_warned = true;
    out.stalled.push_back(key.first + "[" + std::to_string(key.second) + "]: assigned " +
                          std::to_string((now_ns - s.assigned_ns) / 1'000'000'000ull) +
                          " s ago and " +
                          (have_end ? "no record delivered nor its end reached"
                                    : "nothing fetched from it yet (its end offset is unknown)") +
                          ": its leader may be unreachable; the lag is reported as pending until "
                          "the partition is read");
  }
  if (pending) out.records = STRATA_LAG_PENDING;
  return out;
}

}  // namespace kafka_source
