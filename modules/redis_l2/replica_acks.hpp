// `min_replicas_acked` for redis_l2: after a batch's writes, WAIT until that many replicas
// confirmed them. Redis replicates asynchronously, so a write the master acknowledged can be
// lost in a failover; a batch whose writes fewer replicas confirmed is answered "unavailable"
// (retryable), the pipeline retries it and does not commit its positions. Called once per
// execute() by redis_l2.cpp, on the connection that wrote the batch.
#pragma once

#include <hiredis/hiredis.h>
#include <strata/strata.h>

#include <cstdint>
#include <string>

#include "redis_commands.hpp"

namespace redis_l2 {

struct AckSettings {
  int64_t replicas = 0;  // 0 = off
  int64_t timeout_ms = 1000;
  int command_timeout_ms = 500;  // the socket timeout outside WAIT
};

struct AckOutcome {
  bool waited = false;    // the batch had writes, WAIT was sent
  bool lost = false;      // the connection failed (the caller drops it)
  bool short_of = false;  // fewer replicas than asked: the writes were failed
  int64_t acked = 0;
  std::string error;
};

// True for the ops that change data (everything but GET and WATERMARK_GET).
bool is_write(const strata_tier_op& op);

// Sends WAIT (after a fence write when no op of the batch wrote anything itself: a retry whose
// writes were all skipped as already applied must still wait for those earlier writes) and,
// when fewer than `s.replicas` replicas answer in time or the connection fails, turns every
// write of ops[0..n) that succeeded into STRATA_ERR_UNAVAILABLE. `where` prefixes messages.
AckOutcome require_replica_acks(redisContext* c, const Encoding& e, const AckSettings& s,
                                strata_tier_op* const* ops, size_t n, const std::string& where);

}  // namespace redis_l2
