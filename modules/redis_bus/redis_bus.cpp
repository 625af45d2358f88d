// redis_bus: the read side of the invalidation bus (issue 10), a `front` module. A node that
// keeps its own L1 runs it over that L1 (`tiers = ["l1"]`, or a pipeline's chain): one thread
// XREADs the Redis Stream that redis_l2 writes with every batch (`bus_stream`), deletes the
// announced keys from the chain's volatile tiers only (STRATA_CHAIN_INVALIDATE: Redis, the
// source of truth, is never touched), and only then moves its position (last id, entries
// seen) and saves it in `state_file`, so a restart or a reconnect resumes where the deletes
// stopped. What it cannot know (no state, the stream trimmed past its id, the stream deleted
// or recreated) it answers with a FLUSH of its L1, a count and one log line, and goes on from
// the stream's end. Entries of every writer are applied, this node's own too: docs/bus.md.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <strata/sdk.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bus_state.hpp"
#include "stream_link.hpp"

namespace redis_bus {
namespace {

constexpr strata_option_def kOptions[] = {
    strata::option("address", STRATA_OPT_STRING, "127.0.0.1:6379",
                   "Redis holding the stream: \"host:port\" or a unix socket path"),
    strata::option("username", STRATA_OPT_STRING, "", "ACL user for AUTH; empty = default user"),
    strata::option("password", STRATA_OPT_STRING, "", "password for AUTH; empty = no AUTH")
        .secret(),
    strata::option("db", STRATA_OPT_INT, "0", "database number (SELECT)").range(0, 1000000),
    strata::option("stream", STRATA_OPT_STRING, nullptr,
                   "the stream redis_l2 announces on (its bus_stream)"),
    strata::option("state_file", STRATA_OPT_STRING, "",
                   "where the last applied entry id is kept across restarts; \"\" = nowhere "
                   "(every start flushes the L1)"),
    strata::option("block", STRATA_OPT_DURATION, "100ms",
                   "XREAD BLOCK timeout: how long one read waits for new entries (bounds stop)")
        .range(1, 5000),
    strata::option("count", STRATA_OPT_INT, "100",
                   "max entries per XREAD (an entry lists one batch's keys: up to guarded_batch)")
        .range(1, 100000),
    strata::option("connect_timeout", STRATA_OPT_DURATION, "200ms", "timeout of one connect")
        .range(1, 60000),
    strata::option("command_timeout", STRATA_OPT_DURATION, "1s",
                   "how long a reply may take beyond the BLOCK timeout")
        .range(1, 60000),
    strata::option("save_interval", STRATA_OPT_DURATION, "100ms",
                   "the state file is rewritten (fsynced) at most this often, and at stop")
        .range(0, 60000),
    strata::option("retry_backoff_max", STRATA_OPT_DURATION, "1s",
                   "longest wait between reconnects or retries of failed L1 deletes")
        .range(10, 60000),
};

constexpr size_t kOpsPerSubmit = 256;
// Keys deleted per step before the position moves: bounds the ops held at once (an entry of
// one batch may list thousands of keys, an XREAD returns `count` entries).
constexpr size_t kKeysPerStep = 8192;
const char* const kFlushReasons[] = {"no_state", "trimmed", "recreated", "stream_gone"};

// Waits for the done callbacks of several submits.
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  size_t left = 0;
  static void done(void* user, strata_chain_op*, size_t) {
    auto* p = static_cast<Pending*>(user);
    std::lock_guard<std::mutex> lk(p->mu);
    if (--p->left == 0) p->cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return left == 0; });
  }
};

class RedisBus final : public strata::FrontModule {
 public:
  RedisBus(strata::Host host, const strata::Options& o) : host_(host), chain_(host.front_chain()) {
    if (!chain_) throw strata::Error(STRATA_ERR_INVALID, "the host gave this front no tier chain");
    LinkSettings s;
    parse_address(o.str("address"), &s);
    s.username = o.str("username");
    s.password = o.str("password");
    s.db = o.integer("db");
    s.connect_timeout_ms = static_cast<int>(o.duration_ms("connect_timeout"));
    block_ms_ = static_cast<int>(o.duration_ms("block"));
    s.read_timeout_ms = block_ms_ + static_cast<int>(o.duration_ms("command_timeout"));
    link_ = std::make_unique<StreamLink>(s);
    stream_ = o.str("stream");
    if (stream_.empty()) throw strata::Error(STRATA_ERR_INVALID, "stream is empty");
    state_file_ = o.str("state_file");
    count_ = static_cast<size_t>(o.integer("count"));
    save_interval_ns_ = static_cast<uint64_t>(o.duration_ms("save_interval")) * 1000000;
    backoff_max_ms_ = o.duration_ms("retry_backoff_max");
    register_metrics();
  }

