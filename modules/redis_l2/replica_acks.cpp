// WAIT-based acks of redis_l2: see replica_acks.hpp.
// Facts used (Redis documentation of WAIT): WAIT numreplicas timeout blocks the client until
// every write it sent before was acknowledged by that many replicas or the timeout (ms)
// passed, and returns how many acknowledged. The offset it waits for is that of the client's
// last command that was propagated: a client whose commands changed nothing (every write
// skipped) waits for nothing, hence the fence write below, which brings it up to the master's
// current offset (every earlier write of every client included).
#include "replica_acks.hpp"

#include <sys/time.h>

#include <strata/sdk.hpp>

#include "redis_link.hpp"

namespace redis_l2 {
namespace {

timeval to_timeval(int64_t ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

bool settled_ok(strata_status s) {
  return s == STRATA_OK || s == STRATA_NOT_FOUND || s == STRATA_NOT_STORED;
}

}  // namespace

bool is_write(const strata_tier_op& op) {
  return op.kind != STRATA_TIER_GET && op.kind != STRATA_TIER_WATERMARK_GET;
}

namespace {

void fail_writes(strata_tier_op* const* ops, size_t n, const std::string& why) {
  for (size_t i = 0; i < n; ++i)
    if (is_write(*ops[i]) && settled_ok(ops[i]->status))
      strata::set_op_error(*ops[i], STRATA_ERR_UNAVAILABLE, why + " (not acknowledged)");
}

}  // namespace

AckOutcome require_replica_acks(redisContext* c, const Encoding& e, const AckSettings& s,
                                strata_tier_op* const* ops, size_t n, const std::string& where) {
  AckOutcome out;
  bool any = false, wrote = false;
  for (size_t i = 0; i < n; ++i) {
    if (!is_write(*ops[i]) || !settled_ok(ops[i]->status)) continue;
    any = true;
    wrote = wrote || ops[i]->status == STRATA_OK;
  }
  if (!any) return out;
  out.waited = true;
  if (!c) {  // an earlier round lost the connection: what it wrote cannot be waited for
    out.lost = true;
    out.error = where + ": connection lost before WAIT";
    fail_writes(ops, n, out.error);
    return out;
  }
  size_t replies = 1;
  if (!wrote) {
    Args f;
    f.own.reserve(1);
    f.add("SET");
    f.add_owned(e.prefix + "strata:wait-fence");
    f.add("1");
    f.add("PX");
    f.add("3600000");
    f.send(c);
    ++replies;
  }
  Args w;
  w.own.reserve(2);  // no reallocation: argv points into it
  w.add("WAIT");
  w.add_owned(std::to_string(s.replicas));
  w.add_owned(std::to_string(s.timeout_ms));
  w.send(c);
  // The server answers WAIT only after its timeout: the socket must wait longer than that.
  redisSetTimeout(c, to_timeval(s.timeout_ms + s.command_timeout_ms));
  Reply last;
  for (size_t k = 0; k < replies; ++k) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || !raw) {
      out.lost = true;
      out.error = where + ": connection lost while waiting for replica acks" +
                  (c->errstr[0] ? std::string(": ") + c->errstr : std::string());
      break;
    }
    last.reset(static_cast<redisReply*>(raw));
  }
  if (!out.lost) redisSetTimeout(c, to_timeval(s.command_timeout_ms));
  if (!out.lost && last->type == REDIS_REPLY_INTEGER) {
    out.acked = last->integer;
    if (out.acked >= s.replicas) return out;
    out.error = where + ": WAIT: " + std::to_string(out.acked) + " of " +
                std::to_string(s.replicas) + " replicas acknowledged the batch's writes within " +
                std::to_string(s.timeout_ms) + "ms (min_replicas_acked)";
  } else if (!out.lost) {
    out.error = where + ": WAIT: " +
                (last->type == REDIS_REPLY_ERROR ? std::string(last->str, last->len)
                                                 : std::string("unexpected reply"));
  }
  out.short_of = !out.lost;
  fail_writes(ops, n, out.error);
  return out;
}

}  // namespace redis_l2
