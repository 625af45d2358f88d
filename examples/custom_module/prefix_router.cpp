// prefix_router: a write policy that routes by key prefix. Keys under an `l2_only_prefixes`
// entry are kept out of the volatile tiers (L1 gets a delete, so an older copy cannot be served);
// `l1_ttl_by_prefix` gives the volatile tiers a TTL per prefix (longest prefix wins). Every other
// key is written through like the built-in write_through policy. An example of a module built out
// of tree against the installed strata SDK; see README.md.
#include <strata/sdk.hpp>

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr strata_option_def kOptions[] = {
    strata::option("l2_only_prefixes", STRATA_OPT_STRING_LIST, "",
                   "Keys starting with one of these are written to durable tiers only"),
    strata::option("l1_ttl_by_prefix", STRATA_OPT_TABLE, "",
                   "Volatile-tier TTL per key prefix, e.g. { \"session:\" = \"30s\" }; the "
                   "longest matching prefix wins and overrides the hook's TTL"),
};

// "250ms", "30s", "5m", "1h", "1d" or a bare number of milliseconds. The host only hands a
// pass-through table's values over as strings, so the module parses them itself.
int64_t parse_duration_ms(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  const std::string_view unit(end, text.data() + text.size() - end);
  if (ec != std::errc() || n < 0)
    throw strata::Error("\"" + std::string(text) + "\" is not a duration");
  if (unit.empty() || unit == "ms") return n;
  if (unit == "s") return n * 1000;
  if (unit == "m") return n * 60'000;
  if (unit == "h") return n * 3'600'000;
  if (unit == "d") return n * 86'400'000;
  throw strata::Error("\"" + std::string(text) + "\" is not a duration (use ms, s, m, h or d)");
}

bool starts_with(strata_bytes key, std::string_view prefix) {
  return key.len >= prefix.size() && std::string_view(key.data, prefix.size()) == prefix;
}

class PrefixRouter : public strata::PolicyModule {
 public:
  PrefixRouter(strata::Host host, const strata::Options& opts)
      : l2_only_(opts.list("l2_only_prefixes")) {
    for (auto& [prefix, ttl] : opts.table("l1_ttl_by_prefix")) {
      try {
        l1_ttls_.push_back({prefix, parse_duration_ms(ttl)});
      } catch (const strata::Error& e) {
        throw strata::Error("l1_ttl_by_prefix.\"" + prefix + "\": " + e.what());
      }
    }
    // Longest first, so the first match is the most specific one.
    std::sort(l1_ttls_.begin(), l1_ttls_.end(),
              [](const auto& a, const auto& b) { return a.prefix.size() > b.prefix.size(); });
    host.info("prefix_router: " + std::to_string(l2_only_.size()) + " L2-only prefixes, " +
              std::to_string(l1_ttls_.size()) + " L1 TTL prefixes");
  }

  // Called from several pipeline threads at once: reads only immutable state.
  void decide(const strata_policy_input& in, strata_policy_decision* decisions) override {
    const bool l2_only = std::any_of(l2_only_.begin(), l2_only_.end(),
                                     [&](const std::string& p) { return starts_with(in.key, p); });
    const int64_t hook_ttl = strata::hook_ttl_or(in, STRATA_TTL_DEFAULT);
    int64_t l1_ttl = hook_ttl;
    for (const auto& rule : l1_ttls_) {
      if (starts_with(in.key, rule.prefix)) {
        l1_ttl = rule.ttl_ms;
        break;
      }
    }
    for (size_t i = 0; i < in.tier_count; ++i) {
      if (in.value.data == nullptr) {
        decisions[i] = remove();  // tombstone
      } else if (durable(in.tiers[i])) {
        decisions[i] = write(hook_ttl);
      } else if (l2_only) {
        decisions[i] = remove();
      } else {
        decisions[i] = write(l1_ttl);
      }
    }
  }

 private:
  struct TtlRule {
    std::string prefix;
    int64_t ttl_ms;
  };
  std::vector<std::string> l2_only_;
  std::vector<TtlRule> l1_ttls_;
};

}  // namespace

STRATA_MODULE(PrefixRouter, "prefix_router", "0.1.0",
              "Routes writes by key prefix: L2-only prefixes and per-prefix L1 TTLs", kOptions)
