// memcached_l1: the volatile L1 tier on memcached (libmemcached 1.1.4), loaded by the host as
// a `tier` module. The host's tier chain calls execute() with batches of get/set/add/delete
// from several threads; this file maps them onto libmemcached and reports a status per op.
//
// Write pipelining (why two handles per caller): libmemcached has no public way to send many
// storage commands in one round AND read each command's reply. BUFFER_REQUESTS, NOREPLY and
// the binary protocol's quiet opcodes all send in one round, but libmemcached reads the
// replies of buffered/quiet commands only to throw them away (memcached_purge, and
// binary_read_one_response skips SETQ/ADDQ errors). So:
//   - SET runs go through a BUFFER_REQUESTS handle: every set of the run is written into the
//     socket buffers, one memcached_flush_buffers() sends them, and one "barrier" get per
//     server (memcached_mget_by_key, which first drains every pending reply on that
//     connection) confirms that the server processed them before execute() returns. A set's
//     status is therefore OK once its server answered the barrier, UNAVAILABLE when the
//     connection failed; a per-item SERVER_ERROR (e.g. over the server's -I limit) is not
//     visible, and memcached then drops the old item, so no stale value survives.
//   - ADD and DELETE need their exact reply (NOT_STORED keeps a late refill from overwriting a
//     newer write; NOT_FOUND tells an absent key): they go through a normal handle, one round
//     trip each, after the preceding SET run was confirmed, so ops on a key keep array order.
//   - A run of GETs is one memcached_mget + memcached_fetch_result loop.
//   - The front's writes (REPLACE .. CAS, rich_ops.hpp) go one at a time like ADD and DELETE.
//   - FLUSH (the invalidation bus, when a node cannot know what it missed) is flush_all on
//     every server of the ring: memcached cannot flush only the keys under key_prefix.
#include <libmemcached-1.0/memcached.h>
#include <strata/sdk.hpp>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connections.hpp"
#include "rich_ops.hpp"
#include "server_gate.hpp"

namespace memcached_l1 {

constexpr int64_t kMemcachedMaxKey = 250;        // KEY_MAX_LENGTH of the text protocol
constexpr int64_t kRelativeExpiryMax = 2592000;  // 30 days: larger exptimes are unix times
constexpr const char* kBarrierKey = "strata.l1.barrier";

static constexpr strata_option_def kOptions[] = {
    strata::option("servers", STRATA_OPT_STRING_LIST, "127.0.0.1:11211",
                   "memcached servers as host:port[:weight]"),
    strata::option("ketama", STRATA_OPT_BOOL, "true",
                   "consistent hashing (libmemcached weighted ketama); false = modula"),
    strata::option("connect_timeout", STRATA_OPT_DURATION, "100ms", "TCP connect timeout")
        .range(1, 60000),
    strata::option("io_timeout", STRATA_OPT_DURATION, "100ms",
                   "poll/send/receive timeout of one request")
        .range(1, 60000),
    strata::option("ttl", STRATA_OPT_DURATION, "5m",
                   "TTL when an op gives none (0 = no expiry); rounded up to seconds")
        .range(0, 31536000000.0),
    strata::option("key_prefix", STRATA_OPT_STRING, "", "prepended to every key"),
    strata::option("max_value_size", STRATA_OPT_SIZE, "1MiB",
                   "larger values are refused (ERR_TOO_LARGE) without being sent")
        .range(1, 1073741824.0),
    strata::option("eject_failed", STRATA_OPT_BOOL, "true",
                   "a failed server is closed: its keys fail at once (never moved to other "
                   "servers) until it answers again, flushed if it missed writes"),
    strata::option("server_failure_limit", STRATA_OPT_INT, "2",
                   "consecutive failures before a server counts as failed")
        .range(1, 1000),
    strata::option("retry_timeout", STRATA_OPT_DURATION, "2s",
                   "a failed server is tried again after this (whole seconds)")
        .range(1000, 3600000),
    strata::option("state_file", STRATA_OPT_STRING, "",
                   "file that keeps, across a crash, which servers missed writes and must be "
                   "flushed before they serve again (rewritten only when that set changes); "
                   "\"\" = kept in memory only. Needs eject_failed"),
    strata::option("username", STRATA_OPT_STRING, "", "SASL user (switches to binary protocol)"),
    strata::option("password", STRATA_OPT_STRING, "", "SASL password").secret(),
    strata::option("connections", STRATA_OPT_INT, "4",
                   "connection sets for concurrent callers (each: one per server, twice)")
        .range(1, 256),
};

namespace {

std::string server_of(memcached_st* m, std::string_view key) {
  memcached_return_t rc;
  const memcached_instance_st* in = memcached_server_by_key(m, key.data(), key.size(), &rc);
  if (!in) return "(no server)";
  return std::string(memcached_server_name(in)) + ":" + std::to_string(memcached_server_port(in));
}

// A get of a key that is never written, routed to `group_key`'s server. libmemcached first
// reads every pending reply on that connection, so success also means every earlier buffered
// request there was processed. Returns "" or why it failed.
std::string barrier_get(memcached_st* m, const std::string& group_key) {
  const char* k = kBarrierKey;
  size_t klen = std::strlen(kBarrierKey);
  memcached_return_t rc =
      memcached_mget_by_key(m, group_key.data(), group_key.size(), &k, &klen, 1);
  if (memcached_failed(rc)) return last_error(m);
  memcached_result_st res;
  memcached_result_create(m, &res);
  memcached_return_t frc = MEMCACHED_SUCCESS;
  while (memcached_fetch_result(m, &res, &frc)) {
  }
  memcached_result_free(&res);
  if (frc == MEMCACHED_END || frc == MEMCACHED_NOTFOUND || frc == MEMCACHED_SUCCESS) return "";
  return last_error(m);
}

}  // namespace

// Why a key cannot go to memcached, or "" when it can. Checked before anything is sent.
std::string key_problem(std::string_view prefix, std::string_view key) {
  if (key.empty()) return "key is empty";
  int64_t len = int64_t(prefix.size() + key.size());
  if (len > kMemcachedMaxKey)
    return "key is " + std::to_string(len) + " bytes with prefix; memcached allows at most " +
           std::to_string(kMemcachedMaxKey);
  for (size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c <= 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", c);
      return std::string("key has ") + (c == ' ' ? "a space" : "whitespace or a control byte") +
             " (" + hex + ") at byte " + std::to_string(i) + "; memcached keys allow neither";
    }
  }
  return "";
}

