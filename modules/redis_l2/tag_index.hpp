// The tag index of redis_l2 (ABI 1.2, STRATA_TIER_TAGS; docs/redis_l2.md "Tags"): one Redis SET
// per tag, `<tag_prefix><tag>`, holding the keys (as the pipeline names them, without
// key_prefix) written with the tag. A membership is an SADD inside the watermark transaction
// of the key's SET (guarded_tx.cpp), so a crash never leaves a key without it. Invalidating a
// tag runs kTagDropScript in chunks of `tag_chunk` keys: each call SPOPs a chunk, DELs those
// keys and XADDs them on the bus, atomically, so between two calls every member still names a
// key that was not deleted by the invalidation. Used by redis_l2.cpp and guarded_tx.cpp.
#pragma once

#include <hiredis/hiredis.h>
#include <strata/strata.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "redis_commands.hpp"

namespace redis_l2 {

// The Redis key of a tag's set.
inline std::string tag_key(const Encoding& e, std::string_view tag) {
  std::string k = e.tag_prefix;
  k.append(tag.data(), tag.size());
  return k;
}

struct TagDropOutcome {
  bool lost = false;     // the connection failed: the op got ERR_UNAVAILABLE
  std::string error;     // why, when lost
  bool drop = false;     // an error reply says the connection should be replaced
  size_t calls = 0;      // script calls (round trips)
  size_t deleted = 0;    // keys popped from the tag and deleted
  size_t announced = 0;  // bus entries added (one per non-empty chunk)
};

// Runs one INVALIDATE_TAG op to the end (the tag's set is empty, or the watermark refuses
// it) and sets its status; on STRATA_OK hands the deleted keys back through `host`.
// `where` prefixes error messages ("redis 127.0.0.1:6379").
TagDropOutcome run_tag_drop(redisContext* c, const Encoding& e, strata_tier_op& op,
                            strata::Host host, const std::string& where);

}  // namespace redis_l2
