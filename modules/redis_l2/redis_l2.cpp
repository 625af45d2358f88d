// redis_l2: the durable, versioned L2 tier on Redis (hiredis 0.14, blocking API).
// A pool of connections, each behind its own mutex, serves concurrent execute() calls; a batch
// is pipelined in rounds of at most `pipeline_depth` commands. Versioned SET/DELETE go through
// a Lua script (EVALSHA) that refuses to replace a newer version; see docs/redis_l2.md.
#include <strata/sdk.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "redis_link.hpp"

namespace redis_l2 {
namespace {

constexpr strata_option_def kOptions[] = {
    strata::option("address", STRATA_OPT_STRING, "127.0.0.1:6379",
                   "\"host:port\", a unix socket path starting with '/', or "
                   "\"redis://[user[:password]@]host[:port][/db]\" (URL parts win over the "
                   "username/password/db options)"),
    strata::option("username", STRATA_OPT_STRING, "", "ACL user for AUTH; empty = default user"),
    strata::option("password", STRATA_OPT_STRING, "", "password for AUTH; empty = no AUTH")
        .secret(),
    strata::option("db", STRATA_OPT_INT, "0", "database number (SELECT)").range(0, 1000000),
    strata::option("connect_timeout", STRATA_OPT_DURATION, "200ms", "timeout of one connect")
        .range(1, 600000),
    strata::option("command_timeout", STRATA_OPT_DURATION, "500ms",
                   "timeout of one socket read or write while waiting for replies")
        .range(1, 600000),
    strata::option("ttl", STRATA_OPT_DURATION, "0ms",
                   "TTL used when an op asks for the tier's default; 0 = no expiry")
        .min(0),
    strata::option("key_prefix", STRATA_OPT_STRING, "", "prepended to every key"),
    strata::option("pipeline_depth", STRATA_OPT_INT, "1000",
                   "max commands per pipelined round trip; a bigger batch takes several rounds")
        .range(1, 1000000),
    strata::option("connections", STRATA_OPT_INT, "2",
                   "connections in the pool (concurrent execute() callers)")
        .range(1, 256),
    strata::option("tombstone_ttl", STRATA_OPT_DURATION, "1h",
                   "how long a versioned delete (or an expired versioned value) remembers its "
                   "version so an older replay cannot resurrect it; 0 = forever")
        .min(0),
};

// Payload bytes (keys + values) after which a pipelined round is sent even if it holds fewer
// than pipeline_depth commands.
constexpr size_t kRoundBytes = 8u << 20;

// One pooled connection. `ctx` is null when not connected (never yet, or dropped).
struct Slot {
  std::mutex mu;
  Context ctx;
  bool ever_connected = false;
  uint64_t epoch = 0;  // RedisL2::epoch_ when connected
};

// One command of a round: the op it answers and how to read the reply.
struct Sent {
  strata_tier_op* op;
  bool versioned;
};

// State of one execute() call.
struct Call {
  std::string lost;         // why the connection went away mid-batch
  bool drop_after = false;  // an error reply said this connection is no longer usable
};

class RedisL2 final : public strata::TierModule {
 public:
  static constexpr uint32_t kTierFlags = STRATA_TIER_DURABLE | STRATA_TIER_VERSIONED;

  RedisL2(strata::Host host, const strata::Options& o) : host_(host) {
    link_.endpoint = parse_address(o.str("address"));
    const Endpoint& ep = link_.endpoint;
    link_.username = ep.has_username ? ep.username : o.str("username");
    link_.password = ep.has_password ? ep.password : o.str("password");
    link_.db = ep.has_db ? ep.db : o.integer("db");
    link_.connect_timeout_ms = static_cast<int>(o.duration_ms("connect_timeout"));
    link_.command_timeout_ms = static_cast<int>(o.duration_ms("command_timeout"));
    default_ttl_ms_ = o.duration_ms("ttl");
    tombstone_ttl_ms_ = o.duration_ms("tombstone_ttl");
    prefix_ = o.str("key_prefix");
    depth_ = static_cast<size_t>(o.integer("pipeline_depth"));
    slots_.resize(static_cast<size_t>(o.integer("connections")));
    for (auto& s : slots_) s = std::make_unique<Slot>();

    reconnects_ =
        host_.counter("strata_redis_reconnects_total", "Connections re-established after a drop");
    connection_errors_ = host_.counter("strata_redis_connection_errors_total",
                                       "Failed connects and connections dropped after an error");
    noscript_reloads_ = host_.counter("strata_redis_noscript_reloads_total",
                                      "SCRIPT LOADs after a NOSCRIPT reply (script cache flushed)");
    roundtrips_ = host_.counter("strata_redis_roundtrips_total",
                                "Pipelined round trips (at most pipeline_depth commands each)");
    commands_ = host_.counter("strata_redis_commands_total", "Commands sent in pipelines");
    not_stored_ = host_.counter("strata_redis_version_rejects_total",
                                "Versioned writes refused because a newer version is stored");
  }