class MemcachedL1 : public strata::TierModule {
 public:
  static constexpr uint32_t kTierFlags =
      STRATA_TIER_RICH | STRATA_TIER_FLUSHABLE;  // volatile, unversioned

  MemcachedL1(strata::Host host, const strata::Options& o) : host_(host) {
    for (const auto& text : o.list("servers")) {
      ServerAddress a;
      std::string err;
      if (!parse_server(text, &a, &err)) throw strata::Error(STRATA_ERR_INVALID, err);
      settings_.servers.push_back(a);
    }
    if (settings_.servers.empty())
      throw strata::Error(STRATA_ERR_INVALID, "servers is empty; give at least one host:port");
    settings_.ketama = o.boolean("ketama");
    settings_.connect_timeout_ms = o.duration_ms("connect_timeout");
    settings_.io_timeout_ms = o.duration_ms("io_timeout");
    settings_.eject_failed = o.boolean("eject_failed");
    settings_.server_failure_limit = o.integer("server_failure_limit");
    settings_.retry_timeout_ms = o.duration_ms("retry_timeout");
    settings_.state_file = o.str("state_file");
    if (!settings_.state_file.empty() && !settings_.eject_failed)
      throw strata::Error(STRATA_ERR_INVALID,
                          "state_file needs eject_failed = true (it records the server gate's "
                          "servers that missed writes)");
    settings_.username = o.str("username");
    settings_.password = o.str("password");
    if (settings_.username.empty() && !settings_.password.empty())
      throw strata::Error(STRATA_ERR_INVALID, "password is set but username is empty");
    default_ttl_ms_ = o.duration_ms("ttl");
    prefix_ = o.str("key_prefix");
    if (!prefix_.empty()) {
      std::string p = key_problem("", prefix_);
      if (!p.empty()) throw strata::Error(STRATA_ERR_INVALID, "key_prefix: " + p);
    }
    max_value_ = o.size_bytes("max_value_size");
    connections_ = size_t(o.integer("connections"));
    flushes_ = host_.counter("strata_memcached_write_flushes_total",
                             "pipelined SET rounds sent (one flush each)");
    bad_keys_ = host_.counter("strata_memcached_rejected_total", "ops refused before sending",
                              "reason=\"bad_key\"");
    too_large_ = host_.counter("strata_memcached_rejected_total", "ops refused before sending",
                               "reason=\"too_large\"");
  }

