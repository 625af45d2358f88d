// The memcached front's writes on memcached_l1 (ABI 1.2, STRATA_TIER_RICH): REPLACE, APPEND,
// PREPEND, INCR, DECR and TOUCH are memcached's own commands, so the server keeps their
// meaning (flags, exptime, 64-bit counters); CAS compares strata's token (FNV-1a 64 of the
// bytes, strata_cas_token) instead of memcached's cas unique, so it reads the item with `gets`,
// compares the token of its bytes and stores with `cas` and the unique it read. Used by
// memcached_l1.cpp, one op at a time on the caller's replying handle.
#pragma once

#include <libmemcached-1.0/memcached.h>
#include <strata/strata.h>

#include <ctime>
#include <string>

namespace memcached_l1 {

inline bool is_rich(strata_tier_op_kind k) {
  return k >= STRATA_TIER_REPLACE && k <= STRATA_TIER_CAS;
}

struct RichOutcome {
  strata_status status = STRATA_OK;
  std::string message;  // for a status other than OK (libmemcached's error for UNAVAILABLE)
  bool has_value = false;
  std::string value;  // INCR/DECR: the new value as decimal text
};

// Runs `op` (a rich kind) on `key` (with prefix) through the replying handle `m`; `exptime` is
// the op's memcached expiration (REPLACE, TOUCH, CAS).
RichOutcome run_rich(memcached_st* m, const std::string& key, const strata_tier_op& op,
                     time_t exptime);

}  // namespace memcached_l1