  // Connects the pool. A server that is down is not fatal (the first execute reconnects);
  // credentials or a db the server refuses are.
  void start() override {
    for (auto& s : slots_) {
      std::lock_guard<std::mutex> lk(s->mu);
      std::string err;
      bool config_error = false;
      if (!connect(*s, &err, &config_error)) {
        if (config_error) throw strata::Error(STRATA_ERR_INVALID, err);
        host_.info("redis " + link_.endpoint.display + " not reachable yet; will connect on use");
        return;
      }
    }
    host_.info("connected to redis " + link_.endpoint.display + " (" +
               std::to_string(slots_.size()) + " connections)");
  }

  void stop(bool) override {
    for (auto& s : slots_) {
      std::lock_guard<std::mutex> lk(s->mu);
      s->ctx.reset();
    }
  }

  void execute(strata_tier_op* ops, size_t n) override {
    std::unique_lock<std::mutex> lk;
    Slot& s = acquire(&lk);
    ensure_connected(s);
    SigpipeGuard guard;
    Call call;
    for (size_t begin = 0, end; begin < n; begin = end) {
      end = round_end(ops, begin, n);
      if (!s.ctx) {  // an earlier round lost the connection: the rest was not sent
        for (size_t i = begin; i < n; ++i)
          strata::set_op_error(ops[i], STRATA_ERR_UNAVAILABLE, call.lost + " (not sent)");
        return;
      }
      round(s, call, ops + begin, end - begin);
    }
  }

  void health() override {
    std::unique_lock<std::mutex> lk;
    Slot& s = acquire(&lk);
    ensure_connected(s);
    SigpipeGuard guard;
    std::string err;
    Reply r(static_cast<redisReply*>(redisCommand(s.ctx.get(), "PING")));
    if (!r) {
      err = io_error(s.ctx.get(), link_);
      drop(s, err);
      throw strata::Error(STRATA_ERR_UNAVAILABLE, err);
    }
    if (r->type == REDIS_REPLY_ERROR)
      throw strata::Error(STRATA_ERR_UNAVAILABLE, "redis " + link_.endpoint.display +
                                                      ": PING: " + std::string(r->str, r->len));
  }

 private:
  // A free connection if there is one, else wait for the next in round-robin order.
  Slot& acquire(std::unique_lock<std::mutex>* lk) {
    size_t start = next_.fetch_add(1, std::memory_order_relaxed) % slots_.size();
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = *slots_[(start + i) % slots_.size()];
      std::unique_lock<std::mutex> l(s.mu, std::try_to_lock);
      if (l.owns_lock()) {
        *lk = std::move(l);
        return s;
      }
    }
    *lk = std::unique_lock<std::mutex>(slots_[start]->mu);
    return *slots_[start];
  }

  // A connection opened before another one failed is replaced too: after a server restart
  // every pooled connection is dead, and only the first caller should pay for finding out.
  void ensure_connected(Slot& s) {
    if (s.ctx && s.epoch != epoch_.load(std::memory_order_acquire)) s.ctx.reset();
    std::string err;
    bool config_error = false;
    if (!s.ctx && !connect(s, &err, &config_error))
      throw strata::Error(STRATA_ERR_UNAVAILABLE, err);
  }

  bool connect(Slot& s, std::string* err, bool* config_error) {
    Opened o = open_link(link_);
    if (!o.ctx) {
      connection_errors_.add();
      *err = o.error;
      *config_error = o.config_error;
      if (!down_.exchange(true)) host_.warn(o.error);
      return false;
    }
    s.ctx = std::move(o.ctx);
    s.epoch = epoch_.load(std::memory_order_acquire);
    {
      std::lock_guard<std::mutex> lk(sha_mu_);
      sha_ = o.script_sha;
    }
    if (s.ever_connected) reconnects_.add();
    s.ever_connected = true;
    if (down_.exchange(false))
      host_.info("redis " + link_.endpoint.display + " is reachable again");
    return true;
  }

  void drop(Slot& s, const std::string& why) {
    s.ctx.reset();
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    connection_errors_.add();
    if (!down_.exchange(true)) host_.warn(why + "; connection dropped, will reconnect");
  }

  std::string sha() {
    std::lock_guard<std::mutex> lk(sha_mu_);
    return sha_;
  }