  void start() override {
    pool_ = std::make_unique<SlotPool>(settings_, connections_);
    if (settings_.eject_failed) {
      gate_ = std::make_unique<ServerGate>(settings_, host_);
      gate_->start();
    }
    for (const auto& a : settings_.servers)
      probes_.push_back(Probe{a.str(), make_handle(settings_, {a}, false)});
  }

  void execute(strata_tier_op* ops, size_t n) override {
    if (!pool_) throw strata::Error(STRATA_ERR_UNAVAILABLE, "memcached_l1 is not started");
    std::vector<std::string> keys(n);
    std::vector<bool> ready(n, false);
    for (size_t i = 0; i < n; ++i) ready[i] = admit(ops[i], &keys[i]);

    auto lease = pool_->acquire();
    // Runs of the same kind keep array order between kinds; see the file comment.
    size_t i = 0;
    while (i < n) {
      if (!ready[i]) {
        ++i;
        continue;
      }
      strata_tier_op_kind kind = ops[i].kind;
      std::vector<size_t> run;
      size_t j = i;
      for (; j < n; ++j) {
        if (!ready[j]) continue;
        if (ops[j].kind != kind || (kind != STRATA_TIER_GET && kind != STRATA_TIER_SET)) break;
        run.push_back(j);
      }
      if (run.empty()) {  // ADD or DELETE: one at a time
        run_single(*lease, ops[i], keys[i]);
        j = i + 1;
      } else if (kind == STRATA_TIER_GET) {
        run_gets(*lease, ops, keys, run);
      } else {
        // libmemcached asserts (instead of failing) when it purges replies of a long buffered
        // run mid-command; bounded runs keep each flush well inside its limits.
        for (size_t k = 0; k < run.size(); k += kMaxSetRun) {
          std::vector<size_t> part(run.begin() + k,
                                   run.begin() + std::min(run.size(), k + kMaxSetRun));
          run_sets(*lease, ops, keys, part);
        }
      }
      i = j;
    }
  }

  static constexpr size_t kMaxSetRun = 200;

  void stop(bool /*drain*/) override {
    if (gate_) gate_->stop();
  }

  void health() override {
    std::string why;
    for (auto& p : probes_) {
      std::lock_guard<std::mutex> lock(probe_mu_);
      // memcached_version() answers from a cache once a version is known; a get really asks.
      std::string e = barrier_get(p.handle.get(), kBarrierKey);
      if (e.empty()) return;
      why += (why.empty() ? "" : "; ") + p.name + ": " + e;
    }
    throw strata::Error(STRATA_ERR_UNAVAILABLE, "no memcached server answered (" + why + ")");
  }

 private:
  struct Probe {
    std::string name;
    Memc handle;
  };

  // Validates one op; fills its full key. False when the op already has its final status.
  bool admit(strata_tier_op& op, std::string* key) {
    op.status = STRATA_OK;
    op.error[0] = '\0';
    op.result_flags = 0;
    if (op.kind == STRATA_TIER_FLUSH) return true;  // no key
    std::string_view k(op.key.data ? op.key.data : "", op.key.data ? op.key.len : 0);
    std::string problem = key_problem(prefix_, k);
    if (!problem.empty()) {
      bad_keys_.add();
      strata::set_op_error(op, STRATA_ERR_BAD_KEY, problem);
      return false;
    }
    if (op.kind != STRATA_TIER_GET && op.kind != STRATA_TIER_SET && op.kind != STRATA_TIER_ADD &&
        op.kind != STRATA_TIER_DELETE && !is_rich(op.kind)) {
      strata::set_op_error(op, STRATA_ERR_INVALID, "unknown op kind " + std::to_string(op.kind));
      return false;
    }
    bool stores = op.kind == STRATA_TIER_SET || op.kind == STRATA_TIER_ADD ||
                  op.kind == STRATA_TIER_REPLACE || op.kind == STRATA_TIER_APPEND ||
                  op.kind == STRATA_TIER_PREPEND || op.kind == STRATA_TIER_CAS;
    if (stores && int64_t(op.value.len) > max_value_) {
      too_large_.add();
      strata::set_op_error(op, STRATA_ERR_TOO_LARGE,
                           "value is " + std::to_string(op.value.len) +
                               " bytes; max_value_size is " + std::to_string(max_value_));
      return false;
    }
    key->reserve(prefix_.size() + k.size());
    key->assign(prefix_).append(k);
    return true;
  }

