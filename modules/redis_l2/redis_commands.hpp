// How redis_l2 turns a batch of tier ops into Redis commands: plain GET(+PTTL)/SET/DEL for
// unversioned ops, one EVALSHA of kVersionedWriteScript per run of consecutive versioned
// writes, and one command per front write (REPLACE .. CAS, rich_ops.hpp). Used by redis_l2.cpp,
// which pipelines the commands and reads their replies.
#pragma once

#include <hiredis/hiredis.h>
#include <strata/strata.h>
#include <strata/sdk.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

#include "bus_announce.hpp"
#include "envelope.hpp"
#include "redis_link.hpp"

namespace redis_l2 {

// Payload bytes (values) after which an EVALSHA of versioned writes (or a guarded transaction)
// takes no further op, so one call stays short on the server (it blocks every other client
// while it runs).
constexpr size_t kScriptBytes = 1u << 20;

// One command of a batch: a plain command answering one op, or one EVALSHA answering `count`
// consecutive versioned ops. Its ops are members[first .. first + count) of the batch's plan.
struct Command {
  size_t first = 0, count = 0;
  bool versioned = false;  // an EVALSHA of the versioned-write script
  bool guarded = false;    // a run of guarded writes: one transaction (guarded_tx.hpp), not sent
                           // in the pipelined rounds
  bool rich = false;       // one front write (rich_ops.hpp): SET XX or an EVALSHA of its script
  bool watched = false;    // a CAS: WATCH / GET / MULTI / SET / EXEC (rich_ops.hpp), not sent in
                           // the pipelined rounds either
  size_t bytes = 0;        // keys + values, for the round and script size limits

  // Redis Cluster: the hash slot of every key of the command, and whether it is a run of
  // guarded writes of that slot (one EVALSHA of the slot guard, slot_guard.hpp, sent in the
  // pipelined rounds).
  uint16_t slot = 0;
  bool slot_guarded = false;
  // An INVALIDATE_TAG: chunked script calls (tag_index.hpp), not sent in the pipelined rounds.
  bool tag_drop = false;

  // Runs on its own, between pipelined rounds.
  bool apart() const { return guarded || watched || tag_drop; }
};

// What shapes the commands (from the module's options).
struct Encoding {
  std::string prefix;
  int64_t default_ttl_ms = 0;
  int64_t tombstone_ttl_ms = 0;
  size_t script_batch = 100;    // max versioned ops per EVALSHA
  size_t guarded_batch = 5000;  // max guarded ops per transaction
  // Redis Cluster: a script call or a guarded run stays in one slot.
  bool cluster = false;
  BusSettings bus;  // the invalidation bus (bus_announce.hpp); off by default
  std::string tag_prefix = "strata:tag:";  // the tag index (tag_index.hpp)
  size_t tag_chunk = 500;                  // keys per call of a tag's invalidation
};

// A write with the ABI 1.2 partition guard: goes through run_guarded_tx(). The guard wins
// over a version (the host sends one or the other).
// A TAG (one membership of the SET before it) travels in the SET's transaction.
inline bool is_guarded(const strata_tier_op& op) {
  return (op.kind == STRATA_TIER_SET || op.kind == STRATA_TIER_DELETE ||
          op.kind == STRATA_TIER_TAG) &&
         !strata::guard_name(op).empty();
}

inline bool is_versioned(const strata_tier_op& op) {
  return op.version != 0 && (op.kind == STRATA_TIER_SET || op.kind == STRATA_TIER_DELETE) &&
         !is_guarded(op);
}

// A plain GET is sent as GET + PTTL in the same pipeline (two replies), so the op also reports
// the value's remaining TTL (strata_tier_op.result_ttl_ms) without another round trip.
inline size_t reply_count(const Command& cmd, strata_tier_op* const* members) {
  return !cmd.versioned && members[cmd.first]->kind == STRATA_TIER_GET ? 2 : 1;
}

// The remaining TTL of a GET's value from its PTTL reply: ms left (at least 1), -1 = no expiry,
// 0 = unknown (no integer reply). -2 (the key vanished between the GET and the PTTL) is 1:
// the value we read has no time left.
int64_t remaining_ttl(const redisReply* pttl);

// Argument list of one command; `own` keeps the strings built for it (reserved up front by the
// caller so that no string moves while arguments point into it).
struct Args {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  std::vector<std::string> own;

  void add(std::string_view a) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void add_owned(std::string s) { add(own.emplace_back(std::move(s))); }
  // A value to store with client flags `flags` (envelope.hpp): the bytes themselves, without a
  // copy, unless they need an envelope (then one slot of `own`, which the caller reserves).
  void add_value(uint32_t flags, std::string_view v) {
    if (needs_envelope(flags, v))
      add_owned(enveloped(flags, v));
    else
      add(v);
  }
  void send(redisContext* c) {
    redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
  }
};

// Commands written as RESP into one buffer, handed to hiredis with one append: a batch of
// thousands of SETs costs no allocation per command (redisAppendCommandArgv formats each into
// an sds of its own). The replies are read one per command as usual.
struct RespBuffer {
  std::string buf;

  void command(size_t argc) {
    buf += '*';
    number(argc);
  }
  void arg(std::string_view a) { arg2({}, a); }
  // One argument made of two parts (a key prefix and the key), without a temporary.
  void arg2(std::string_view a, std::string_view b) {
    buf += '$';
    number(a.size() + b.size());
    buf.append(a).append(b).append("\r\n");
  }
  void arg_number(int64_t n) {
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, n);
    arg({tmp, static_cast<size_t>(r.ptr - tmp)});
  }
  // Appends what was written to c's output buffer (sent by the next reply read) and clears.
  void flush(redisContext* c) {
    if (!buf.empty()) redisAppendFormattedCommand(c, buf.data(), buf.size());
    buf.clear();
  }

 private:
  void number(uint64_t n) {
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, n);
    buf.append(tmp, static_cast<size_t>(r.ptr - tmp)).append("\r\n");
  }
};

// The TTL a SET/ADD asks Redis for in ms (the tier default for 0), 0 = none.
int64_t value_ttl(const Encoding& e, const strata_tier_op& op);

// Resets every op's status, answers the ops that cannot be sent (empty key, unknown kind) and
// groups the rest, in batch order, into commands; `members` receives the ops that need Redis.
std::vector<Command> plan_commands(const Encoding& e, strata_tier_op* ops, size_t n,
                                   std::vector<strata_tier_op*>* members);

// Appends `cmd` to the pipeline of `c` (redisAppendCommandArgv: binary-safe; it fails only on
// out-of-memory, which hiredis flags on the context and the reply read then reports).
void append_command(redisContext* c, const Encoding& e, const Command& cmd,
                    strata_tier_op* const* members, const Scripts& scripts);

}  // namespace redis_l2
