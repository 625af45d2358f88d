// redis_l2: the durable, versioned L2 tier on Redis (hiredis 0.14, blocking API).
// A pool of connections, each behind its own mutex, serves concurrent execute() calls; a batch
// is pipelined in rounds of at most `pipeline_depth` commands. Versioned SET/DELETE go through
// a Lua script (EVALSHA) that refuses to replace a newer version, one call per run of up to
// `versioned_batch` consecutive versioned ops. Ops with the ABI 1.2 partition guard go as one
// WATCH / MULTI / EXEC transaction with their partitions' watermarks (guarded_tx.hpp). The
// memcached front's writes (REPLACE .. CAS) are atomic on the server, one command each (CAS: one
// WATCH / MULTI / EXEC on its key) (rich_ops.hpp). With `cluster` / `nodes` the instance
// routes each op to its slot's master (cluster_router.hpp), each master served by an instance
// of this class of its own. With `sentinels` the master is found and followed through Redis
// Sentinel (sentinel.hpp); `min_replicas_acked` adds a WAIT after each batch
// (replica_acks.hpp); STRATA_TIER_SCAN (`strata warm`) is one SCAN step plus the values it
// found (scan_op.hpp); see docs/redis_l2.md.
#include <strata/sdk.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "cluster_router.hpp"
#include "envelope.hpp"
#include "guarded_tx.hpp"
#include "redis_commands.hpp"
#include "redis_link.hpp"
#include "replica_acks.hpp"
#include "rich_ops.hpp"
#include "scan_op.hpp"
#include "sentinel.hpp"
#include "slot_guard.hpp"
#include "tag_index.hpp"