  // memcached exptime for an op's ttl_ms (see strata_tier_op): seconds, rounded up; beyond
  // 30 days memcached reads the number as a unix time, so send now + ttl instead.
  time_t expiration(int64_t ttl_ms) const {
    if (ttl_ms == 0) ttl_ms = default_ttl_ms_;
    if (ttl_ms <= 0) return 0;
    int64_t s = (ttl_ms + 999) / 1000;
    if (s > kRelativeExpiryMax) s += host_.now_unix_ms() / 1000;
    return time_t(s);
  }

  void fail(strata_tier_op& op, strata_status st, const std::string& server,
            const std::string& msg) {
    strata::set_op_error(op, st, "memcached " + server + ": " + msg);
    if (st == STRATA_ERR_UNAVAILABLE) {
      server_failed(server, msg);
      if (gate_) gate_->failed(server, op.kind != STRATA_TIER_GET);
    }
  }

  // False (with the op failed at once) when the gate keeps requests from `server`.
  bool admitted(strata_tier_op& op, const std::string& server) {
    if (!gate_ || gate_->admit(server, op.kind != STRATA_TIER_GET)) return true;
    // BREAKER_OPEN: this server's breaker (the gate) is open, the tier is not down, so the
    // host's breaker must not count it; with every server closed the tier is down.
    strata::set_op_error(op, gate_->all_closed() ? STRATA_ERR_UNAVAILABLE : STRATA_ERR_BREAKER_OPEN,
                         "memcached " + server + ": " + gate_->closed_reason(server));
    return false;
  }

  // Counts a server failure and says so at WARN, at most once per retry_timeout per server.
  void server_failed(const std::string& server, const std::string& msg) {
    std::lock_guard<std::mutex> lock(fail_mu_);
    auto it = failures_.find(server);
    if (it == failures_.end()) {
      std::string labels = "server=\"" + server + "\"";
      it = failures_
               .emplace(server, Failure{host_.counter("strata_memcached_server_errors_total",
                                                      "failed requests per memcached server",
                                                      labels.c_str()),
                                        0})
               .first;
    }
    it->second.errors.add();
    uint64_t now = host_.monotonic_ns();
    uint64_t quiet = uint64_t(settings_.retry_timeout_ms) * 1000000;
    if (it->second.last_warn_ns != 0 && now - it->second.last_warn_ns < quiet) return;
    it->second.last_warn_ns = now;
    std::string what =
        settings_.eject_failed
            ? "after " + std::to_string(settings_.server_failure_limit) +
                  " failures within retry_timeout it is closed (its keys fail at once "
                  "and stay on it)"
            : "every request for its keys waits for its timeout until it answers";
    host_.warn("memcached server " + server + " failed: " + msg + "; " + what);
  }

  // flush_all on every server of the ring, each through its own one-server handle. A server
  // the gate has closed is not asked: the flush counts as a write it missed, so the gate
  // flushes it before it opens it again. Any other failure fails the op (the caller retries).
  void run_flush(strata_tier_op& op) {
    std::string why;
    std::lock_guard<std::mutex> lock(probe_mu_);
    for (auto& p : probes_) {
      if (gate_ && !gate_->admit(p.name, true)) continue;
      memcached_return_t rc = memcached_flush(p.handle.get(), 0);
      if (memcached_success(rc)) continue;
      if (gate_) gate_->failed(p.name, true);
      why += (why.empty() ? "" : "; ") + p.name + ": " + last_error(p.handle.get());
    }
    if (!why.empty())
      strata::set_op_error(op, STRATA_ERR_UNAVAILABLE, "memcached flush_all: " + why);
  }

