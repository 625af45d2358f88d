// The front's writes on redis_l2: see rich_ops.hpp.
#include "rich_ops.hpp"

#include <cstdio>
#include <string_view>

#include "redis_commands.hpp"

namespace redis_l2 {

// Redis runs Lua 5.1: numbers are doubles, exact only up to 2^53, so neither the uint64
// counters nor FNV-1a 64 fit a Lua number.
// - Counters are decimal strings. `number` accepts what memcached's safe_strtoull does:
//   leading whitespace, an optional '+', digits, then the end, a whitespace (memcached pads a
//   shrunk counter with spaces) or a NUL, at most 2^64 - 1; `add` / `sub` work digit by digit; INCR subtracts 2^64 once when the sum passes 2^64 - 1 (both operands are below
//   2^64, so once is enough), DECR stops at 0, as memcached does.
// - FNV-1a 64 (strata_cas_token in strata.h) keeps the hash in four 16-bit limbs, h0 lowest.
//   The prime 2^40 + 0x1b3 has limbs (0x1b3, 0, 0x100, 0), so the product mod 2^64 needs only
//   the five partial products below; each is below 2^33 and exact in a double. XOR touches
//   the low 8 bits only, so it is the low limb's.
// The value keeps its TTL on APPEND (native), PREPEND, INCR and DECR (SET ... KEEPTTL), as
// memcached keeps an item's exptime; CAS and TOUCH set the op's TTL.
const char* const kRichScript = R"lua(
local k, op, a = KEYS[1], ARGV[1], ARGV[2]
if op == 't' then
  if ARGV[3] ~= '0' then return redis.call('PEXPIRE', k, ARGV[3]) end
  if redis.call('EXISTS', k) == 0 then return 0 end
  redis.call('PERSIST', k)
  return 1
end
if op == 'a' then
  if redis.call('EXISTS', k) == 0 then return 0 end
  redis.call('APPEND', k, a)
  return 1
end
local cur = redis.call('GET', k)
if not cur then return 0 end
if op == 'p' then
  redis.call('SET', k, a .. cur, 'KEEPTTL')
  return 1
end
if op == 'c' then
  local h0, h1, h2, h3 = 0x2325, 0x8422, 0x9ce4, 0xcbf2
  local byte, floor, bxor = string.byte, math.floor, bit.bxor
  for i = 1, #cur do
    h0 = bxor(h0, byte(cur, i))
    local r0, r1 = h0 * 0x1b3, h1 * 0x1b3
    local r2, r3 = h2 * 0x1b3 + h0 * 0x100, h3 * 0x1b3 + h1 * 0x100
    local c = floor(r0 / 65536)
    h0 = r0 - c * 65536
    r1 = r1 + c
    c = floor(r1 / 65536)
    h1 = r1 - c * 65536
    r2 = r2 + c
    c = floor(r2 / 65536)
    h2 = r2 - c * 65536
    h3 = (r3 + c) % 65536
  end
  if h0 + h1 + h2 + h3 == 0 then h0 = 1 end
  if string.format('%04x%04x%04x%04x', h3, h2, h1, h0) ~= a then return -1 end
  if ARGV[3] ~= '0' then
    redis.call('SET', k, ARGV[4], 'PX', ARGV[3])
  else
    redis.call('SET', k, ARGV[4])
  end
  return 1
end
local MAX, WRAP = '18446744073709551615', '18446744073709551616'
local function less(x, y)
  if #x ~= #y then return #x < #y end
  return x < y
end
local function number(v)
  local d, rest = string.match(v, '^%s*%+?(%d+)(.*)$')
  if not d or not (rest == '' or string.find(rest, '^%s') or string.byte(rest, 1) == 0) then
    return nil
  end
  d = string.gsub(d, '^0+', '')
  if d == '' then d = '0' end
  if less(MAX, d) then return nil end
  return d
end
local function add(x, y)
  local out, carry, i, j = {}, 0, #x, #y
  while i > 0 or j > 0 or carry > 0 do
    local s = carry
    if i > 0 then s = s + string.byte(x, i) - 48 end
    if j > 0 then s = s + string.byte(y, j) - 48 end
    if s >= 10 then s, carry = s - 10, 1 else carry = 0 end
    out[#out + 1] = string.char(48 + s)
    i, j = i - 1, j - 1
  end
  return string.reverse(table.concat(out))
end
local function sub(x, y)
  local out, borrow, i, j = {}, 0, #x, #y
  while i > 0 do
    local s = string.byte(x, i) - 48 - borrow
    if j > 0 then s = s - (string.byte(y, j) - 48) end
    if s < 0 then s, borrow = s + 10, 1 else borrow = 0 end
    out[#out + 1] = string.char(48 + s)
    i, j = i - 1, j - 1
  end
  local r = string.gsub(string.reverse(table.concat(out)), '^0+', '')
  if r == '' then r = '0' end
  return r
end
local n = number(cur)
if not n then return -2 end
local r
if op == 'i' then
  r = add(n, a)
  if less(MAX, r) then r = sub(r, WRAP) end
elseif less(n, a) then
  r = '0'
else
  r = sub(n, a)
end
redis.call('SET', k, r, 'KEEPTTL')
return r
)lua";

namespace {

const char* letter(strata_tier_op_kind k) {
  switch (k) {
    case STRATA_TIER_APPEND:
      return "a";
    case STRATA_TIER_PREPEND:
      return "p";
    case STRATA_TIER_INCR:
      return "i";
    case STRATA_TIER_DECR:
      return "d";
    case STRATA_TIER_TOUCH:
      return "t";
    default:
      return "c";
  }
}

std::string_view bytes_of(const strata_bytes& b) {
  return b.data ? std::string_view(b.data, b.len) : std::string_view();
}

}  // namespace

void append_rich(redisContext* c, const Encoding& e, const strata_tier_op& op,
                 const std::string& sha) {
  std::string key = e.prefix;
  key.append(op.key.data, op.key.len);
  int64_t ttl = value_ttl(e, op);
  Args a;
  a.own.reserve(3);
  if (op.kind == STRATA_TIER_REPLACE) {
    a.add("SET");
    a.add(key);
    a.add(bytes_of(op.value));
    a.add("XX");
    if (ttl > 0) {
      a.add("PX");
      a.add_owned(std::to_string(ttl));
    }
    a.send(c);
    return;
  }
  a.add("EVALSHA");
  a.add(sha);
  a.add("1");
  a.add(key);
  a.add(letter(op.kind));
  switch (op.kind) {
    case STRATA_TIER_APPEND:
    case STRATA_TIER_PREPEND:
      a.add(bytes_of(op.value));
      break;
    case STRATA_TIER_INCR:
    case STRATA_TIER_DECR:
      a.add_owned(std::to_string(op.version));
      break;
    case STRATA_TIER_TOUCH:
      a.add("");
      a.add_owned(std::to_string(ttl));
      break;
    default: {  // CAS
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(op.version));
      a.add_owned(hex);
      a.add_owned(std::to_string(ttl));
      a.add(bytes_of(op.value));
      break;
    }
  }
  a.send(c);
}

void rich_result(strata::Host host, strata_tier_op& op, const redisReply* r) {
  bool storage = op.kind == STRATA_TIER_REPLACE || op.kind == STRATA_TIER_APPEND ||
                 op.kind == STRATA_TIER_PREPEND;
  if (op.kind == STRATA_TIER_REPLACE) {
    if (r->type == REDIS_REPLY_NIL)
      strata::set_op_error(op, STRATA_NOT_STORED, "no such key (replace stores only over one)");
    else if (r->type != REDIS_REPLY_STATUS)
      strata::set_op_error(op, STRATA_ERR_INTERNAL, "unexpected reply to SET XX");
    return;
  }
  if (r->type == REDIS_REPLY_STRING && (op.kind == STRATA_TIER_INCR || op.kind == STRATA_TIER_DECR)) {
    host.set_value(op, r->str, r->len);
    return;
  }
  if (r->type != REDIS_REPLY_INTEGER) {
    strata::set_op_error(op, STRATA_ERR_INTERNAL, "unexpected reply to EVALSHA");
    return;
  }
  switch (r->integer) {
    case 1:
      break;
    case 0:
      if (storage)
        strata::set_op_error(op, STRATA_NOT_STORED, "no such key");
      else
        strata::set_op_error(op, STRATA_NOT_FOUND, "no such key");
      break;
    case -1:
      strata::set_op_error(op, STRATA_NOT_STORED, "the stored value changed (cas token differs)");
      break;
    case -2:
      strata::set_op_error(op, STRATA_ERR_INVALID, "non-numeric value");
      break;
    default:
      strata::set_op_error(op, STRATA_ERR_INTERNAL, "unexpected reply to EVALSHA");
  }
}

}  // namespace redis_l2
