// The partition watermark guard of redis_l2 (ABI 1.2) as one optimistic transaction per run
// of guarded writes: WATCH + MGET the watermarks of the run's partitions, drop the ops below
// them, then MULTI / the writes / the watermark SETs / EXEC. EXEC applies all of it or, when
// another client moved a watched watermark meanwhile (a zombie, a new owner), nothing: then it
// starts over. With the invalidation bus on, the XADD of the applied keys is one more command
// inside the same MULTI (bus_announce.hpp). Plain SETs inside MULTI cost Redis about a third of what the same writes cost
// through a Lua script (arguments copied into Lua, the script call): docs/performance.md.
// Used by redis_l2.cpp only.
#pragma once

#include <hiredis/hiredis.h>
#include <strata/strata.h>

#include <cstddef>
#include <string>

#include "redis_commands.hpp"

namespace redis_l2 {

struct TxOutcome {
  bool lost = false;    // the connection failed: every op not settled got ERR_UNAVAILABLE
  std::string error;    // why, when lost
  bool drop = false;    // an error reply says the connection should be replaced (READONLY)
  size_t skipped = 0;   // ops below their watermark (NOT_STORED, "already applied")
  size_t attempts = 0;  // EXECs sent (more than one: a watched watermark moved)
  bool announced = false;  // the bus entry (bus_announce.hpp) was added with the writes
  std::string bus_error;   // the XADD's error reply inside EXEC (the writes stand)
};

// Applies ops[0..n) (all guarded SET/DELETE, in batch order) and sets each op's status.
// `where` prefixes error messages ("redis 127.0.0.1:6379").
TxOutcome run_guarded_tx(redisContext* c, const Encoding& e, strata_tier_op* const* ops, size_t n,
                         const std::string& where);

}  // namespace redis_l2
