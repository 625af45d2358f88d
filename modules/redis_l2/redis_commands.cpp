// Command encoding for redis_l2: see redis_commands.hpp.
#include "redis_commands.hpp"

#include "crc16.hpp"
#include "slot_guard.hpp"

#include <strata/sdk.hpp>
#include <string_view>

#include "redis_link.hpp"
#include "rich_ops.hpp"

namespace redis_l2 {
namespace {

// The version key lives as long as the value plus tombstone_ttl, so an expired value is
// protected like a deleted one; without a value TTL (or tombstone_ttl 0) it does not expire.
int64_t version_ttl(const Encoding& e, int64_t value_ttl) {
  if (value_ttl == 0 || e.tombstone_ttl_ms == 0) return 0;
  return value_ttl > INT64_MAX - e.tombstone_ttl_ms ? 0 : value_ttl + e.tombstone_ttl_ms;
}

std::string_view value_of(const strata_tier_op& op) {
  return op.value.data ? std::string_view(op.value.data, op.value.len) : std::string_view();
}

std::string_view value_of_key(const strata_tier_op& op) { return {op.key.data, op.key.len}; }

void append_plain(redisContext* c, const Encoding& e, const strata_tier_op& op) {
  std::string key = e.prefix;
  key.append(op.key.data, op.key.len);
  if (op.kind == STRATA_TIER_WATERMARK_GET) key = watermark_key(e.prefix, value_of_key(op));
  Args a;
  a.own.reserve(2);
  bool get = op.kind == STRATA_TIER_GET || op.kind == STRATA_TIER_WATERMARK_GET;
  a.add(get ? "GET" : op.kind == STRATA_TIER_DELETE ? "DEL" : "SET");
  a.add(key);
  if (op.kind == STRATA_TIER_SET || op.kind == STRATA_TIER_ADD) {
    a.add_value(op.flags, value_of(op));
    if (op.kind == STRATA_TIER_ADD) a.add("NX");
    if (int64_t t = value_ttl(e, op); t > 0) {
      a.add("PX");
      a.add_owned(std::to_string(t));
    }
  }
  a.send(c);
  if (op.kind == STRATA_TIER_GET) {
    Args t;
    t.add("PTTL");
    t.add(key);
    t.send(c);
  }
}

// EVALSHA sha 2n  k1 vk1 .. kn vkn  kind1 version1 value1 ttl1 vttl1 ..  (kVersionedWriteScript)
void append_script(redisContext* c, const Encoding& e, const Command& cmd,
                   strata_tier_op* const* members, const std::string& script_sha) {
  Args a;
  a.argv.reserve(3 + 7 * cmd.count);
  a.lens.reserve(3 + 7 * cmd.count);
  a.own.reserve(4 + 6 * cmd.count);
  a.add("EVALSHA");
  a.add(script_sha);
  a.add_owned(std::to_string(2 * cmd.count + (e.bus.on() ? 1 : 0)));
  for (size_t i = 0; i < cmd.count; ++i) {
    const strata_tier_op& op = *members[cmd.first + i];
    std::string key = e.prefix;
    key.append(op.key.data, op.key.len);
    std::string vkey = version_key(key);
    a.add_owned(std::move(key));
    a.add_owned(std::move(vkey));
  }
  if (e.bus.on()) a.add(e.bus.stream);  // KEYS[2n+1]; ARGV[5n+1..5n+3] after the ops'
  for (size_t i = 0; i < cmd.count; ++i) {
    const strata_tier_op& op = *members[cmd.first + i];
    bool set = op.kind == STRATA_TIER_SET;
    int64_t t = set ? value_ttl(e, op) : 0;
    int64_t vt = set ? version_ttl(e, t) : e.tombstone_ttl_ms;
    a.add(set ? "s" : "d");
    a.add_owned(std::to_string(op.version));
    if (set)
      a.add_value(op.flags, value_of(op));
    else
      a.add(std::string_view());
    if (t > 0)
      a.add_owned(std::to_string(t));
    else
      a.add("0");
    if (vt > 0)
      a.add_owned(std::to_string(vt));
    else
      a.add("0");
  }
  if (e.bus.on()) {
    a.add_owned(std::to_string(e.bus.maxlen));
    a.add(e.bus.node);
    a.add_owned(std::to_string(e.prefix.size()));
  }
  a.send(c);
}

}  // namespace

int64_t value_ttl(const Encoding& e, const strata_tier_op& op) {
  if (op.ttl_ms < 0) return 0;
  return op.ttl_ms == 0 ? e.default_ttl_ms : op.ttl_ms;
}

std::vector<Command> plan_commands(const Encoding& e, strata_tier_op* ops, size_t n,
                                   std::vector<strata_tier_op*>* members) {
  std::vector<Command> cmds;
  members->reserve(n);
  bool run_open = false;  // the last command is an EVALSHA that may take the next op
  for (size_t i = 0; i < n; ++i) {
    strata_tier_op& op = ops[i];
    op.status = STRATA_OK;
    op.error[0] = '\0';
    op.result_flags = 0;
    strata::set_result_ttl(op, 0);
    if (op.key.len == 0 || op.key.data == nullptr) {
      strata::set_op_error(op, STRATA_ERR_BAD_KEY, "empty key");
      continue;
    }
    const bool tags = op.kind == STRATA_TIER_TAG || op.kind == STRATA_TIER_INVALIDATE_TAG;
    if (op.kind != STRATA_TIER_GET && op.kind != STRATA_TIER_SET && op.kind != STRATA_TIER_ADD &&
        op.kind != STRATA_TIER_DELETE && op.kind != STRATA_TIER_WATERMARK_GET &&
        !is_rich(op.kind) && !tags) {
      strata::set_op_error(op, STRATA_ERR_INVALID, "unknown op kind");
      continue;
    }
    if (tags && e.cluster) {
      strata::set_op_error(op, STRATA_ERR_INVALID,
                           "tags are not supported with a Redis Cluster L2 yet (a tag's index is "
                           "one key in one slot, its keys spread over every slot)");
      continue;
    }
    if (op.kind == STRATA_TIER_TAG && !is_guarded(op)) {
      strata::set_op_error(op, STRATA_ERR_INVALID,
                           "a tag is written only in a watermark transaction (a guarded SET)");
      continue;
    }
    if (op.kind == STRATA_TIER_INVALIDATE_TAG) {
      Command c;
      c.first = members->size();
      c.count = 1;
      c.tag_drop = true;
      c.bytes = op.key.len;
      cmds.push_back(c);
      run_open = false;
      members->push_back(&op);
      continue;
    }
    size_t bytes = op.key.len + value_of(op).size() + (op.flags != 0 ? kEnvelopeHeader : 0);
    bool guarded = is_guarded(op);
    bool versioned = is_versioned(op);
    bool run = guarded || versioned;  // a run of ops that travel as one command
    uint16_t slot = 0;
    if (e.cluster) {
      std::string key = e.prefix;
      key.append(op.key.data, op.key.len);
      slot = key_slot(key);
    }
    // An op answered locally above does not end a run: it sends nothing, so order is kept.
    // A TAG never starts a transaction of its own: it stays with the SET before it.
    const bool with_set = op.kind == STRATA_TIER_TAG && run_open && cmds.back().guarded;
    if (with_set ||
        (run && run_open && (cmds.back().guarded || cmds.back().slot_guarded) == guarded &&
         cmds.back().slot == slot &&
         cmds.back().count < (guarded ? e.guarded_batch : e.script_batch) &&
         cmds.back().bytes + bytes <= kScriptBytes)) {
      ++cmds.back().count;
      cmds.back().bytes += bytes;
    } else {
      // On a cluster a guarded run is one slot's script call, pipelined with the rest.
      cmds.push_back(Command{members->size(), 1, versioned, guarded && !e.cluster, is_rich(op.kind),
                             op.kind == STRATA_TIER_CAS, bytes, slot, guarded && e.cluster});
    }
    run_open = run;
    members->push_back(&op);
  }
  return cmds;
}

int64_t remaining_ttl(const redisReply* pttl) {
  if (!pttl || pttl->type != REDIS_REPLY_INTEGER) return 0;
  if (pttl->integer == -1) return -1;
  return pttl->integer > 0 ? pttl->integer : 1;
}

void append_command(redisContext* c, const Encoding& e, const Command& cmd,
                    strata_tier_op* const* members, const Scripts& scripts) {
  if (cmd.slot_guarded)
    append_slot_guard(c, e, cmd, members, scripts.slot_guard);
  else if (cmd.versioned)
    append_script(c, e, cmd, members, scripts.versioned);
  else if (cmd.rich)
    append_rich(c, e, *members[cmd.first], scripts.rich);
  else
    append_plain(c, e, *members[cmd.first]);
}

}  // namespace redis_l2
