// The memcached front's writes on redis_l2 (ABI 1.2, STRATA_TIER_RICH): REPLACE, APPEND,
// PREPEND, INCR, DECR, TOUCH and CAS, each atomic on the server. REPLACE is a native
// `SET k v XX [PX ttl]`; APPEND, PREPEND, INCR, DECR and TOUCH are one EVALSHA each of
// kRichScript, pipelined with the batch's other commands. CAS is an optimistic transaction of
// its own: WATCH k + GET k, strata_cas_token() of the bytes compared here, then MULTI / SET /
// EXEC, which writes nothing if the value changed in between. (Hashing in the script would
// block Redis for the whole value: FNV-1a 64 in Lua 5.1 doubles took ~0.4 s per MiB.)
// Used by redis_commands.cpp (encoding) and redis_l2.cpp (replies, the CAS transaction).
#pragma once

#include <hiredis/hiredis.h>
#include <strata/strata.h>
#include <strata/sdk.hpp>

#include <string>

namespace redis_l2 {

struct Encoding;

inline bool is_rich(strata_tier_op_kind k) {
  return k >= STRATA_TIER_REPLACE && k <= STRATA_TIER_CAS;
}

// One op per call. KEYS[1] value key. ARGV[1] the op ("a" append, "p" prepend, "i" incr,
// "d" decr, "t" touch); ARGV[2] the bytes to add (a, p) or the delta as decimal (i, d); ARGV[3]
// TTL ms, 0 = none (t). Returns 1 (done), 0 (absent: NOT_FOUND / NOT_STORED), -2 (not a
// number), or the new number as a bulk string (i, d). See the .cpp for the arithmetic.
extern const char* const kRichScript;

// Appends the command of rich op `op` other than CAS (REPLACE: SET XX; the rest: EVALSHA of
// `sha`).
void append_rich(redisContext* c, const Encoding& e, const strata_tier_op& op,
                 const std::string& sha);

// Sets the status of `op` from its (non-error) reply; INCR/DECR hand the new value to the host.
void rich_result(strata::Host host, strata_tier_op& op, const redisReply* r);

struct CasOutcome {
  bool lost = false;  // the connection failed: the op got ERR_UNAVAILABLE
  std::string error;  // why, when lost
  bool drop = false;  // an error reply says the connection should be replaced (READONLY)
  int roundtrips = 0;
};

// Runs CAS op `op` on `c` (nothing else in flight on it) and sets its status. `where` prefixes
// error messages ("redis 127.0.0.1:6379").
CasOutcome run_cas(redisContext* c, const Encoding& e, strata_tier_op& op,
                   const std::string& where);

}  // namespace redis_l2
