// The watermark transaction of redis_l2: see guarded_tx.hpp.
#include "guarded_tx.hpp"

#include <charconv>
#include <strata/sdk.hpp>
#include <string_view>
#include <vector>

#include "redis_link.hpp"
#include "tag_index.hpp"

namespace redis_l2 {
namespace {

// EXEC came back empty this many times in a row (the watermarks keep moving under us): the
// ops are answered "unavailable" and the pipeline retries them with backoff.
constexpr int kMaxAttempts = 3;

// One transaction's view of the run: the distinct watermark names and, per op, its index.
struct Partitions {
  std::vector<std::string_view> names;
  std::vector<std::string> keys;  // Redis keys of the watermarks
  std::vector<size_t> of_op;
  std::vector<int64_t> stored;  // from MGET; -1 when absent
};

Partitions partitions_of(const Encoding& e, strata_tier_op* const* ops, size_t n) {
  Partitions p;
  p.of_op.resize(n);
  for (size_t i = 0; i < n; ++i) {
    std::string_view g = strata::guard_name(*ops[i]);
    size_t j = 0;
    while (j < p.names.size() && p.names[j] != g) ++j;  // a batch spans a few partitions
    if (j == p.names.size()) {
      p.names.push_back(g);
      p.keys.push_back(watermark_key(e.prefix, g));
    }
    p.of_op[i] = j;
  }
  return p;
}

int64_t parse_offset(const redisReply* r) {
  int64_t v = -1;
  if (r && r->type == REDIS_REPLY_STRING &&
      std::from_chars(r->str, r->str + r->len, v).ec != std::errc())
    return -1;
  return v;
}

class Tx {
 public:
  Tx(redisContext* c, const Encoding& e, strata_tier_op* const* ops, size_t n,
     const std::string& where)
      : c_(c), e_(e), ops_(ops), n_(n), where_(where), p_(partitions_of(e, ops, n)) {}

  TxOutcome run() {
    while (out_.attempts < size_t(kMaxAttempts)) {
      if (!read_watermarks()) return out_;
      std::vector<size_t> apply = select();
      if (apply.empty()) return unwatch();
      ++out_.attempts;
      int r = exec(apply);
      if (r != 0) return out_;  // applied (statuses set) or lost
    }
    for (size_t i = 0; i < n_; ++i)
      if (ops_[i]->status == STRATA_OK && !settled_[i])
        strata::set_op_error(*ops_[i], STRATA_ERR_UNAVAILABLE,
                             where_ + ": partition watermarks kept moving (another writer)");
    return out_;
  }

 private:
  bool lose(const char* what) {
    out_.lost = true;
    out_.error = where_ + ": connection lost while " + what + (c_->err ? ": " : "") +
                 (c_->err ? c_->errstr : "");
    for (size_t i = 0; i < n_; ++i)
      if (!settled_[i]) strata::set_op_error(*ops_[i], STRATA_ERR_UNAVAILABLE, out_.error);
    return false;
  }

  Reply next() {
    void* raw = nullptr;
    if (redisGetReply(c_, &raw) != REDIS_OK) return Reply();
    return Reply(static_cast<redisReply*>(raw));
  }

  // WATCH the watermarks and read them (one round trip).
  bool read_watermarks() {
    Args w, g;
    w.add("WATCH");
    g.add("MGET");
    for (const auto& k : p_.keys) {
      w.add(k);
      g.add(k);
    }
    w.send(c_);
    g.send(c_);
    Reply watched = next();
    Reply got = next();
    if (!watched || !got) return lose("reading the watermarks");
    if (watched->type == REDIS_REPLY_ERROR) return fail_reply(watched.get());
    if (got->type != REDIS_REPLY_ARRAY || got->elements != p_.keys.size())
      return fail_reply(got.get());
    p_.stored.assign(p_.keys.size(), -1);
    for (size_t j = 0; j < p_.keys.size(); ++j) p_.stored[j] = parse_offset(got->element[j]);
    return true;
  }

  // Ops at or above their watermark; the others are answered "already applied".
  std::vector<size_t> select() {
    settled_.assign(n_, false);
    std::vector<size_t> apply;
    apply.reserve(n_);
    for (size_t i = 0; i < n_; ++i) {
      ops_[i]->status = STRATA_OK;
      if (ops_[i]->guard_offset < p_.stored[p_.of_op[i]]) {
        strata::set_op_error(*ops_[i], STRATA_NOT_STORED,
                             "offset " + std::to_string(ops_[i]->guard_offset) +
                                 " is below the stored watermark (already applied)");
        settled_[i] = true;
      } else {
        apply.push_back(i);
      }
    }
    out_.skipped = n_ - apply.size();
    return apply;
  }

  TxOutcome unwatch() {
    Args u;
    u.add("UNWATCH");
    u.send(c_);
    if (!next()) lose("sending UNWATCH");
    return out_;
  }

