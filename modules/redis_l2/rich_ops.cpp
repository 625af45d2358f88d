// The front's writes on redis_l2: see rich_ops.hpp.
#include "rich_ops.hpp"

#include <string_view>

#include "envelope.hpp"
#include "redis_commands.hpp"
#include "redis_link.hpp"

namespace redis_l2 {

// Redis runs Lua 5.1: numbers are doubles, exact only up to 2^53, so the uint64 counters are
// decimal strings. `number` accepts what memcached's safe_strtoull does: leading whitespace, an
// optional '+', digits, then the end, a whitespace (memcached pads a shrunk counter with
// spaces) or a NUL, at most 2^64 - 1; `add` / `sub` work digit by digit; INCR subtracts 2^64
// once when the sum passes 2^64 - 1 (both operands are below 2^64, so once is enough), DECR
// stops at 0, as memcached does.
// The value keeps its TTL on APPEND (native), PREPEND, INCR and DECR (SET ... KEEPTTL), as
// memcached keeps an item's exptime; TOUCH sets the op's TTL.
// Client flags (envelope.hpp): the ops keep the stored ones. APPEND of an envelope is the native
// APPEND (the envelope stays in front); PREPEND inserts after the envelope; INCR/DECR read the
// number after it and write it back behind the same envelope. `M` is kMagic; a value that gets
// flags 0 is stored by `store` exactly as a plain write would store it (bytes alone, or an
// envelope with flags 0 when the bytes start with M).
const char* const kRichScript = R"lua(
local k, op, a = KEYS[1], ARGV[1], ARGV[2]
if op == 't' then
  if ARGV[3] ~= '0' then return redis.call('PEXPIRE', k, ARGV[3]) end
  if redis.call('EXISTS', k) == 0 then return 0 end
  redis.call('PERSIST', k)
  return 1
end
local M, ZERO = string.char(0) .. 'STRATA' .. string.char(1), string.rep(string.char(0), 4)
local function wrapped(v) return #v >= 12 and string.sub(v, 1, 8) == M end
local function store(hdr, body)
  if hdr ~= '' and string.sub(hdr, 9, 12) ~= ZERO then return hdr .. body end
  if string.sub(body, 1, 8) == M then return M .. ZERO .. body end
  return body
end
if op == 'a' then
  local h = redis.call('GETRANGE', k, 0, 11)
  if h == '' and redis.call('EXISTS', k) == 0 then return 0 end
  if not wrapped(h) and string.sub(h .. string.sub(a, 1, 8), 1, 8) == M then
    redis.call('SET', k, store('', redis.call('GET', k) .. a), 'KEEPTTL')
  else
    redis.call('APPEND', k, a)
  end
  return 1
end
local cur = redis.call('GET', k)
if not cur then return 0 end
local hdr, body = '', cur
if wrapped(cur) then hdr, body = string.sub(cur, 1, 12), string.sub(cur, 13) end
if op == 'p' then
  redis.call('SET', k, store(hdr, a .. body), 'KEEPTTL')
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
local n = number(body)
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
redis.call('SET', k, store(hdr, r), 'KEEPTTL')
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
    default:
      return "t";
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
    a.add_value(op.flags, bytes_of(op.value));
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
    default:  // TOUCH
      a.add("");
      a.add_owned(std::to_string(ttl));
      break;
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
  if (r->type == REDIS_REPLY_STRING &&
      (op.kind == STRATA_TIER_INCR || op.kind == STRATA_TIER_DECR)) {
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
    case -2:
      strata::set_op_error(op, STRATA_ERR_INVALID, "non-numeric value");
      break;
    default:
      strata::set_op_error(op, STRATA_ERR_INTERNAL, "unexpected reply to EVALSHA");
  }
}

namespace {

// EXEC came back empty (the value changed between our GET and our EXEC) this many times in a
// row: the op answers NOT_STORED, as memcached's cas does for an item that changed.
constexpr int kCasAttempts = 3;

class Cas {
 public:
  Cas(redisContext* c, const Encoding& e, strata_tier_op& op, const std::string& where)
      : c_(c), op_(op), where_(where), key_(e.prefix) {
    key_.append(op.key.data, op.key.len);
    ttl_ = value_ttl(e, op);
  }