  void start() override {
    std::string why;
    if (state_file_.empty()) {
      flush_reason_ = "no_state";
      flush_why_ = "no state_file is configured";
    } else if (auto p = load_position(state_file_, &why)) {
      pos_ = *p;
      host_.info("resuming the bus at entry " + pos_.last.str() + " (" + state_file_ + ")");
    } else {
      flush_reason_ = "no_state";
      flush_why_ = why;
    }
    thread_ = std::thread([this] { run(); });
  }

  void stop(bool) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  ~RedisBus() override { stop(false); }

 private:
  void register_metrics() {
    entries_ = host_.counter("strata_bus_entries_total", "Bus entries applied to L1");
    keys_ = host_.counter("strata_bus_keys_total", "Keys announced by the applied entries");
    deletions_ =
        host_.counter("strata_bus_deletions_total", "Announced keys that L1 held and deleted");
    errors_ = host_.counter("strata_bus_apply_errors_total",
                            "L1 deletes or flushes that failed (retried with backoff)");
    reconnects_ = host_.counter("strata_bus_reconnects_total",
                                "Connections to the stream's Redis re-established after a drop");
    lag_entries_ = host_.gauge("strata_bus_lag_entries", "Stream entries not yet applied");
    lag_seconds_ = host_.gauge("strata_bus_lag_seconds",
                               "Age of the newest applied entry while entries are pending; 0 "
                               "when caught up");
    delay_ = host_.histogram("strata_bus_delay_seconds",
                             "From an entry's id (its XADD on the Redis clock) to its keys "
                             "deleted from L1");
    for (const char* r : kFlushReasons) {
      std::string labels = std::string("reason=\"") + r + "\"";
      flushes_.push_back(host_.counter("strata_bus_flushes_total",
                                       "L1 flushes because the node could not know what it "
                                       "missed",
                                       labels.c_str()));
    }
  }

  bool stopping() {
    std::lock_guard<std::mutex> lk(mu_);
    return stopping_;
  }

  // Sleeps `ms` unless stop() comes first; false when stopping.
  bool pause_ms(int64_t ms) {
    std::unique_lock<std::mutex> lk(mu_);
    return !cv_.wait_for(lk, std::chrono::milliseconds(ms), [&] { return stopping_; });
  }

  void backoff() {
    pause_ms(backoff_ms_);
    backoff_ms_ = std::min<int64_t>(backoff_max_ms_, backoff_ms_ * 2);
  }

  void run() {
    sigset_t pipe;  // hiredis write()s: a closed socket must be an error, not a signal
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    std::vector<Entry> entries;
    while (!stopping()) {
      if (!link_->connected() && !connect()) {
        backoff();
        continue;
      }
      StreamInfo info;
      std::string err;
      if (!link_->poll(stream_, pos_.last, count_, block_ms_, &info, &entries, &err)) {
        lost(err);
        continue;
      }
      if (!check(info, &entries)) continue;  // stopping during a flush
      if (!entries.empty() && !apply(entries)) continue;
      report_lag(info, entries.empty());
      save(false);
    }
    save(true);
  }

  bool connect() {
    std::string err;
    if (!link_->connect(&err)) {
      if (!down_) host_.warn(err + "; the bus retries (L1 may serve stale keys meanwhile)");
      down_ = true;
      return false;
    }
    if (ever_connected_) reconnects_.add();
    if (down_) host_.info("redis " + link_->settings().display + " is reachable again");
    ever_connected_ = true;
    down_ = false;
    backoff_ms_ = 50;
    return true;
  }

  void lost(const std::string& err) {
    if (!down_) host_.warn(err + "; reconnecting, then resuming at " + pos_.last.str());
    down_ = true;
    backoff();
  }