namespace redis_l2 {
namespace {

constexpr strata_option_def kOptions[] = {
    strata::option("address", STRATA_OPT_STRING, "127.0.0.1:6379",
                   "\"host:port\", a unix socket path starting with '/', or "
                   "\"redis://[user[:password]@]host[:port][/db]\" (URL parts win over the "
                   "username/password/db options); not together with sentinels"),
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
    strata::option("versioned_batch", STRATA_OPT_INT, "100",
                   "max consecutive versioned writes sent as one EVALSHA (a call also stops "
                   "taking ops at 1 MiB of values); 1 = one script call per op; on Redis "
                   "Cluster a call also holds only one hash slot's ops")
        .range(1, 1000),
    strata::option("guarded_batch", STRATA_OPT_INT, "5000",
                   "max consecutive partition-guarded writes (the default ordering) sent as one "
                   "MULTI/EXEC transaction with their watermarks (one also stops at 1 MiB of "
                   "values); each is atomic, and a batch split over several stays exactly once "
                   "(see docs/redis_l2.md)")
        .range(1, 100000),
    strata::option("cluster", STRATA_OPT_BOOL, "false",
                   "Redis Cluster: read the slot map from `address` (a seed node) and send each "
                   "key to the master of its slot (see docs/redis_l2.md, \"Cluster\")"),
    strata::option("nodes", STRATA_OPT_STRING_LIST, "",
                   "Redis Cluster seed nodes (\"host:port\"); not empty = cluster mode, with "
                   "`address` ignored"),
    strata::option("bus_stream", STRATA_OPT_STRING, "",
                   "Redis Stream of the invalidation bus: every applied write or delete is "
                   "announced there, one entry per atomic step, for the redis_bus fronts of "
                   "nodes with their own L1 (docs/bus.md); \"\" = off. Not prefixed with "
                   "key_prefix"),
    strata::option("bus_maxlen", STRATA_OPT_INT, "100000",
                   "the stream is trimmed to about this many entries (XADD MAXLEN ~); a node "
                   "that falls further behind flushes its L1")
        .range(1, 1000000000),
    strata::option("bus_node", STRATA_OPT_STRING, "",
                   "this writer's name in its bus entries; \"\" = hostname:pid"),
    // The tag index (tag_index.hpp; docs/redis_l2.md "Tags").
    strata::option("tag_prefix", STRATA_OPT_STRING, "strata:tag:",
                   "prefix of the Redis SET that holds a tag's keys (one per tag); not prefixed "
                   "with key_prefix"),
    strata::option("tag_chunk", STRATA_OPT_INT, "500",
                   "keys deleted per script call when a tag is invalidated (each call is atomic "
                   "and blocks Redis while it runs; a huge tag goes in many)")
        .range(1, 2000),
    // Sentinel and WAIT acks (sentinel.hpp, replica_acks.hpp; docs/redis_l2.md "Sentinel").
    strata::option("sentinels", STRATA_OPT_STRING_LIST, "",
                   "sentinels to ask for the master (\"host[:port]\", port 26379 by default), "
                   "instead of `address`; needs master_name"),
    strata::option("master_name", STRATA_OPT_STRING, "",
                   "the master's name in the sentinels' configuration (sentinel monitor NAME ...)"),
    strata::option("sentinel_username", STRATA_OPT_STRING, "",
                   "ACL user for AUTH to the sentinels; empty = default user"),
    strata::option("sentinel_password", STRATA_OPT_STRING, "",
                   "password for AUTH to the sentinels; empty = no AUTH")
        .secret(),
    strata::option("min_replicas_acked", STRATA_OPT_INT, "0",
                   "after a batch's writes, WAIT until this many replicas have them; fewer in "
                   "time = the batch is not acknowledged (retried, positions not committed); "
                   "0 = off")
        .range(0, 1000),
    strata::option("min_replicas_timeout", STRATA_OPT_DURATION, "1s",
                   "how long WAIT waits for min_replicas_acked replicas")
        .range(1, 600000),
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

// State of one execute() call.
struct Call {
  std::vector<strata_tier_op*> members;  // ops that need Redis, in batch order
  std::vector<Command> cmds;             // their commands, in batch order
  std::string lost;                      // why the connection went away mid-batch
  bool drop_after = false;               // an error reply said this connection is no longer usable
  bool asking = false;                   // Redis Cluster ASK: ASKING before every command
};

class RedisL2 final : public strata::TierModule, public ClusterNode {
 public:
  static constexpr uint32_t kTierFlags =
      STRATA_TIER_DURABLE | STRATA_TIER_VERSIONED | STRATA_TIER_WATERMARK | STRATA_TIER_RICH |
      STRATA_TIER_TAGS | STRATA_TIER_SCANNABLE;

  RedisL2(strata::Host host, const strata::Options& o) : host_(host) {
    o_address_ = o.str("address");
    link_.endpoint = o.list("sentinels").empty() ? parse_address(o_address_) : Endpoint();
    const Endpoint& ep = link_.endpoint;
    link_.username = ep.has_username ? ep.username : o.str("username");
    link_.password = ep.has_password ? ep.password : o.str("password");
    link_.db = ep.has_db ? ep.db : o.integer("db");
    link_.connect_timeout_ms = static_cast<int>(o.duration_ms("connect_timeout"));
    link_.command_timeout_ms = static_cast<int>(o.duration_ms("command_timeout"));
    enc_.default_ttl_ms = o.duration_ms("ttl");
    enc_.tombstone_ttl_ms = o.duration_ms("tombstone_ttl");
    enc_.prefix = o.str("key_prefix");
    enc_.script_batch = static_cast<size_t>(o.integer("versioned_batch"));
    enc_.guarded_batch = static_cast<size_t>(o.integer("guarded_batch"));
    enc_.bus.stream = o.str("bus_stream");
    enc_.bus.maxlen = o.integer("bus_maxlen");
    enc_.bus.node = o.str("bus_node").empty() ? default_bus_node() : o.str("bus_node");
    enc_.tag_prefix = o.str("tag_prefix");
    enc_.tag_chunk = static_cast<size_t>(o.integer("tag_chunk"));
    depth_ = static_cast<size_t>(o.integer("pipeline_depth"));
    slots_.resize(static_cast<size_t>(o.integer("connections")));
    for (auto& s : slots_) s = std::make_unique<Slot>();
    init_sentinel(o);
    acks_.replicas = o.integer("min_replicas_acked");
    acks_.timeout_ms = o.duration_ms("min_replicas_timeout");
    acks_.command_timeout_ms = link_.command_timeout_ms;
    ack_shortfalls_ = host_.counter(
        "strata_redis_replica_ack_shortfalls_total",
        "Batches not acknowledged: fewer than min_replicas_acked replicas confirmed their "
        "writes within min_replicas_timeout (the pipeline retries them)");
    if (acks_.replicas > 0 && cluster_options(o))
      throw strata::Error(STRATA_ERR_INVALID,
                          "min_replicas_acked is not supported with Redis Cluster yet");

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
    already_applied_ =
        host_.counter("strata_redis_watermark_skips_total",
                      "Guarded writes skipped because their offset is below the partition's "
                      "stored watermark (replays, zombie writers)");
    tag_deletes_ = host_.counter("strata_redis_tag_deletes_total",
                                 "Keys deleted by the invalidation of a tag they carried");
    std::vector<std::string> nodes = o.list("nodes");
    nodes.erase(std::remove(nodes.begin(), nodes.end(), std::string()), nodes.end());
    if (o.boolean("cluster") || !nodes.empty()) {
      enc_.cluster = true;
      // The stream is one key in one slot; the entry is written in the batch's own atomic step,
      // which Cluster keeps inside one slot.
      if (enc_.bus.on())
        throw strata::Error(STRATA_ERR_INVALID,
                            "bus_stream is not supported with a Redis Cluster L2 yet");
      cluster_ = ClusterRouter::create(
          host_, link_, enc_.prefix, nodes.empty() ? std::vector<std::string>{o_address_} : nodes,
          [this](const Endpoint& ep) { return std::make_unique<RedisL2>(*this, ep); });
    }
  }

  // One master of a cluster: the same settings, its own address and connection pool.
  RedisL2(const RedisL2& parent, const Endpoint& node)
      : host_(parent.host_), link_(parent.link_), enc_(parent.enc_), depth_(parent.depth_) {
    link_.endpoint = node;
    link_.db = 0;
    slots_.resize(parent.slots_.size());
    for (auto& s : slots_) s = std::make_unique<Slot>();
    reconnects_ = parent.reconnects_;
    connection_errors_ = parent.connection_errors_;
    noscript_reloads_ = parent.noscript_reloads_;
    roundtrips_ = parent.roundtrips_;
    commands_ = parent.commands_;
    not_stored_ = parent.not_stored_;
    already_applied_ = parent.already_applied_;
    tag_deletes_ = parent.tag_deletes_;
  }

  // Connects the pool. A server that is down is not fatal (the first execute reconnects);
  // credentials or a db the server refuses are.
  void start() override {
    if (cluster_) return cluster_->start();
    if (watch_) watch_->start();
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
    if (watch_) watch_->stop();
    if (cluster_) cluster_->stop();
    close();
  }

  void close() override {
    for (auto& s : slots_) {
      std::lock_guard<std::mutex> lk(s->mu);
      s->ctx.reset();
    }
  }

  void execute(strata_tier_op* ops, size_t n) override {
    if (n > 0 && ops[0].kind == STRATA_TIER_SCAN) return scan(ops, n);
    if (cluster_)
      cluster_->execute(ops, n);
    else
      execute_on(ops, n, false);
  }

  // The single-node path (also one cluster master's share of a batch).
  void execute_on(strata_tier_op* ops, size_t n, bool asking) override {
    std::unique_lock<std::mutex> lk;
    Slot& s = acquire(&lk);
    ensure_connected(s);
    SigpipeGuard guard;
    Call call;
    call.asking = asking;
    call.cmds = plan_commands(enc_, ops, n, &call.members);
    for (size_t begin = 0, end; begin < call.cmds.size(); begin = end) {
      end = round_end(call.cmds, begin);
      if (!s.ctx) {  // an earlier round lost the connection: the rest was not sent
        for (size_t i = begin; i < call.cmds.size(); ++i)
          fail_all(call, call.cmds[i], STRATA_ERR_UNAVAILABLE, call.lost + " (not sent)");
        break;
      }
      if (call.cmds[begin].guarded)
        guarded(s, call, call.cmds[begin]);
      else if (call.cmds[begin].tag_drop)
        tag_drop(s, call, call.cmds[begin]);
      else if (call.cmds[begin].watched)
        watched(s, call, call.cmds[begin]);
      else
        round(s, call, begin, end);
    }
    if (enc_.bus.on()) announce_plain(s, call);
    // After the bus entry: WAIT covers it too.
    if (acks_.replicas > 0) require_acks(s, call);
  }

  void health() override {
    if (cluster_)
      cluster_->health();
    else
      ping();
  }

  void ping() override {
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

  uint64_t drops() const override { return epoch_.load(std::memory_order_acquire); }

 private:
  // STRATA_TIER_SCAN (scan_op.hpp): a batch that starts with one holds only SCANs (strata.h).
  void scan(strata_tier_op* ops, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      strata_tier_op& op = ops[i];
      if (op.kind != STRATA_TIER_SCAN) {
        strata::set_op_error(op, STRATA_ERR_INVALID, "a SCAN comes alone in its batch");
      } else if (cluster_) {
        strata::set_op_error(op, STRATA_ERR_INVALID,
                             "SCAN is not supported with Redis Cluster yet; warm from a single "
                             "Redis or a Sentinel L2");
      } else {
        std::unique_lock<std::mutex> lk;
        Slot& s = acquire(&lk);
        ensure_connected(s);
        ScanOutcome out = run_scan(s.ctx.get(), enc_, link_, host_, op);
        roundtrips_.add(2);
        if (out.lost) drop(s, out.error);
      }
    }
  }

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
    Opened o = resolver_ ? resolver_->open(link_) : open_link(link_);
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
      sha_ = o.scripts;
    }
    if (s.ever_connected) reconnects_.add();
    s.ever_connected = true;
    if (down_.exchange(false))
      host_.info("redis " + link_.endpoint.display + " is reachable again");
    return true;
  }