  bool fail_reply(const redisReply* r) {
    std::string msg = r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len)
                                                        : std::string("unexpected reply");
    bool drop = false;
    strata_status st =
        r && r->type == REDIS_REPLY_ERROR ? classify_error_reply(msg, &drop) : STRATA_ERR_INTERNAL;
    out_.drop = out_.drop || drop;
    for (size_t i = 0; i < n_; ++i)
      if (!settled_[i]) strata::set_op_error(*ops_[i], st, where_ + ": " + msg);
    return false;
  }

  void append_write(RespBuffer& out, const strata_tier_op& op) {
    const std::string_view key(op.key.data ? op.key.data : "", op.key.data ? op.key.len : 0);
    if (op.kind == STRATA_TIER_TAG) {  // the membership of the SET's key (tag_index.hpp)
      out.command(3);
      out.arg("SADD");
      out.arg(tag_key(e_, {op.value.data, op.value.len}));
      out.arg(key);
      return;
    }
    if (op.kind != STRATA_TIER_SET) {
      out.command(2);
      out.arg("DEL");
      out.arg2(e_.prefix, key);
      return;
    }
    const int64_t ttl = value_ttl(e_, op);
    out.command(ttl > 0 ? 5 : 3);
    out.arg("SET");
    out.arg2(e_.prefix, key);
    // The pipeline's guarded writes have flags 0: the bytes alone
    // (tests/redis_l2/flags_test.cpp).
    const std::string_view v =
        op.value.data ? std::string_view(op.value.data, op.value.len) : std::string_view();
    if (needs_envelope(op.flags, v))
      out.arg(enveloped(op.flags, v));
    else
      out.arg(v);
    if (ttl > 0) {
      out.arg("PX");
      out.arg_number(ttl);
    }
  }

  // MULTI / writes / watermark SETs / EXEC. 1: done; 0: a watched key moved (start over);
  // -1: the connection was lost.
  int exec(const std::vector<size_t>& apply) {
    std::vector<int64_t> top = p_.stored;
    for (size_t i : apply) top[p_.of_op[i]] = std::max(top[p_.of_op[i]], ops_[i]->guard_offset + 1);
    RespBuffer out;
    out.command(1);
    out.arg("MULTI");
    for (size_t i : apply) append_write(out, *ops_[i]);
    size_t marks = 0;
    for (size_t j = 0; j < top.size(); ++j) {
      if (top[j] <= p_.stored[j]) continue;
      out.command(3);
      out.arg("SET");
      out.arg(p_.keys[j]);
      out.arg_number(top[j]);
      ++marks;
    }
    out.flush(c_);
    std::vector<std::string_view> keys;  // announced: the keys written, not the memberships
    if (e_.bus.on())
      for (size_t i : apply)
        if (announces(ops_[i]->kind)) keys.emplace_back(ops_[i]->key.data, ops_[i]->key.len);
    const size_t bus = keys.empty() ? 0 : 1;
    if (bus) append_xadd(c_, e_.bus, keys);
    Args x;
    x.add("EXEC");
    x.send(c_);
    // +OK, then +QUEUED or an error each
    for (size_t k = 0; k < 1 + apply.size() + marks + bus; ++k)
      if (!next()) {
        lose("reading a transaction's replies");
        return -1;
      }
    Reply done = next();
    if (!done) {
      lose("waiting for EXEC");
      return -1;
    }
    if (done->type == REDIS_REPLY_NIL) return 0;  // WATCH fired: nothing was applied
    if (done->type != REDIS_REPLY_ARRAY || done->elements != apply.size() + marks + bus) {
      fail_reply(done.get());  // EXECABORT (a command refused when queued: OOM, READONLY)
      return 1;
    }
    for (size_t k = 0; k < apply.size(); ++k) settle(*ops_[apply[k]], done->element[k]);
    if (bus) {
      const redisReply* xr = done->element[apply.size() + marks];
      if (xr->type == REDIS_REPLY_ERROR)
        out_.bus_error = where_ + ": XADD " + e_.bus.stream + ": " + std::string(xr->str, xr->len);
      else
        out_.announced = true;
    }
    for (size_t i : apply) settled_[i] = true;
    return 1;
  }

  void settle(strata_tier_op& op, const redisReply* r) {
    if (r->type == REDIS_REPLY_ERROR) {
      bool drop = false;
      std::string msg(r->str, r->len);
      strata::set_op_error(op, classify_error_reply(msg, &drop), where_ + ": " + msg);
      out_.drop = out_.drop || drop;
    } else if (op.kind == STRATA_TIER_DELETE && r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
      op.status = STRATA_NOT_FOUND;
    } else {
      op.status = STRATA_OK;
    }
  }

  redisContext* c_;
  const Encoding& e_;
  strata_tier_op* const* ops_;
  size_t n_;
  const std::string& where_;
  Partitions p_;
  std::vector<bool> settled_ = std::vector<bool>(n_, false);
  TxOutcome out_;
};

}  // namespace

TxOutcome run_guarded_tx(redisContext* c, const Encoding& e, strata_tier_op* const* ops, size_t n,
                         const std::string& where) {
  return Tx(c, e, ops, n, where).run();
}

}  // namespace redis_l2
