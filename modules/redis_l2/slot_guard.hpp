// The partition watermark guard of redis_l2 on Redis Cluster: one EVALSHA of kSlotGuardScript
// per run of guarded writes of ONE hash slot, with that slot's watermarks (one key per
// partition and slot, named with the slot's tag: watermark_key(prefix, name, slot_tag(s))).
// A script is atomic on its node, so it needs no WATCH; and it is one command, so every slot
// group of a node travels in the same pipelined round trip (a transaction per slot would cost
// two round trips per slot, thousands per batch). Used by redis_commands.cpp / redis_l2.cpp.
#pragma once

#include <hiredis/hiredis.h>
#include <strata/strata.h>

#include <functional>
#include <string>
#include <string_view>

#include "redis_commands.hpp"

namespace redis_l2 {

extern const char* const kSlotGuardScript;

// EVALSHA of the slot guard for ops members[cmd.first .. +cmd.count) (all in cmd.slot).
void append_slot_guard(redisContext* c, const Encoding& e, const Command& cmd,
                       strata_tier_op* const* members, const std::string& sha);

// Statuses of the ops of `cmd` from the script's (array) reply: OK, NOT_FOUND (a DELETE that
// found nothing), NOT_STORED (below the slot's watermark: already applied) or the op's own
// error. Returns the number of skipped ops; `op_error` gets each error reply.
size_t slot_guard_results(const Command& cmd, strata_tier_op* const* members, const redisReply* r,
                          const std::function<void(strata_tier_op&, std::string_view)>& op_error);

}  // namespace redis_l2