  void drop(Slot& s, const std::string& why) {
    s.ctx.reset();
    if (resolver_) resolver_->forget();  // READONLY, I/O error: ask the sentinels again
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    connection_errors_.add();
    if (!down_.exchange(true)) host_.warn(why + "; connection dropped, will reconnect");
  }

  Scripts sha() {
    std::lock_guard<std::mutex> lk(sha_mu_);
    return sha_;
  }

  // A round ends after pipeline_depth commands or once its payload passes kRoundBytes (at least
  // one command), so a batch of large values does not build one huge output buffer.
  // A guarded run or a CAS is a transaction of its own: it ends a round and forms one alone.
  size_t round_end(const std::vector<Command>& cmds, size_t begin) const {
    if (cmds[begin].apart()) return begin + 1;
    size_t end = begin, bytes = 0;
    while (end < cmds.size() && !cmds[end].apart() && end - begin < depth_ &&
           (end == begin || bytes < kRoundBytes)) {
      bytes += cmds[end].bytes;
      ++end;
    }
    return end;
  }

  void fail_all(Call& call, const Command& cmd, strata_status st, const std::string& msg) {
    for (size_t i = 0; i < cmd.count; ++i)
      strata::set_op_error(*call.members[cmd.first + i], st, msg);
  }

  // An error reply for `op`; remembers a reply that retires the connection.
  void fail(Call& call, strata_tier_op& op, std::string_view msg) {
    bool drop_conn = false;
    strata_status st = classify_error_reply(msg, &drop_conn);
    strata::set_op_error(op, st, "redis " + link_.endpoint.display + ": " + std::string(msg));
    if (drop_conn && !call.drop_after) {
      call.drop_after = true;
      call.lost = op.error;
    }
  }