  CasOutcome run() {
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
      int r = once();
      if (r != 0) return out_;
    }
    strata::set_op_error(op_, STRATA_NOT_STORED, "the value kept changing under the cas");
    return out_;
  }

 private:
  Reply next() {
    void* raw = nullptr;
    if (redisGetReply(c_, &raw) != REDIS_OK) return Reply();
    return Reply(static_cast<redisReply*>(raw));
  }

  int lose(const char* what) {
    out_.lost = true;
    out_.error = where_ + ": connection lost while " + what + (c_->err ? ": " : "") +
                 (c_->err ? c_->errstr : "");
    strata::set_op_error(op_, STRATA_ERR_UNAVAILABLE, out_.error);
    return -1;
  }

  void error_reply(const redisReply* r) {
    bool drop = false;
    std::string msg(r->str, r->len);
    strata::set_op_error(op_, classify_error_reply(msg, &drop), where_ + ": " + msg);
    out_.drop = out_.drop || drop;
  }

  // Ends a WATCH that is not followed by EXEC.
  int unwatch() {
    Args u;
    u.add("UNWATCH");
    u.send(c_);
    ++out_.roundtrips;
    return next() ? 1 : lose("sending UNWATCH");
  }

  // One attempt. 1: the op has its status; 0: the value changed before EXEC (start over);
  // -1: the connection was lost.
  int once() {
    Args w, g;
    w.add("WATCH");
    w.add(key_);
    g.add("GET");
    g.add(key_);
    w.send(c_);
    g.send(c_);
    ++out_.roundtrips;
    Reply watched = next();
    Reply got = next();
    if (!watched || !got) return lose("reading the value for a cas");
    if (watched->type == REDIS_REPLY_ERROR) {
      error_reply(watched.get());
      return unwatch();
    }
    if (got->type == REDIS_REPLY_ERROR) {  // WRONGTYPE
      error_reply(got.get());
      return unwatch();
    }
    if (got->type == REDIS_REPLY_NIL) {
      strata::set_op_error(op_, STRATA_NOT_FOUND, "no such key");
      return unwatch();
    }
    if (got->type != REDIS_REPLY_STRING) {
      strata::set_op_error(op_, STRATA_ERR_INTERNAL, where_ + ": unexpected reply to GET");
      return unwatch();
    }
    // Tokens handed out by GET are those of the client's bytes, after any envelope.
    Unwrapped stored = unwrap(got->str, got->len);
    if (strata_cas_token(stored.payload.data(), stored.payload.size()) != op_.version) {
      strata::set_op_error(op_, STRATA_NOT_STORED, "the stored value changed (cas token differs)");
      return unwatch();
    }
    Args m, set, x;
    m.add("MULTI");
    set.add("SET");
    set.add(key_);
    set.own.reserve(2);
    set.add_value(op_.flags, op_.value.data ? std::string_view(op_.value.data, op_.value.len)
                                            : std::string_view());
    if (ttl_ > 0) {
      set.add("PX");
      set.add_owned(std::to_string(ttl_));
    }
    x.add("EXEC");
    m.send(c_);
    set.send(c_);
    x.send(c_);
    ++out_.roundtrips;
    Reply multi = next();
    Reply queued = next();
    Reply done = next();
    if (!multi || !queued || !done) return lose("waiting for the EXEC of a cas");
    if (done->type == REDIS_REPLY_NIL) return 0;  // WATCH fired: nothing was written
    if (done->type == REDIS_REPLY_ERROR) {        // EXECABORT: the SET was refused (OOM, ...)
      error_reply(queued->type == REDIS_REPLY_ERROR ? queued.get() : done.get());
      return 1;
    }
    if (done->type != REDIS_REPLY_ARRAY || done->elements != 1) {
      strata::set_op_error(op_, STRATA_ERR_INTERNAL, where_ + ": unexpected reply to EXEC");
      return 1;
    }
    if (done->element[0]->type == REDIS_REPLY_ERROR) error_reply(done->element[0]);
    return 1;
  }

  redisContext* c_;
  strata_tier_op& op_;
  const std::string& where_;
  std::string key_;
  int64_t ttl_ = 0;
  CasOutcome out_;
};

}  // namespace

CasOutcome run_cas(redisContext* c, const Encoding& e, strata_tier_op& op,
                   const std::string& where) {
  return Cas(c, e, op, where).run();
}

}  // namespace redis_l2