  // A round ends after pipeline_depth ops or once its payload passes kRoundBytes (at least one
  // op), so a batch of large values does not build one huge output buffer.
  size_t round_end(const strata_tier_op* ops, size_t begin, size_t n) const {
    size_t end = begin, bytes = 0;
    while (end < n && end - begin < depth_ && (end == begin || bytes < kRoundBytes)) {
      bytes += ops[end].key.len + ops[end].value.len;
      ++end;
    }
    return end;
  }

  int64_t value_ttl(const strata_tier_op& op) const {
    if (op.ttl_ms < 0) return 0;
    return op.ttl_ms == 0 ? default_ttl_ms_ : op.ttl_ms;
  }

  // The version key lives as long as the value plus tombstone_ttl, so an expired value is
  // protected like a deleted one; without a value TTL (or tombstone_ttl 0) it does not expire.
  int64_t version_ttl(int64_t value_ttl) const {
    if (value_ttl == 0 || tombstone_ttl_ms_ == 0) return 0;
    return value_ttl > INT64_MAX - tombstone_ttl_ms_ ? 0 : value_ttl + tombstone_ttl_ms_;
  }

  // Appends the command for `op`; false when the op was answered locally (bad key/kind).
  bool append(redisContext* c, strata_tier_op& op, const std::string& script_sha, bool* versioned) {
    op.status = STRATA_OK;
    op.error[0] = '\0';
    op.result_flags = 0;
    if (op.key.len == 0 || op.key.data == nullptr) {
      strata::set_op_error(op, STRATA_ERR_BAD_KEY, "empty key");
      return false;
    }
    std::string key = prefix_;
    key.append(op.key.data, op.key.len);
    std::string_view value(op.value.data ? op.value.data : "", op.value.data ? op.value.len : 0);
    std::vector<std::string_view> argv;
    std::string ttl, vkey, version, vttl;
    *versioned = false;
    switch (op.kind) {
      case STRATA_TIER_GET:
        argv = {"GET", key};
        break;
      case STRATA_TIER_ADD:
      case STRATA_TIER_SET:
        if (op.kind == STRATA_TIER_SET && op.version != 0) {
          *versioned = true;
          break;
        }
        argv = {"SET", key, value};
        if (op.kind == STRATA_TIER_ADD) argv.push_back("NX");
        if (int64_t t = value_ttl(op); t > 0) {
          ttl = std::to_string(t);
          argv.push_back("PX");
          argv.push_back(ttl);
        }
        break;
      case STRATA_TIER_DELETE:
        if (op.version != 0) {
          *versioned = true;
          break;
        }
        argv = {"DEL", key};
        break;
      default:
        strata::set_op_error(op, STRATA_ERR_INVALID, "unknown op kind");
        return false;
    }
    if (*versioned) {
      bool set = op.kind == STRATA_TIER_SET;
      int64_t t = set ? value_ttl(op) : 0;
      vkey = version_key(key);
      version = std::to_string(op.version);
      ttl = std::to_string(t);
      vttl = std::to_string(set ? version_ttl(t) : tombstone_ttl_ms_);
      argv = {"EVALSHA", script_sha,
              "2",       key,
              vkey,      set ? "set" : "del",
              version,   set ? value : std::string_view(""),
              ttl,       vttl};
    }
    const char* args[10];
    size_t lens[10];
    for (size_t i = 0; i < argv.size(); ++i) {
      args[i] = argv[i].data();
      lens[i] = argv[i].size();
    }
    // Fails only on out-of-memory; hiredis then flags the context, caught when reading.
    redisAppendCommandArgv(c, static_cast<int>(argv.size()), args, lens);
    return true;
  }