  // Status of one versioned op from its element of the script's reply.
  void versioned_result(Call& call, strata_tier_op& op, const redisReply* r) {
    if (r->type == REDIS_REPLY_ERROR) {
      fail(call, op, std::string_view(r->str, r->len));
    } else if (r->type != REDIS_REPLY_INTEGER) {
      strata::set_op_error(op, STRATA_ERR_INTERNAL, "unexpected reply to EVALSHA");
    } else if (r->integer < 0) {
      not_stored_.add();
      strata::set_op_error(
          op, STRATA_NOT_STORED,
          "version " + std::to_string(op.version) + " is older than the stored version");
    } else if (r->integer == 0) {
      strata::set_op_error(op, STRATA_NOT_FOUND, "no value to delete (tombstone written)");
    }
  }

  // The bus entry of the writes that went without an atomic step (plain and front writes):
  // XADDed after their replies, before execute() returns. Until it is in, they are not
  // acknowledged: when it fails they answer UNAVAILABLE (written, not announced) and the
  // caller retries them, which writes and announces them again (docs/bus.md).
  void announce_plain(Slot& s, Call& call) {
    std::vector<strata_tier_op*> ops;
    std::vector<std::string_view> keys;
    for (const Command& cmd : call.cmds) {
      if (cmd.guarded || cmd.versioned) continue;  // announced inside their own step
      for (size_t i = 0; i < cmd.count; ++i) {
        strata_tier_op* op = call.members[cmd.first + i];
        bool applied = op->status == STRATA_OK ||
                       (op->kind == STRATA_TIER_DELETE && op->status == STRATA_NOT_FOUND);
        if (!announces(op->kind) || !applied) continue;
        ops.push_back(op);
        keys.emplace_back(op->key.data, op->key.len);
      }
    }
    if (keys.empty()) return;
    std::string err = call.lost;
    if (s.ctx) {
      bool io = false;
      err = bus_.send(s.ctx.get(), keys, "redis " + link_.endpoint.display, &io);
      if (io) drop(s, err);
      roundtrips_.add();
      commands_.add();
    }
    if (err.empty()) return;
    for (strata_tier_op* op : ops)
      strata::set_op_error(*op, STRATA_ERR_UNAVAILABLE,
                           "written, but not announced on the bus (retry): " + err);
  }

