// The INCR/DECR cases both tiers' tests run (tests/memcached_l1/rich_ops_test.cpp against
// memcached itself, tests/redis_l2/rich_ops_test.cpp against redis_l2's script), so redis_l2's
// counters are checked against what memcached answers: wrap at 2^64, floor at 0, deltas above
// 2^32 and values above 2^53, and which values count as numbers (memcached's safe_strtoull).
#pragma once

#include <strata/strata.h>

#include <cstdint>
#include <string>
#include <vector>

namespace strata::test {

struct CounterCase {
  std::string start;
  strata_tier_op_kind kind;
  uint64_t delta;
  std::string want;  // the new value, or "" for non-numeric
};

inline std::vector<CounterCase> counter_cases() {
  const uint64_t max = UINT64_MAX;
  return {
      {"10", STRATA_TIER_INCR, 5, "15"},
      {"10", STRATA_TIER_DECR, 3, "7"},
      {"10", STRATA_TIER_DECR, 20, "0"},
      {"0", STRATA_TIER_DECR, 1, "0"},
      {"18446744073709551615", STRATA_TIER_INCR, 1, "0"},
      {"18446744073709551000", STRATA_TIER_INCR, 1000, "384"},
      {"5", STRATA_TIER_INCR, max, "4"},  // a delta above 2^32 (memcached_increment's is 32-bit)
      {"18446744073709551615", STRATA_TIER_DECR, max, "0"},
      {"9007199254740993", STRATA_TIER_INCR, 2, "9007199254740995"},
      {"99", STRATA_TIER_INCR, 1, "100"},
      {"100", STRATA_TIER_DECR, 1, "99"},
      {"007", STRATA_TIER_INCR, 1, "8"},
      {"12  ", STRATA_TIER_INCR, 1, "13"},
      {"0", STRATA_TIER_INCR, max, "18446744073709551615"},
      {" \t1", STRATA_TIER_INCR, 1, "2"},
      {"+7", STRATA_TIER_INCR, 1, "8"},
      {"12 abc", STRATA_TIER_INCR, 1, "13"},
      {std::string("1\0x", 3), STRATA_TIER_INCR, 1, "2"},
      {"-1", STRATA_TIER_DECR, 1, ""},
      {"1.5", STRATA_TIER_INCR, 1, ""},
      {"12abc", STRATA_TIER_INCR, 1, ""},
      // Not here: a value of only whitespace. memcached's strtoull skips the item's "\r\n" too
      // and reads on into whatever memory follows (1.6.18 answered 744073709551616); redis_l2
      // answers "non-numeric value".
      {"18446744073709551616", STRATA_TIER_INCR, 1, ""},
      {"abc", STRATA_TIER_INCR, 1, ""},
      {"", STRATA_TIER_INCR, 1, ""},
  };
}

}  // namespace strata::test
