// The write plan of one batch: what each record became after its hooks and the policy, and the
// key operations it asks of the tiers, in record order. Built once per batch by the pipeline
// (derive_plan), coalesced, then read by the durable and volatile write stages, which record
// each operation's outcome in it. One struct per record and one per key operation: the tiers'
// ops are built from it, never re-indexed.
#pragma once

#include <strata/strata.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/key_template.hpp"
#include "lua_hooks.hpp"

namespace strata {

// How the writes of one key are ordered and replays refused (pipeline option `order`).
enum class Ordering {
  Partition,  // per-partition watermark stored with the writes (ABI 1.2 guard)
  Version,    // per key, by the version() hook
  Timestamp,  // per key, by the record timestamp
};

// What a record became.
struct RecordEntry {
  const strata_record* rec = nullptr;
  std::string value;        // the value written (hook output or the record's value)
  bool tombstone = false;   // null value and no value() hook: its keys are deleted
  uint64_t version = 0;     // Version/Timestamp ordering: the per-key version
  size_t guard = SIZE_MAX;  // Partition ordering: index into WritePlan::guards
  std::string dead;         // dead-letter reason; "" while the record is alive
  std::vector<std::string> tags;  // tags() of the record: attached to each key it SETs
};

// One operation on one key: a write of the record's value (SET or DELETE per tier, as the
// policy decided), a hook's invalidation (DELETE from every tier), or a tag's invalidation
// (`key` is the tag: INVALIDATE_TAG on the durable tiers, then DELETE of the keys they
// reported, `tag_keys`, on the volatile ones).
struct KeyOp {
  enum class Outcome { Pending, Applied, Refused, Failed };
  size_t record = 0;
  std::string key;
  bool invalidation = false;
  bool tag = false;                   // with invalidation: `key` names a tag
  std::vector<std::string> tag_keys;  // a tag's invalidation: the keys the durable tier deleted
  std::vector<strata_policy_decision> decisions;  // per tier (empty for an invalidation)
  bool superseded = false;             // coalesced away: a later op of the key in this batch wins
  Outcome durable = Outcome::Pending;  // Refused: already applied / older; Failed: for good
  bool volatile_set = false;  // write-back: a volatile tier got this op's SET before L2 ran
  // `strata replay` (ReplayGate): the durable kind (0 = none: the op reaches no tier) and the
  // token of what the replay wrote last for the key (CAS), or 0.
  int replay_kind = 0;
  uint64_t replay_token = 0;

  strata_policy_action action(size_t tier) const {
    return invalidation ? STRATA_ACTION_DELETE : decisions[tier].action;
  }
  int64_t ttl_ms(size_t tier) const { return invalidation ? 0 : decisions[tier].ttl_ms; }
};

struct WritePlan {
  std::vector<RecordEntry> records;  // one per record of the batch, same order
  std::vector<KeyOp> ops;  // record order; within a record: writes, invalidations, then tags
  std::vector<std::string> guards;   // watermark names "pipeline/topic/partition"
};

// The longest TTL a hook may ask for: memcached reads an expiry above 30 days as a unix time
// that must stay below 2^31 (January 2038), and Redis refuses expiries past its clock's range.
// Ten years is below both for years to come; a longer TTL is a record error, not a silent
// "never expires" or "already expired" in some tier.
constexpr int64_t kMaxTtlMs = int64_t(10) * 365 * 24 * 3600 * 1000;

struct PlanSettings {
  std::string pipeline;  // for watermark names
  Ordering ordering = Ordering::Partition;
  bool guard = false;  // Partition ordering and a durable tier honours the watermark guard
  bool offset_versions = false;  // Partition ordering on a durable tier without the guard
  const strata_policy_hooks* policy = nullptr;
  void* policy_handle = nullptr;
  std::string policy_name;
  const std::vector<strata_policy_tier>* tiers = nullptr;
  const KeyTemplate* key_template = nullptr;  // option `key`; only without a script
};

// Runs the hooks (or the identity key) and the policy for every record of `batch`. A record
// whose hooks or policy fail is dead (reason set) and gets no ops. `hooks` may be null.
WritePlan derive_plan(const strata_record_batch& batch, lua::KeyHooks* hooks, const PlanSettings& s,
                      uint64_t* skipped);

// Marks every op that a later op of the same key in the batch makes pointless. Partition
// ordering: the last op of a key (write or invalidation) wins. Version/Timestamp ordering: among
// a key's writes the highest version wins (the last of equals); invalidations keep their place.
// Returns how many ops it marked.
uint64_t coalesce(WritePlan& plan, Ordering ordering);

}  // namespace strata
