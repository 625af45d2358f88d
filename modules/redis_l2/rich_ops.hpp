// The memcached-protocol front's writes on redis_l2 (ABI 1.2, STRATA_TIER_RICH): REPLACE,
// APPEND, PREPEND, INCR, DECR, TOUCH and CAS, each one command answering one op, atomic on the
// server. REPLACE is a native `SET k v XX [PX ttl]`; the others are one EVALSHA each of
// kRichScript (below), which reads and writes the value key in one step. Used by
// redis_commands.cpp (encoding) and redis_l2.cpp (replies).
#pragma once

#include <hiredis/hiredis.h>
#include <strata/sdk.hpp>
#include <strata/strata.h>

#include <string>

namespace redis_l2 {

struct Encoding;

inline bool is_rich(strata_tier_op_kind k) {
  return k >= STRATA_TIER_REPLACE && k <= STRATA_TIER_CAS;
}

// One op per call. KEYS[1] value key. ARGV[1] the op ("a" append, "p" prepend, "i" incr,
// "d" decr, "t" touch, "c" cas); ARGV[2] the bytes to add (a, p), the delta as decimal (i, d) or
// the expected token as 16 hex digits (c); ARGV[3] TTL ms, 0 = none (t, c); ARGV[4] the new
// value (c). Returns 1 (done), 0 (absent: NOT_FOUND / NOT_STORED), -1 (cas token differs), -2
// (not a number), or the new number as a bulk string (i, d). See the .cpp for the arithmetic.
extern const char* const kRichScript;

// Appends the command of rich op `op` (REPLACE: SET XX; the rest: EVALSHA of `sha`).
void append_rich(redisContext* c, const Encoding& e, const strata_tier_op& op,
                 const std::string& sha);

// Sets the status of `op` from its (non-error) reply; INCR/DECR hand the new value to the host.
void rich_result(strata::Host host, strata_tier_op& op, const redisReply* r);

}  // namespace redis_l2