  // Sets op's status from its reply. Returns true for NOSCRIPT (the op must be retried).
  bool interpret(Call& call, const Sent& sent, const redisReply* r) {
    strata_tier_op& op = *sent.op;
    if (r->type == REDIS_REPLY_ERROR) {
      std::string_view msg(r->str, r->len);
      if (sent.versioned && msg.substr(0, 8) == "NOSCRIPT") return true;
      bool drop_conn = false;
      strata_status st = classify_error_reply(msg, &drop_conn);
      strata::set_op_error(op, st, "redis " + link_.endpoint.display + ": " + std::string(msg));
      if (drop_conn && !call.drop_after) {
        call.drop_after = true;
        call.lost = op.error;
      }
      return false;
    }
    if (sent.versioned) {
      if (r->type != REDIS_REPLY_INTEGER) {
        strata::set_op_error(op, STRATA_ERR_INTERNAL, "unexpected reply to EVALSHA");
      } else if (r->integer < 0) {
        not_stored_.add();
        strata::set_op_error(
            op, STRATA_NOT_STORED,
            "version " + std::to_string(op.version) + " is older than the stored version");
      } else if (r->integer == 0) {
        strata::set_op_error(op, STRATA_NOT_FOUND, "no value to delete (tombstone written)");
      }
      return false;
    }
    switch (op.kind) {
      case STRATA_TIER_GET:
        if (r->type == REDIS_REPLY_STRING)
          host_.set_value(op, r->str, r->len);
        else if (r->type == REDIS_REPLY_NIL)
          op.status = STRATA_NOT_FOUND;
        else
          strata::set_op_error(op, STRATA_ERR_INTERNAL, "unexpected reply to GET");
        break;
      case STRATA_TIER_ADD:
        if (r->type == REDIS_REPLY_NIL) strata::set_op_error(op, STRATA_NOT_STORED, "key exists");
        break;
      case STRATA_TIER_DELETE:
        if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) op.status = STRATA_NOT_FOUND;
        break;
      default:
        break;
    }
    return false;
  }

  // Sends `sent` as one pipeline and reads every reply. Ops whose replies were not read get
  // ERR_UNAVAILABLE and the connection is dropped. Returns the ops that got NOSCRIPT.
  std::vector<Sent> pipeline(Slot& s, Call& call, const std::vector<Sent>& sent, bool appended) {
    std::vector<Sent> noscript;
    if (sent.empty()) return noscript;
    redisContext* c = s.ctx.get();
    if (!appended) {
      std::string script = sha();
      bool versioned;
      for (const Sent& x : sent) append(c, *x.op, script, &versioned);
    }
    roundtrips_.add();
    commands_.add(static_cast<double>(sent.size()));
    for (size_t i = 0; i < sent.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
        call.lost = io_error(c, link_);
        for (size_t j = i; j < sent.size(); ++j)
          strata::set_op_error(*sent[j].op, STRATA_ERR_UNAVAILABLE,
                               call.lost + " (reply not read)");
        drop(s, call.lost);
        return {};
      }
      Reply r(static_cast<redisReply*>(raw));
      if (interpret(call, sent[i], r.get())) noscript.push_back(sent[i]);
    }
    return noscript;
  }

  // One round: up to pipeline_depth ops on one connection, plus a NOSCRIPT retry.
  void round(Slot& s, Call& call, strata_tier_op* ops, size_t n) {
    std::vector<Sent> sent;
    sent.reserve(n);
    std::string script = sha();
    for (size_t i = 0; i < n; ++i) {
      bool versioned = false;
      if (append(s.ctx.get(), ops[i], script, &versioned)) sent.push_back({&ops[i], versioned});
    }
    std::vector<Sent> retry = pipeline(s, call, sent, true);
    if (!retry.empty() && s.ctx) {
      // The script cache was flushed (SCRIPT FLUSH, or a failover to a replica without it):
      // load it again and replay exactly the ops that were refused; nothing else ran for them.
      noscript_reloads_.add();
      std::string err;
      std::string fresh = load_script(s.ctx.get(), link_, &err);
      if (fresh.empty()) {
        for (const Sent& x : retry) strata::set_op_error(*x.op, STRATA_ERR_UNAVAILABLE, err);
        if (s.ctx->err) {
          call.lost = err;
          drop(s, err);
        }
      } else {
        {
          std::lock_guard<std::mutex> lk(sha_mu_);
          sha_ = fresh;
        }
        for (const Sent& x : pipeline(s, call, retry, false))
          strata::set_op_error(
              *x.op, STRATA_ERR_UNAVAILABLE,
              "redis " + link_.endpoint.display + ": NOSCRIPT again after reloading the script");
      }
    }
    if (call.drop_after && s.ctx) drop(s, call.lost);
  }

  strata::Host host_;
  LinkSettings link_;
  int64_t default_ttl_ms_ = 0;
  int64_t tombstone_ttl_ms_ = 0;
  std::string prefix_;
  size_t depth_ = 1000;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> down_{false};
  std::atomic<uint64_t> epoch_{0};  // bumped on every dropped connection
  std::mutex sha_mu_;
  std::string sha_;

  strata::Metric reconnects_, connection_errors_, noscript_reloads_, roundtrips_, commands_,
      not_stored_;
};

}  // namespace
}  // namespace redis_l2

STRATA_MODULE(redis_l2::RedisL2, "redis_l2", "0.1.0",
              "Durable, versioned L2 tier on Redis (pipelined, pooled, Lua-guarded versions)",
              redis_l2::kOptions)
