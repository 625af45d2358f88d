#include "pipeline/key_spread.hpp"

#include <functional>

namespace strata {

KeySpread::KeySpread(size_t slots) : slots_(slots) {}

bool KeySpread::observe(std::string_view key, std::string_view topic, int32_t partition,
                        int32_t* previous) {
  const uint64_t h = std::hash<std::string_view>{}(key) | 1;  // 0 marks an empty slot
  const uint64_t th = std::hash<std::string_view>{}(topic);
  Slot& s = slots_[h % slots_.size()];
  if (s.key_hash != h || s.topic_hash != th) {
    s = {h, th, partition};
    return false;
  }
  if (s.partition == partition) return false;
  *previous = s.partition;
  s.partition = partition;
  ++spread_writes_;
  if (warned_.size() >= kMaxWarned) return false;
  return warned_.insert(h).second;
}

}  // namespace strata