  void run_single(Slot& slot, strata_tier_op& op, const std::string& key) {
    memcached_st* m = slot.direct.get();
    if (op.kind == STRATA_TIER_FLUSH) return run_flush(op);
    std::string server = server_of(m, key);
    if (!admitted(op, server)) return;
    if (is_rich(op.kind)) {
      RichOutcome o = run_rich(m, key, op, expiration(op.ttl_ms));
      if (o.status == STRATA_OK || o.status == STRATA_NOT_FOUND || o.status == STRATA_NOT_STORED ||
          o.status == STRATA_ERR_INVALID) {
        if (o.status != STRATA_OK) strata::set_op_error(op, o.status, o.message);
        if (o.has_value) host_.set_value(op, o.value.data(), o.value.size());
        return;
      }
      fail(op, o.status, server, o.message);
      return;
    }
    memcached_return_t rc;
    if (op.kind == STRATA_TIER_ADD) {
      rc = memcached_add(m, key.data(), key.size(), op.value.data, op.value.len,
                         expiration(op.ttl_ms), op.flags);
    } else {
      rc = memcached_delete(m, key.data(), key.size(), 0);
    }
    strata_status st = status_of(rc);
    if (st == STRATA_OK || st == STRATA_NOT_FOUND || st == STRATA_NOT_STORED) {
      op.status = st;
      return;
    }
    fail(op, st, server, last_error(m));
  }

  void run_sets(Slot& slot, strata_tier_op* ops, const std::vector<std::string>& keys,
                const std::vector<size_t>& run) {
    memcached_st* m = slot.pipelined.get();
    // Per server of the run (a handful: a linear scan by the instance libmemcached routes the
    // key to), its name once, not per op.
    struct Sent {
      const memcached_instance_st* instance;
      std::string server;
      std::string group_key;  // any key of this server: routes the barrier
      std::vector<size_t> ops;
    };
    std::vector<Sent> by_server;
    size_t sent_ops = 0;
    for (size_t idx : run) {
      strata_tier_op& op = ops[idx];
      const std::string& key = keys[idx];
      memcached_return_t src;
      const memcached_instance_st* in = memcached_server_by_key(m, key.data(), key.size(), &src);
      Sent* s = nullptr;
      for (Sent& e : by_server)
        if (e.instance == in) s = &e;
      if (!s) s = &by_server.emplace_back(Sent{in, server_of(m, key), key, {}});
      if (gate_ && gate_->any_closed() && !admitted(op, s->server)) continue;
      memcached_return_t rc = memcached_set(m, key.data(), key.size(), op.value.data, op.value.len,
                                            expiration(op.ttl_ms), op.flags);
      if (status_of(rc) != STRATA_OK) {
        fail(op, status_of(rc), s->server, last_error(m));
        continue;
      }
      s->ops.push_back(idx);
      ++sent_ops;
    }
    if (sent_ops == 0) return;
    flushes_.add();
    memcached_return_t frc = memcached_flush_buffers(m);
    std::string flush_error = memcached_success(frc) ? "" : last_error(m);
    for (Sent& sent : by_server) {
      if (sent.ops.empty()) continue;
      std::string why = barrier_get(m, sent.group_key);
      if (why.empty()) continue;  // the server answered after processing every set
      if (!flush_error.empty()) why += " (flush: " + flush_error + ")";
      for (size_t idx : sent.ops) fail(ops[idx], STRATA_ERR_UNAVAILABLE, sent.server, why);
    }
  }

