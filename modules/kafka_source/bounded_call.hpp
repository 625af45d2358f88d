// A librdkafka call that may never return, made with a deadline.
//
// rd_kafka_assign(), rd_kafka_incremental_unassign() and rd_kafka_rebalance_protocol() send a
// request to the consumer group's thread and wait for its answer without a timeout. While the
// consumer closes, librdkafka 2.0 can drop such a request unanswered: the group terminates,
// disables its queue and purges what is in it, and a request queued just before is destroyed
// without a reply (confluentinc/librdkafka#4041, #4884). The caller then waits forever; in
// strata that held a SIGTERM for the whole shutdown deadline (CI, 2026-12-03).
#pragma once

#include <cstdint>
#include <functional>

namespace kafka_source {

// Runs `call` on a helper thread and waits for it at most `timeout_ms`. True when it returned
// in time. False otherwise: the helper is left blocked where it is, owning `call` (and what it
// captured, which the caller must therefore not free), and this module's code and librdkafka's
// are pinned in memory (RTLD_NODELETE) so that unloading them at exit can never pull the code
// from under that thread or under librdkafka's own threads.
bool call_within(int64_t timeout_ms, std::function<void()> call);

}  // namespace kafka_source
