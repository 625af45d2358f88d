#include "pipeline/l1_suspects.hpp"

namespace strata {

bool L1Suspects::add(const std::string& key, int64_t now_ms) {
  auto it = keys_.find(key);
  if (it != keys_.end()) {
    it->second = {now_ms, 2};  // failed again: start over
    return true;
  }
  if (keys_.size() >= capacity_) return false;
  keys_.emplace(key, Entry{now_ms, 2});
  return true;
}

std::vector<std::string> L1Suspects::due(int64_t now_ms, size_t max) const {
  std::vector<std::string> out;
  for (const auto& [key, e] : keys_) {
    if (out.size() >= max) break;
    if (e.due_ms <= now_ms) out.push_back(key);
  }
  return out;
}

void L1Suspects::swept(const std::string& key, int64_t now_ms) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return;
  if (--it->second.sweeps_left <= 0)
    keys_.erase(it);
  else
    it->second.due_ms = now_ms + settle_ms_;
}

}  // namespace strata
