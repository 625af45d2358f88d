// Which memcached servers of the ring may be sent requests, shared by every connection of one
// memcached_l1 instance. Used only by memcached_l1.cpp.
//
// Why the module keeps this itself instead of libmemcached's ejection: libmemcached learns of
// a dead server per handle (each of the pool's handles pays the timeouts again) and, with
// REMOVE_FAILED_SERVERS, moves the dead server's keys to the others. Moved copies go stale:
// once the server is back its keys route to it again, and the copies left on the others are
// served the next time it leaves. A returning server may also hold values from before it went
// away that writes made while it was gone never reached. So:
//   - a server that failed `failure_limit` requests within `retry_timeout` is closed: requests
//     for its keys fail at once with ERR_BREAKER_OPEN (ERR_UNAVAILABLE once every server is
//     closed; the chain reads them from L2, the host's breaker does not count them), the other
//     servers never wait on it, and its keys never move;
//   - a write or delete that did not reach a server (failed or refused while closed) marks it
//     as holding possibly stale values;
//   - a prober thread asks a closed server every retry_timeout; when it answers, it is flushed
//     first if it may hold stale values, and opened only after the flush succeeded and no write
//     was missed meanwhile;
//   - with a state_file, the servers that may hold stale values are also written there (a
//     temp file, fsync, rename) whenever that set changes, before the write that missed is
//     reported: a process killed during an outage tells the next one, which starts with those
//     servers closed and flushes them before they serve (else they would keep, until their TTL,
//     values older than what the durable tier got meanwhile; fault matrix, seed 3240990408).
#pragma once

#include <strata/sdk.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "connections.hpp"

namespace memcached_l1 {

class ServerGate {
 public:
  ServerGate(const Settings& s, strata::Host host);
  ~ServerGate();
  ServerGate(const ServerGate&) = delete;
  ServerGate& operator=(const ServerGate&) = delete;

  // Starts / stops the prober thread (stop is bounded by one probe's timeouts).
  void start();
  void stop();

  // True when requests may go to `server` ("host:port" as libmemcached names it). When it is
  // closed and `write` is true, the write counts as missed. Servers the gate does not know
  // (none, in practice) are open.
  bool admit(const std::string& server, bool write);
  // Why `server` is closed, for the op's error message.
  std::string closed_reason(const std::string& server) const;
  // A request to `server` failed (connection, timeout); `write` for writes and deletes.
  void failed(const std::string& server, bool write);

  // True while at least one server is closed (a cheap check before per-key lookups).
  bool any_closed() const { return closed_count_.load(std::memory_order_acquire) > 0; }

  // True while every server is closed: the tier as a whole is down.
  bool all_closed() const {
    return closed_count_.load(std::memory_order_acquire) == int(entries_.size());
  }

  // Test and metric view: is the server closed now.
  bool closed(const std::string& server) const;

 private:
  struct Entry {
    ServerAddress address;
    std::atomic<bool> closed{false};
    std::mutex mu;        // orders missed-write counting against reopening
    uint64_t missed = 0;  // writes that may not have reached it (under mu)
    uint64_t window_start_ns = 0;
    int64_t failures_in_window = 0;  // (under mu)
    uint64_t closed_at_ns = 0;       // (under mu)
    std::atomic<bool> stale{false};  // missed > 0: what save_state() writes
    strata::Metric up, closes, flushes, refused;
  };
  Entry* find(const std::string& server) const;
  bool note_missed_locked(Entry& e);  // true when the server just became stale
  void load_state();
  void close_stale_at_start(Entry& e);
  void save_state();
  void close_locked(Entry& e, uint64_t now);
  void probe_loop();
  void probe(Entry& e);

  Settings settings_;
  strata::Host host_;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
  std::thread prober_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::atomic<int> closed_count_{0};
  std::mutex state_mu_;        // serializes save_state()
  bool state_warned_ = false;  // (under state_mu_)
};

}  // namespace memcached_l1
