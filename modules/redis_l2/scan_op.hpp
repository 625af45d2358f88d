// STRATA_TIER_SCAN on one Redis node (plain or the Sentinel's master): one SCAN step with
// MATCH on the key prefix, then the values of the keys it found (GET + PTTL each, pipelined in
// one round trip), answered as a scan page (strata/scan_page.hpp). `strata warm` refills an L1
// from it. Used by redis_l2.cpp only.
#pragma once

#include <hiredis/hiredis.h>
#include <strata/sdk.hpp>

#include <string>
#include <string_view>

#include "redis_commands.hpp"
#include "redis_link.hpp"

namespace redis_l2 {

// SCAN's COUNT when the op gives none (strata_tier_op.version == 0), and the most it may ask.
constexpr uint64_t kScanCount = 500;
constexpr uint64_t kScanCountMax = 100000;

struct ScanOutcome {
  bool lost = false;  // the connection failed: the op got ERR_UNAVAILABLE
  std::string error;  // why, when lost
};

// True for the keys redis_l2 keeps for itself rather than as cache entries: the watermarks
// (prefix + "strata:wm:...") and the companion version keys ("{K}:strata-ver", "K:{strata-ver}").
// `key` is the full Redis key, prefix included.
bool is_bookkeeping_key(std::string_view prefix, std::string_view key);

// "user:*" for MATCH: `prefix` with the glob's special characters escaped, then '*'.
std::string match_pattern(std::string_view prefix);

// Runs one SCAN op and sets its status (and its page through `host` on STRATA_OK).
ScanOutcome run_scan(redisContext* c, const Encoding& e, const LinkSettings& link,
                     const strata::Host& host, strata_tier_op& op);

}  // namespace redis_l2
