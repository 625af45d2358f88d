// Shared fixtures of the config tests: a memcached-like module schema and parse helpers.
#pragma once

#include <strata/sdk.hpp>

#include <string>

#include "config/config.hpp"

namespace strata::testing_config {

inline constexpr const char* kDistributions[] = {"ketama", "modula", nullptr};

inline constexpr strata_option_def kMemcachedLike[] = {
    strata::option("servers", STRATA_OPT_STRING_LIST, nullptr, "memcached servers"),
    strata::option("port", STRATA_OPT_INT, "11211", "default port").range(1, 65535),
    strata::option("timeout", STRATA_OPT_DURATION, "100ms", "I/O timeout").range(1, 60000),
    strata::option("max_value", STRATA_OPT_SIZE, "1MiB", "largest value").range(1024, 67108864),
    strata::option("distribution", STRATA_OPT_ENUM, "ketama", "key distribution")
        .one_of(kDistributions),
    strata::option("password", STRATA_OPT_STRING, "", "SASL password").secret(),
    strata::option("weight", STRATA_OPT_DOUBLE, "1.5", "weight").range(0, 10),
    strata::option("binary", STRATA_OPT_BOOL, "false", "binary protocol"),
    strata::option("behaviors", STRATA_OPT_TABLE, "", "raw libmemcached behaviors"),
    strata::option("tags", STRATA_OPT_STRING_LIST, "a, b", "tags"),
};
inline constexpr size_t kMemcachedLikeCount = sizeof kMemcachedLike / sizeof kMemcachedLike[0];

struct Parsed {
  std::optional<Config> cfg;
  Diagnostics diags;
};

inline Parsed parse(const std::string& text) {
  Parsed p;
  p.cfg = parse_config_text(text, "t.toml", p.diags);
  return p;
}

}  // namespace strata::testing_config
