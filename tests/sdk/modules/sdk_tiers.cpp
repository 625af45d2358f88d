// SDK test modules, one .so per SDK_TIER_VARIANT (tests/sdk/CMakeLists.txt): each shows one of
// issue 12's traps, now closed. Built with strata_add_module-like flags but kept out of
// build/modules (they are not real modules).
#include <strata/sdk.hpp>

#include <map>
#include <mutex>

namespace {

// Per-op tier on a map; SDK_TIER_VARIANT picks what it gets wrong or tries.
class SdkTier : public strata::TierModule {
 public:
  SdkTier(strata::Host, const strata::Options&) {}

#if SDK_TIER_VARIANT == 2  // a batched tier that forgets every op
  void execute(strata_tier_op*, size_t) override {}
#endif

  std::optional<strata::Item> get(std::string_view key) override {
#if SDK_TIER_VARIANT == 3  // a tier whose backend is down: strata::Error(msg), no status given
    throw strata::Error("disk unreachable reading " + std::string(key));
#endif
    std::lock_guard lock(mu_);
    auto it = items_.find(std::string(key));
    if (it == items_.end()) return std::nullopt;
    return it->second;
  }
  void set(std::string_view key, strata::Item item) override {
    std::lock_guard lock(mu_);
    items_[std::string(key)] = std::move(item);
  }

 private:
  std::mutex mu_;
  std::map<std::string, strata::Item> items_;
};

}  // namespace

// No options: no table, no `kOptions[] = {}` (a GNU extension), no nullptr template noise.
STRATA_MODULE(SdkTier, SDK_TIER_NAME, "0.1.0", "SDK test tier")
