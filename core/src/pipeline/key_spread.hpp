// Detects keys written from more than one partition under the default (partition) ordering,
// where Kafka gives such writes no order and the last batch to arrive wins. Bounded memory: a
// direct-mapped table of key hashes, so a key is caught when two of its partitions write it
// while its slot still remembers the first (a hot spread key always is; a rare one may be
// missed after its slot was reused). Each key is warned about once (up to a cap), every
// occurrence is counted. Used by the pipeline's worker thread only.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace strata {

class KeySpread {
 public:
  explicit KeySpread(size_t slots = size_t(1) << 16);

  // Records that `key` was written from (topic, partition). Returns true the first time a
  // key is seen from a second partition (the caller warns); *previous is that other partition.
  // Every cross-partition write is counted in spread_writes().
  bool observe(std::string_view key, std::string_view topic, int32_t partition, int32_t* previous);

  uint64_t spread_writes() const { return spread_writes_; }

 private:
  struct Slot {
    uint64_t key_hash = 0;
    uint64_t topic_hash = 0;
    int32_t partition = -1;
  };
  static constexpr size_t kMaxWarned = 1000;
  std::vector<Slot> slots_;
  std::unordered_set<uint64_t> warned_;
  uint64_t spread_writes_ = 0;
};

}  // namespace strata