  // Sets the statuses of cmd's ops from its reply. Returns true for NOSCRIPT (the command must
  // be retried; none of its ops ran).
  bool interpret(Call& call, const Command& cmd, const redisReply* r, const redisReply* pttl) {
    strata_tier_op& first = *call.members[cmd.first];
    if (r->type == REDIS_REPLY_ERROR) {
      std::string_view msg(r->str, r->len);
      if ((cmd.versioned || cmd.rich || cmd.slot_guarded) && msg.substr(0, 8) == "NOSCRIPT")
        return true;
      for (size_t i = 0; i < cmd.count; ++i) fail(call, *call.members[cmd.first + i], msg);
      return false;
    }
    if (cmd.rich) {
      rich_result(host_, first, r);
      return false;
    }
    if (cmd.slot_guarded) {
      if (r->type != REDIS_REPLY_ARRAY || r->elements != cmd.count) {
        fail_all(call, cmd, STRATA_ERR_INTERNAL, "unexpected reply to the slot guard");
        return false;
      }
      already_applied_.add(static_cast<double>(slot_guard_results(
          cmd, call.members.data(), r,
          [&](strata_tier_op& op, std::string_view msg) { fail(call, op, msg); })));
      return false;
    }
    if (cmd.versioned) {
      const size_t bus = enc_.bus.on() ? 1 : 0;
      if (r->type != REDIS_REPLY_ARRAY || r->elements != cmd.count + bus) {
        fail_all(call, cmd, STRATA_ERR_INTERNAL, "unexpected reply to EVALSHA");
        return false;
      }
      for (size_t i = 0; i < cmd.count; ++i)
        versioned_result(call, *call.members[cmd.first + i], r->element[i]);
      if (bus) bus_.script_reply(r->element[cmd.count], "redis " + link_.endpoint.display);
      return false;
    }
    switch (first.kind) {
      case STRATA_TIER_WATERMARK_GET:
        if (r->type == REDIS_REPLY_STRING)
          host_.set_value(first, r->str, r->len);
        else if (r->type == REDIS_REPLY_NIL)
          first.status = STRATA_NOT_FOUND;
        else
          strata::set_op_error(first, STRATA_ERR_INTERNAL, "unexpected reply to GET");
        break;
      case STRATA_TIER_GET:
        if (r->type == REDIS_REPLY_STRING) {
          Unwrapped v = unwrap(r->str, r->len);  // envelope.hpp: client flags
          host_.set_value(first, v.payload.data(), v.payload.size());
          first.result_flags = v.flags;
          strata::set_result_ttl(first, remaining_ttl(pttl));
        } else if (r->type == REDIS_REPLY_NIL) {
          first.status = STRATA_NOT_FOUND;
        } else {
          strata::set_op_error(first, STRATA_ERR_INTERNAL, "unexpected reply to GET");
        }
        break;
      case STRATA_TIER_ADD:
        if (r->type == REDIS_REPLY_NIL)
          strata::set_op_error(first, STRATA_NOT_STORED, "key exists");
        break;
      case STRATA_TIER_DELETE:
        if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) first.status = STRATA_NOT_FOUND;
        break;
      default:
        break;
    }
    return false;
  }

