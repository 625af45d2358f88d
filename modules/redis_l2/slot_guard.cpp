// The per-slot watermark script of redis_l2 on Redis Cluster: see slot_guard.hpp.
#include "slot_guard.hpp"

#include <functional>
#include <strata/sdk.hpp>
#include <string_view>
#include <vector>

#include "crc16.hpp"
#include "redis_link.hpp"

namespace redis_l2 {

// KEYS: the np watermark keys of the slot (one per partition), then one data key per op.
// ARGV[1] = np; op i (1-based) has ARGV[5i-3] partition index (1..np), ARGV[5i-2] offset,
// ARGV[5i-1] "s" (set) | "d" (delete), ARGV[5i] value, ARGV[5i+1] TTL ms (0 = none).
// Ops come in offset order per partition. An op below its partition's watermark is skipped
// (-1); the others are applied (SET: 1; DEL: the number removed), then each watermark that
// moves is set to the highest applied offset + 1. Offsets are compared as Lua numbers
// (doubles: exact below 2^53). An op's own error (an expire time Redis refuses) fails that op
// only, as in the MULTI/EXEC guard; a refused write of the server (OOM) raises out of the
// script before the watermarks are written: the batch is retried and re-applies the same
// writes in the same order.
const char* const kSlotGuardScript = R"lua(
local np = tonumber(ARGV[1])
local got = redis.call('MGET', unpack(KEYS, 1, np))
local wm, top = {}, {}
for j = 1, np do
  wm[j] = tonumber(got[j]) or -1
  top[j] = wm[j]
end
local out = {}
for i = 1, #KEYS - np do
  local a = 5 * i - 3
  local p, off = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  if off < wm[p] then
    out[i] = -1
  else
    local r
    if ARGV[a + 2] == 'd' then
      r = redis.pcall('DEL', KEYS[np + i])
    elseif ARGV[a + 4] ~= '0' then
      r = redis.pcall('SET', KEYS[np + i], ARGV[a + 3], 'PX', ARGV[a + 4])
    else
      r = redis.pcall('SET', KEYS[np + i], ARGV[a + 3])
    end
    if type(r) == 'table' and r.err then
      local code = string.match(r.err, '^%u+')
      if code ~= 'ERR' and code ~= 'WRONGTYPE' then return r end
      out[i] = r
    else
      out[i] = type(r) == 'number' and r or 1
    end
    if off + 1 > top[p] then top[p] = off + 1 end
  end
end
for j = 1, np do
  if top[j] > wm[j] then redis.call('SET', KEYS[j], string.format('%d', top[j])) end
end
return out
)lua";

void append_slot_guard(redisContext* c, const Encoding& e, const Command& cmd,
                       strata_tier_op* const* members, const std::string& sha) {
  std::vector<std::string_view> names;
  std::vector<size_t> part(cmd.count);
  for (size_t i = 0; i < cmd.count; ++i) {
    std::string_view g = strata::guard_name(*members[cmd.first + i]);
    size_t j = 0;
    while (j < names.size() && names[j] != g) ++j;  // a batch spans a few partitions
    if (j == names.size()) names.push_back(g);
    part[i] = j;
  }
  Args a;
  a.argv.reserve(4 + names.size() + 6 * cmd.count);
  a.lens.reserve(a.argv.capacity());
  a.own.reserve(2 + names.size() + 4 * cmd.count);
  a.add("EVALSHA");
  a.add(sha);
  a.add_owned(std::to_string(names.size() + cmd.count));
  const std::string& tag = slot_tag(cmd.slot);
  for (std::string_view g : names) a.add_owned(watermark_key(e.prefix, g, tag));
  for (size_t i = 0; i < cmd.count; ++i) {
    const strata_tier_op& op = *members[cmd.first + i];
    std::string key = e.prefix;
    key.append(op.key.data, op.key.len);
    a.add_owned(std::move(key));
  }
  a.add_owned(std::to_string(names.size()));
  for (size_t i = 0; i < cmd.count; ++i) {
    const strata_tier_op& op = *members[cmd.first + i];
    bool set = op.kind == STRATA_TIER_SET;
    a.add_owned(std::to_string(part[i] + 1));
    a.add_owned(std::to_string(op.guard_offset));
    a.add(set ? "s" : "d");
    if (set)
      a.add_value(op.flags, op.value.data ? std::string_view(op.value.data, op.value.len)
                                          : std::string_view());
    else
      a.add(std::string_view());
    int64_t t = set ? value_ttl(e, op) : 0;
    if (t > 0)
      a.add_owned(std::to_string(t));
    else
      a.add("0");
  }
  a.send(c);
}

size_t slot_guard_results(const Command& cmd, strata_tier_op* const* members, const redisReply* r,
                          const std::function<void(strata_tier_op&, std::string_view)>& op_error) {
  size_t skipped = 0;
  for (size_t i = 0; i < cmd.count; ++i) {
    strata_tier_op& op = *members[cmd.first + i];
    const redisReply* e = r->element[i];
    if (e->type == REDIS_REPLY_ERROR) {
      op_error(op, std::string_view(e->str, e->len));
    } else if (e->type != REDIS_REPLY_INTEGER) {
      strata::set_op_error(op, STRATA_ERR_INTERNAL, "unexpected reply to the slot guard");
    } else if (e->integer < 0) {
      ++skipped;
      strata::set_op_error(op, STRATA_NOT_STORED,
                           "offset " + std::to_string(op.guard_offset) +
                               " is below the slot's stored watermark (already applied)");
    } else if (op.kind == STRATA_TIER_DELETE && e->integer == 0) {
      op.status = STRATA_NOT_FOUND;
    } else {
      op.status = STRATA_OK;
    }
  }
  return skipped;
}

}  // namespace redis_l2
