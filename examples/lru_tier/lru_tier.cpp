// lru_tier: an in-memory LRU tier, the walk-through of docs/modules.md ("Your first tier"). At
// most `capacity` items; the least recently used one goes first. Items keep their client flags
// (strata's negative-cache entries need them) and expire by TTL. Built out of tree against the
// installed SDK and tested with the test kit (lru_tier_test.cpp).
#include <strata/sdk.hpp>

#include <list>
#include <mutex>
#include <unordered_map>

namespace {

constexpr strata_option_def kOptions[] = {
    strata::option("capacity", STRATA_OPT_INT, "10000", "Most items kept").range(1, 1e9),
    strata::option("default_ttl", STRATA_OPT_DURATION, "0",
                   "TTL of items written without one (0: they never expire)")
        .min(0),
};

class LruTier : public strata::TierModule {
 public:
  LruTier(strata::Host, const strata::Options& opts)
      : capacity_(static_cast<size_t>(opts.integer("capacity"))),
        default_ttl_ms_(opts.duration_ms("default_ttl")) {}

  std::optional<strata::Item> get(std::string_view key) override {
    std::lock_guard lock(mu_);
    auto it = find_live(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);  // now the most recently used
    strata::Item item = it->second->item;
    item.ttl_ms = strata::remaining_ttl_ms(it->second->expiry, now());
    return item;
  }

  void set(std::string_view key, strata::Item item) override {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(std::string(key)); it != index_.end()) erase(it);
    insert(key, std::move(item));
  }

  bool add(std::string_view key, strata::Item item) override {
    std::lock_guard lock(mu_);
    if (find_live(key) != index_.end()) return false;
    insert(key, std::move(item));
    return true;
  }

  bool del(std::string_view key) override {
    std::lock_guard lock(mu_);
    auto it = find_live(key);
    if (it == index_.end()) return false;
    erase(it);
    return true;
  }

 private:
  struct Entry {
    std::string key;
    strata::Item item;   // value and flags, stored together
    int64_t expiry = 0;  // unix ms; 0 = never
  };
  using Index = std::unordered_map<std::string, std::list<Entry>::iterator>;

  int64_t now() const { return host().now_unix_ms(); }

  // The entry of `key` unless it expired (an expired one is dropped on the way).
  Index::iterator find_live(std::string_view key) {
    auto it = index_.find(std::string(key));
    if (it != index_.end() && strata::expired(it->second->expiry, now())) {
      erase(it);
      return index_.end();
    }
    return it;
  }

  void insert(std::string_view key, strata::Item item) {
    const int64_t expiry = strata::expiry_ms(item.ttl_ms, default_ttl_ms_, now());
    order_.push_front(Entry{std::string(key), std::move(item), expiry});
    index_[order_.front().key] = order_.begin();
    if (order_.size() > capacity_) erase(index_.find(order_.back().key));
  }

  void erase(Index::iterator it) {
    order_.erase(it->second);
    index_.erase(it);
  }

  const size_t capacity_;
  const int64_t default_ttl_ms_;
  std::mutex mu_;  // execute() runs on several threads at once
  std::list<Entry> order_;  // most recently used first
  Index index_;
};

}  // namespace

STRATA_MODULE(LruTier, "lru_tier", "0.1.0", "In-memory LRU tier (an SDK example)", kOptions)
