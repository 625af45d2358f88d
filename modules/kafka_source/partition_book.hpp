// The partitions a consumer owns and where each one stands: the offset after the last record
// handed to the host, the end librdkafka last reported reaching, when it was assigned. From
// those and the high watermarks librdkafka caches comes the lag, and the partitions that stay
// unread long after their assignment are named. Not thread-safe: kafka_source holds its mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kafka_source {

using PartitionKey = std::pair<std::string, int32_t>;

class PartitionBook {
 public:
  // The cached low and high watermarks of a partition; false when none is known yet (no fetch
  // response for it). kafka_source passes rd_kafka_get_watermark_offsets.
  using Watermarks = std::function<bool(const PartitionKey&, int64_t* lo, int64_t* hi)>;

  struct Lag {
    int64_t records;                   // the sum, or STRATA_LAG_UNKNOWN / STRATA_LAG_PENDING
    std::vector<std::string> stalled;  // one sentence per partition warned about just now
  };

  // Owns `key` from `now_ns` (again: a reassignment restarts its stall clock).
  void assigned(const PartitionKey& key, uint64_t now_ns);
  void revoked(const PartitionKey& key) { owned_.erase(key); }
  void clear() { owned_.clear(); }
  bool owns(const PartitionKey& key) const { return owned_.count(key) != 0; }
  bool empty() const { return owned_.empty(); }

  void delivered(const PartitionKey& key, int64_t next_offset);
  void reached_end(const PartitionKey& key, int64_t end_offset);
  // A record of `key` arrived (delivered or held): librdkafka has started fetching it.
  void seen(const PartitionKey& key);
  // The owned partitions read from since their assignment (a record or their end arrived):
  // librdkafka's fetch start for them has been served, so a pause or resume can no longer
  // overtake it (kafka_source.hpp, "pause").
  std::vector<PartitionKey> fetching() const;

  // Records behind the owned partitions' ends. STRATA_LAG_UNKNOWN before the first
  // assignment, 0 when all were revoked after one, STRATA_LAG_PENDING while any owned
  // partition's standing is unknown: no fetch response yet, or none of its records delivered
  // and its end not reached (leaving it out would say 0 with its records unread). A partition
  // pending `stall_ns` after its assignment, while not `paused`, is named once in `stalled`
  // (stall_ns 0: never).
  Lag lag(const Watermarks& watermarks, uint64_t now_ns, uint64_t stall_ns, bool paused);

 private:
  struct Standing {
    int64_t delivered = -1;  // offset after the last record handed to the host
    int64_t at_end = -1;     // the end librdkafka last reported reaching (partition EOF)
    uint64_t assigned_ns = 0;
    bool stall_warned = false;
    bool fetching = false;  // a record or the end arrived since the assignment
  };
  std::map<PartitionKey, Standing> owned_;
  bool assigned_once_ = false;
};

}  // namespace kafka_source