  // Why the position cannot be trusted against `info`, or "" when it can.
  std::string distrust(const StreamInfo& info, std::string* why) const {
    const std::string ours = "our last entry " + pos_.last.str();
    if (!flush_reason_.empty()) {
      *why = flush_why_;
      return flush_reason_;
    }
    if (!info.exists) {
      if (pos_.added == 0 && pos_.last == EntryId{}) return "";
      *why = "the stream is gone (deleted) after " + ours;
      return "stream_gone";
    }
    if (info.last_generated < pos_.last) {
      *why = "its newest id " + info.last_generated.str() + " is older than " + ours;
      return "recreated";
    }
    if (!info.has_added) {  // before Redis 7: only a trim up to or past our entry is seen
      if (!info.first || !(*info.first > pos_.last) || info.last_generated == pos_.last) return "";
      *why = "its oldest entry " + info.first->str() + " is past " + ours + " (Redis < 7)";
      return "trimmed";
    }
    if (info.added < pos_.added) {
      *why = "it was given " + std::to_string(info.added) + " entries, fewer than the " +
             std::to_string(pos_.added) + " we had seen";
      return "recreated";
    }
    if (info.max_deleted > pos_.last) {
      *why = "entry " + info.max_deleted.str() + " after " + ours + " was deleted (XDEL)";
      return "trimmed";
    }
    if (info.length < info.added - pos_.added) {
      *why = std::to_string(info.added - pos_.added) + " entries came after " + ours +
             " but the stream holds " + std::to_string(info.length) +
             ": trimmed past us (bus_maxlen)";
      return "trimmed";
    }
    if (info.last_generated == pos_.last && info.added != pos_.added) {
      *why = "at its newest entry it counts " + std::to_string(info.added) + " entries, we " +
             std::to_string(pos_.added);
      return "recreated";
    }
    return "";
  }

  // Flushes L1 when the position cannot be trusted, then continues from the stream's end as
  // `info` saw it; entries the XREAD returned up to there are covered by the flush. False when
  // stopping before the flush succeeded.
  bool check(const StreamInfo& info, std::vector<Entry>* entries) {
    std::string why;
    std::string reason = distrust(info, &why);
    if (reason.empty()) return true;
    Position anchor;
    if (info.exists) anchor = Position{info.last_generated, info.added};
    strata_chain_op op = strata::chain_op(STRATA_CHAIN_FLUSH, {});
    bool warned = false;
    while (!run_ops(&op, 1, nullptr) && op.status != STRATA_ERR_INVALID) {
      errors_.add();
      if (!warned)
        host_.warn("L1 flush failed, retrying: " + std::string(strata::result_error(op)));
      warned = true;
      backoff();
      if (stopping()) return false;
    }
    backoff_ms_ = 50;
    if (op.status == STRATA_ERR_INVALID) {
      // A volatile tier that cannot flush (it does not declare STRATA_TIER_FLUSHABLE): retrying
      // would stall the bus for good, so go on and say what that means.
      errors_.add();
      host_.error("cannot flush L1 (" + reason + ": " + why +
                  "): " + std::string(strata::result_error(op)) +
                  "; L1 may serve keys changed meanwhile until their TTL");
    } else {
      for (size_t i = 0; i < std::size(kFlushReasons); ++i)
        if (reason == kFlushReasons[i]) flushes_[i].add();
      host_.warn("flushed L1 (" + reason + "): " + why + "; the bus continues from entry " +
                 anchor.last.str());
    }
    flush_reason_.clear();
    pos_ = anchor;
    entries->erase(std::remove_if(entries->begin(), entries->end(),
                                  [&](const Entry& e) { return !(e.id > anchor.last); }),
                   entries->end());
    dirty_ = true;
    save(true);
    return true;
  }

  // Runs `n` ops through the chain, at most kOpsPerSubmit per submit, all submits at once
  // (deletes of different keys need no order). True when none failed for availability;
  // *found counts the deletes that found a key.
  bool run_ops(strata_chain_op* ops, size_t n, size_t* found) {
    Pending p;
    size_t submits = (n + kOpsPerSubmit - 1) / kOpsPerSubmit;
    std::vector<bool> sent(submits, false);
    for (size_t s = 0; s < submits; ++s) {
      size_t begin = s * kOpsPerSubmit, len = std::min(kOpsPerSubmit, n - begin);
      {
        std::lock_guard<std::mutex> lk(p.mu);
        ++p.left;
      }
      if (host_.submit(chain_, ops + begin, len, Pending::done, &p) == STRATA_OK) {
        sent[s] = true;
      } else {
        std::lock_guard<std::mutex> lk(p.mu);
        --p.left;
        for (size_t i = begin; i < begin + len; ++i) ops[i].status = STRATA_ERR_UNAVAILABLE;
      }
    }
    p.wait();
    bool ok = true;
    for (size_t i = 0; i < n; ++i) {
      if (found && ops[i].status == STRATA_OK) ++*found;
      // BAD_KEY / TOO_LARGE: L1 cannot hold such a key, so there is nothing to delete.
      if (ops[i].status >= STRATA_ERR_UNAVAILABLE) ok = false;
    }
    for (size_t s = 0; s < submits; ++s)
      if (sent[s]) {
        size_t begin = s * kOpsPerSubmit;
        host_.release(ops + begin, std::min(kOpsPerSubmit, n - begin));
      }
    return ok;
  }