  // Sends the commands `idx` (indices into call.cmds) as one pipeline and reads every reply.
  // Ops whose replies were not read get ERR_UNAVAILABLE and the connection is dropped. Returns
  // the commands that got NOSCRIPT.
  std::vector<size_t> pipeline(Slot& s, Call& call, const std::vector<size_t>& idx) {
    std::vector<size_t> noscript;
    if (idx.empty()) return noscript;
    redisContext* c = s.ctx.get();
    Scripts script = sha();
    size_t sent = 0;
    for (size_t i : idx) {
      // ASK: ASKING before the command (its +OK is read with the command's). A GET's PTTL
      // goes without it and hears MOVED: such a GET reports its TTL as unknown (0).
      if (call.asking) redisAppendCommand(c, "ASKING");
      append_command(c, enc_, call.cmds[i], call.members.data(), script);
      sent += reply_count(call.cmds[i], call.members.data());
    }
    roundtrips_.add();
    commands_.add(static_cast<double>(sent));
    for (size_t n = 0; n < idx.size(); ++n) {
      const Command& cmd = call.cmds[idx[n]];
      Reply r[2];
      size_t want = reply_count(cmd, call.members.data());
      for (size_t k = 0; k < want + (call.asking ? 1 : 0); ++k) {
        void* raw = nullptr;
        if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
          call.lost = io_error(c, link_);
          for (size_t j = n; j < idx.size(); ++j)
            fail_all(call, call.cmds[idx[j]], STRATA_ERR_UNAVAILABLE,
                     call.lost + " (reply not read)");
          drop(s, call.lost);
          return {};
        }
        if (call.asking && k == 0)
          freeReplyObject(raw);  // ASKING's +OK
        else
          r[call.asking ? k - 1 : k].reset(static_cast<redisReply*>(raw));
      }
      if (interpret(call, cmd, r[0].get(), r[1].get())) noscript.push_back(idx[n]);
    }
    return noscript;
  }

  // min_replicas_acked: the batch's writes count once enough replicas have them.
  void require_acks(Slot& s, Call& call) {
    AckOutcome out = require_replica_acks(s.ctx.get(), enc_, acks_, call.members.data(),
                                          call.members.size(), "redis " + link_.endpoint.display);
    if (out.short_of) ack_shortfalls_.add();
    if (out.lost && s.ctx) drop(s, out.error);
  }

  // Sentinel mode: the master's address comes from `sentinels` (sentinel.hpp); `address` must
  // then stay unset, and username/password/db apply to the master.
  void init_sentinel(const strata::Options& o) {
    SentinelSettings ss;
    if (!sentinel_options(o, link_, &ss)) return;
    link_.endpoint.display = "master \"" + ss.master_name + "\"";
    link_.username = o.str("username");
    link_.password = o.str("password");
    link_.db = o.integer("db");
    resolver_ = std::make_unique<MasterResolver>(ss);
    switches_ = host_.counter("strata_redis_sentinel_switches_total",
                              "New master addresses learnt from the sentinels' +switch-master");
    watch_ = std::make_unique<SwitchWatch>(
        ss, [this](const MasterAddress& a, const std::string& how) { on_master(a, how); },
        [this](const std::string& m) { host_.warn(m); });
  }

  // The watch heard of a master: a new one retires every pooled connection (epoch).
  void on_master(const MasterAddress& a, const std::string& how) {
    if (!resolver_->adopt(a)) return;
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    MasterAddress before = resolver_->connected();
    if (before.empty() || before == a) return;  // not a switch of what we were connected to
    switches_.add();
    host_.warn("redis " + link_.endpoint.display + " moved from " + before.str() + " to " +
               a.str() + " (" + how + "); reconnecting");
  }

  // A run of guarded writes: one watermark transaction (guarded_tx.hpp).
  void guarded(Slot& s, Call& call, const Command& cmd) {
    TxOutcome out = run_guarded_tx(s.ctx.get(), enc_, call.members.data() + cmd.first, cmd.count,
                                   "redis " + link_.endpoint.display);
    roundtrips_.add(static_cast<double>(1 + out.attempts));
    commands_.add(static_cast<double>(cmd.count));
    already_applied_.add(static_cast<double>(out.skipped));
    if (out.announced) bus_.added();
    if (!out.bus_error.empty()) bus_.failed(out.bus_error + "; the writes stand");
    if (out.lost) {
      call.lost = out.error;
      drop(s, out.error);
    } else if (out.drop) {
      drop(s, "an error reply retired the connection");
    }
  }

  // An INVALIDATE_TAG: chunked script calls until the tag is empty (tag_index.hpp). Each
  // call adds its own bus entry, so announce_plain() leaves the op alone.
  void tag_drop(Slot& s, Call& call, const Command& cmd) {
    TagDropOutcome out = run_tag_drop(s.ctx.get(), enc_, *call.members[cmd.first], host_,
                                      "redis " + link_.endpoint.display);
    roundtrips_.add(static_cast<double>(out.calls));
    commands_.add(static_cast<double>(out.calls));
    tag_deletes_.add(static_cast<double>(out.deleted));
    for (size_t i = 0; i < out.announced; ++i) bus_.added();
    if (out.lost) {
      call.lost = out.error;
      drop(s, out.error);
    } else if (out.drop) {
      drop(s, "an error reply retired the connection");
    }
  }

  // A CAS: one optimistic transaction on the value key (rich_ops.hpp).
  void watched(Slot& s, Call& call, const Command& cmd) {
    CasOutcome out =
        run_cas(s.ctx.get(), enc_, *call.members[cmd.first], "redis " + link_.endpoint.display);
    roundtrips_.add(static_cast<double>(out.roundtrips));
    commands_.add(1);
    if (out.lost) {
      call.lost = out.error;
      drop(s, out.error);
    } else if (out.drop) {
      drop(s, "an error reply retired the connection");
    }
  }

  // One round: commands [begin, end) on one connection, plus a NOSCRIPT retry.
  void round(Slot& s, Call& call, size_t begin, size_t end) {
    std::vector<size_t> idx;
    idx.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) idx.push_back(i);
    std::vector<size_t> retry = pipeline(s, call, idx);
    if (!retry.empty() && s.ctx) {
      // The script cache was flushed (SCRIPT FLUSH, or a failover to a replica without it):
      // load it again and replay exactly the calls that were refused; none of their ops ran.
      noscript_reloads_.add();
      std::string err;
      Scripts fresh = load_scripts(s.ctx.get(), link_, &err);
      if (fresh.empty()) {
        for (size_t i : retry) fail_all(call, call.cmds[i], STRATA_ERR_UNAVAILABLE, err);
        if (s.ctx->err) {
          call.lost = err;
          drop(s, err);
        }
      } else {
        {
          std::lock_guard<std::mutex> lk(sha_mu_);
          sha_ = fresh;
        }
        for (size_t i : pipeline(s, call, retry))
          fail_all(
              call, call.cmds[i], STRATA_ERR_UNAVAILABLE,
              "redis " + link_.endpoint.display + ": NOSCRIPT again after reloading the script");
      }
    }
    if (call.drop_after && s.ctx) drop(s, call.lost);
  }

  strata::Host host_;
  LinkSettings link_;
  Encoding enc_;
  size_t depth_ = 1000;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> down_{false};
  std::atomic<uint64_t> epoch_{0};  // bumped on every dropped connection
  std::mutex sha_mu_;
  Scripts sha_;
  BusReport bus_{host_, enc_.bus};

  strata::Metric reconnects_, connection_errors_, noscript_reloads_, roundtrips_, commands_,
      not_stored_, already_applied_, tag_deletes_;
  std::string o_address_;                   // the `address` option (the cluster's seed)
  std::unique_ptr<ClusterRouter> cluster_;  // cluster mode: routes to the nodes below it

  AckSettings acks_;
  strata::Metric switches_, ack_shortfalls_;
  std::unique_ptr<MasterResolver> resolver_;  // sentinel mode only
  std::unique_ptr<SwitchWatch> watch_;        // sentinel mode only; last: its thread uses the rest
};

}  // namespace
}  // namespace redis_l2

STRATA_MODULE(
    redis_l2::RedisL2, "redis_l2", "0.1.0",
    "Durable L2 tier on Redis (pipelined, pooled; partition watermarks or per-key versions, "
    "guarded in Lua)",
    redis_l2::kOptions)
