// What each memcached command means on a strata tier chain: the chain ops a request turns into
// (build_ops), and the reply its completed ops make (encode_reply). Runs on the front's event
// loop threads; no I/O. The semantics are listed in docs/memcached_front.md.
#pragma once

#include <strata/strata.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocol.hpp"

namespace mcfront {

struct CommandConfig {
  bool allow_flush_all = false;
  std::function<std::string()> stats;  // the STAT lines (without END) for `stats`
};

// What a completed request tells the metrics.
struct ReplyInfo {
  size_t hits = 0;
  size_t misses = 0;
  bool server_error = false;
  bool client_error = false;
  const char* hit_tiers[8] = {};  // result_tier of the first hits (static strings)
  size_t hit_tier_count = 0;
};

// Appends the chain ops for `req` to `ops` and returns how many; 0 when the request is answered
// without the chain, with its reply already in `reply` (possibly empty: noreply, q).
size_t build_ops(const Request& req, const CommandConfig& cfg, int64_t now_unix_ms,
                 std::vector<strata_chain_op>& ops, std::string& reply);

// The reply of `req` from its `count` completed ops (as build_ops appended them).
void encode_reply(const Request& req, const strata_chain_op* ops, size_t count,
                  std::string& reply, ReplyInfo& info);

}  // namespace mcfront