  // Deletes every announced key, in steps of about kKeysPerStep keys, each retried until all
  // its deletes went through (or stop), then moves the position past the step's entries.
  bool apply(const std::vector<Entry>& entries) {
    for (size_t begin = 0, end; begin < entries.size(); begin = end) {
      size_t keys = 0;
      end = begin;
      while (end < entries.size() &&
             (end == begin || keys + entries[end].keys.size() <= kKeysPerStep))
        keys += entries[end++].keys.size();
      if (!apply_step(entries, begin, end)) return false;
    }
    return true;
  }

  bool apply_step(const std::vector<Entry>& entries, size_t begin, size_t end) {
    std::vector<strata_chain_op> ops;
    for (size_t i = begin; i < end; ++i)
      for (const std::string& k : entries[i].keys)
        ops.push_back(strata::chain_op(STRATA_CHAIN_INVALIDATE, k));
    size_t found = 0;
    while (!ops.empty() && !run_ops(ops.data(), ops.size(), &found)) {
      errors_.add();
      if (!apply_failing_) host_.warn("L1 deletes failed; retrying before the bus moves on");
      apply_failing_ = true;
      backoff();
      if (stopping()) return false;
      found = 0;
    }
    if (apply_failing_) host_.info("L1 deletes go through again");
    apply_failing_ = false;
    backoff_ms_ = 50;
    const int64_t now = host_.now_unix_ms();
    for (size_t i = begin; i < end; ++i)
      delay_.observe(std::max<int64_t>(0, now - static_cast<int64_t>(entries[i].id.ms)) / 1000.0);
    pos_.last = entries[end - 1].id;
    pos_.added += end - begin;
    entries_.add(static_cast<double>(end - begin));
    keys_.add(static_cast<double>(ops.size()));
    deletions_.add(static_cast<double>(found));
    dirty_ = true;
    return true;
  }

  void report_lag(const StreamInfo& info, bool idle) {
    uint64_t behind = info.has_added && info.added > pos_.added ? info.added - pos_.added : 0;
    if (idle && info.last_generated == pos_.last) behind = 0;
    lag_entries_.set(static_cast<double>(behind));
    int64_t age = host_.now_unix_ms() - static_cast<int64_t>(pos_.last.ms);
    lag_seconds_.set(behind > 0 && pos_.last.ms > 0 ? std::max<int64_t>(0, age) / 1000.0 : 0.0);
  }

  void save(bool now) {
    if (!dirty_ || state_file_.empty()) return;
    uint64_t t = host_.monotonic_ns();
    if (!now && t - last_save_ns_ < save_interval_ns_) return;
    std::string why;
    if (!save_position(state_file_, pos_, &why)) {
      if (!save_failing_) host_.warn(why + "; a restart will replay or flush");
      save_failing_ = true;
      return;
    }
    save_failing_ = false;
    last_save_ns_ = t;
    dirty_ = false;
  }

  strata::Host host_;
  strata_chain* chain_;
  std::unique_ptr<StreamLink> link_;
  std::string stream_, state_file_;
  size_t count_ = 1000;
  int block_ms_ = 100;
  uint64_t save_interval_ns_ = 0;
  int64_t backoff_max_ms_ = 1000;

  // The thread's own state.
  Position pos_;
  std::string flush_reason_, flush_why_;  // set at start: no usable state
  bool dirty_ = false, down_ = false, ever_connected_ = false;
  bool apply_failing_ = false, save_failing_ = false;
  int64_t backoff_ms_ = 50;
  uint64_t last_save_ns_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;

  strata::Metric entries_, keys_, deletions_, errors_, reconnects_, lag_entries_, lag_seconds_,
      delay_;
  std::vector<strata::Metric> flushes_;
};

}  // namespace
}  // namespace redis_bus

STRATA_MODULE(redis_bus::RedisBus, "redis_bus", "0.1.0",
              "Invalidation bus subscriber: deletes the keys redis_l2 announces on a Redis "
              "Stream from this node's L1, resumes from its last id, flushes L1 when it cannot "
              "know what it missed",
              redis_bus::kOptions)