  // One multi-get for the run. Keys missing from the answer are NOT_FOUND when their server
  // answered; when libmemcached recorded an error for that server, they are asked again per
  // server so a down server's keys report UNAVAILABLE instead of a silent miss.
  void run_gets(Slot& slot, strata_tier_op* ops, const std::vector<std::string>& keys,
                const std::vector<size_t>& run) {
    memcached_st* m = slot.direct.get();
    std::unordered_map<std::string_view, std::vector<size_t>> want;
    std::vector<const char*> kptr;
    std::vector<size_t> klen;
    for (size_t idx : run) {
      if (gate_ && gate_->any_closed() && !admitted(ops[idx], server_of(m, keys[idx]))) continue;
      auto& v = want[keys[idx]];
      if (v.empty()) {
        kptr.push_back(keys[idx].data());
        klen.push_back(keys[idx].size());
      }
      v.push_back(idx);
    }
    if (want.empty()) return;
    std::unordered_map<std::string_view, bool> found;
    memcached_return_t rc = memcached_mget(m, kptr.data(), klen.data(), kptr.size());
    bool clean = memcached_success(rc);
    if (memcached_success(rc) || rc == MEMCACHED_SOME_ERRORS)
      clean &= fetch_into(m, ops, want, found);

    // Misses grouped by server; a server with an error in this query is asked again.
    std::map<const memcached_instance_st*, std::vector<std::string_view>> missed;
    for (auto& [key, idxs] : want) {
      if (found.count(key)) continue;
      memcached_return_t src;
      missed[memcached_server_by_key(m, key.data(), key.size(), &src)].push_back(key);
    }
    for (auto& [instance, mkeys] : missed) {
      bool suspect = !clean || instance == nullptr ||
                     memcached_failed(memcached_server_error_return(instance));
      if (suspect) {
        std::string server = server_of(m, mkeys.front());
        std::string why = reget(m, ops, want, found, mkeys);
        if (!why.empty()) {
          for (auto key : mkeys)
            for (size_t idx : want[key]) fail(ops[idx], STRATA_ERR_UNAVAILABLE, server, why);
          continue;
        }
      }
      for (auto key : mkeys)
        if (!found.count(key))
          for (size_t idx : want[key]) ops[idx].status = STRATA_NOT_FOUND;
    }
  }

  // Fetches every answer of the pending mget into the ops. False on a read error.
  bool fetch_into(memcached_st* m, strata_tier_op* ops,
                  std::unordered_map<std::string_view, std::vector<size_t>>& want,
                  std::unordered_map<std::string_view, bool>& found) {
    memcached_result_st res;
    memcached_result_create(m, &res);
    memcached_return_t frc = MEMCACHED_SUCCESS;
    while (memcached_fetch_result(m, &res, &frc)) {
      std::string_view key(memcached_result_key_value(&res), memcached_result_key_length(&res));
      auto it = want.find(key);
      if (it == want.end()) continue;
      found[it->first] = true;
      for (size_t idx : it->second) {
        ops[idx].status = STRATA_OK;
        ops[idx].result_flags = memcached_result_flags(&res);
        host_.set_value(ops[idx], memcached_result_value(&res), memcached_result_length(&res));
      }
    }
    memcached_result_free(&res);
    return frc == MEMCACHED_END || frc == MEMCACHED_NOTFOUND || frc == MEMCACHED_SUCCESS;
  }

  // Asks one server again for `mkeys` (all on that server). Returns "" or why it failed.
  std::string reget(memcached_st* m, strata_tier_op* ops,
                    std::unordered_map<std::string_view, std::vector<size_t>>& want,
                    std::unordered_map<std::string_view, bool>& found,
                    const std::vector<std::string_view>& mkeys) {
    std::vector<const char*> kptr;
    std::vector<size_t> klen;
    for (auto k : mkeys) {
      kptr.push_back(k.data());
      klen.push_back(k.size());
    }
    memcached_return_t rc =
        memcached_mget_by_key(m, kptr[0], klen[0], kptr.data(), klen.data(), kptr.size());
    if (memcached_failed(rc)) return last_error(m);
    if (!fetch_into(m, ops, want, found)) return last_error(m);
    return "";
  }

  struct Failure {
    strata::Metric errors;
    uint64_t last_warn_ns;
  };

  strata::Host host_;
  Settings settings_;
  int64_t default_ttl_ms_ = 300000;
  std::string prefix_;
  int64_t max_value_ = 1 << 20;
  size_t connections_ = 4;
  std::unique_ptr<SlotPool> pool_;
  std::unique_ptr<ServerGate> gate_;  // with eject_failed; outlives nothing it is used by
  std::vector<Probe> probes_;
  std::mutex probe_mu_;
  std::mutex fail_mu_;
  std::map<std::string, Failure> failures_;
  strata::Metric flushes_, bad_keys_, too_large_;
};

}  // namespace memcached_l1

STRATA_MODULE(memcached_l1::MemcachedL1, "memcached_l1", "0.1.0",
              "volatile L1 cache tier on memcached (libmemcached, ketama, pipelined writes)",
              memcached_l1::kOptions)
