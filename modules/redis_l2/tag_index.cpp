// The tag index of redis_l2: see tag_index.hpp.
#include "tag_index.hpp"

#include <strata/sdk.hpp>

#include "redis_link.hpp"

namespace redis_l2 {
namespace {

// KEYS[1] the tag's set, KEYS[2] the watermark (or KEYS[1] again: unguarded), KEYS[3] the bus
// stream (absent: no bus). ARGV: chunk, guard offset (-1: unguarded), key_prefix, bus_maxlen,
// bus_node. Returns -1 when the watermark is above offset + 1 (a later record of the partition
// is applied: this is a replay), else the keys it deleted (fewer than `chunk`: the set is gone).
// DEL and XADD take their arguments in slices: Lua's unpack() stops near 8,000 values.
constexpr const char* kTagDropScript = R"lua(
local off = tonumber(ARGV[2])
if off >= 0 then
  local wm = tonumber(redis.call('GET', KEYS[2]) or '-1')
  if wm and wm > off + 1 then return -1 end
end
local ks = redis.call('SPOP', KEYS[1], tonumber(ARGV[1]))
if #ks == 0 then return ks end
local p = ARGV[3]
for i = 1, #ks, 500 do
  local part = {}
  for j = i, math.min(i + 499, #ks) do part[#part + 1] = p .. ks[j] end
  redis.call('DEL', unpack(part))
end
if KEYS[3] then
  local a = {'XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'node', ARGV[5]}
  for j = 1, #ks do a[#a + 1] = 'k'; a[#a + 1] = ks[j] end
  redis.call(unpack(a))
end
return ks
)lua";

// A tag that keeps growing while we pop it (writers adding faster than the chunks drain it)
// stops here and is retried by the pipeline: bounded, like every loop of the module.
constexpr size_t kMaxCalls = 1u << 20;

}  // namespace

TagDropOutcome run_tag_drop(redisContext* c, const Encoding& e, strata_tier_op& op,
                            strata::Host host, const std::string& where) {
  TagDropOutcome out;
  const std::string set = tag_key(e, {op.key.data, op.key.len});
  const std::string_view guard = strata::guard_name(op);
  const std::string mark = guard.empty() ? set : watermark_key(e.prefix, guard);
  const std::string chunk = std::to_string(e.tag_chunk);
  const std::string offset = guard.empty() ? "-1" : std::to_string(op.guard_offset);
  const std::string maxlen = std::to_string(e.bus.maxlen);
  std::string deleted;
  op.status = STRATA_OK;
  while (out.calls < kMaxCalls) {
    Args a;
    a.add("EVAL");
    a.add(kTagDropScript);
    a.add(e.bus.on() ? "3" : "2");
    a.add(set);
    a.add(mark);
    if (e.bus.on()) a.add(e.bus.stream);
    a.add(chunk);
    a.add(offset);
    a.add(e.prefix);
    a.add(maxlen);
    a.add(e.bus.node);
    a.send(c);
    ++out.calls;
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
      out.lost = true;
      out.error = where + ": connection lost while invalidating tag " + set +
                  (c->err ? std::string(": ") + c->errstr : std::string());
      strata::set_op_error(op, STRATA_ERR_UNAVAILABLE, out.error);
      return out;
    }
    Reply r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_ERROR) {
      std::string msg(r->str, r->len);
      strata::set_op_error(op, classify_error_reply(msg, &out.drop), where + ": " + msg);
      return out;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
      strata::set_op_error(op, STRATA_NOT_STORED,
                           "offset " + std::to_string(op.guard_offset) +
                               " is below the stored watermark (already applied)");
      return out;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
      strata::set_op_error(op, STRATA_ERR_INTERNAL, where + ": unexpected reply to the tag drop");
      return out;
    }
    for (size_t i = 0; i < r->elements; ++i)
      strata::append_tag_key(deleted, {r->element[i]->str, r->element[i]->len});
    out.deleted += r->elements;
    if (r->elements > 0 && e.bus.on()) ++out.announced;
    if (r->elements < e.tag_chunk) {
      host.set_value(op, deleted.data(), deleted.size());
      return out;
    }
  }
  strata::set_op_error(op, STRATA_ERR_UNAVAILABLE,
                       where + ": tag " + set + " kept growing while it was invalidated (retry)");
  return out;
}

}  // namespace redis_l2
