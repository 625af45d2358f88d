// Redis Sentinel for redis_l2, on top of hiredis 0.14 (which has no Sentinel support): where
// the master is (SENTINEL get-master-addr-by-name, asked of each sentinel in turn), whether a
// server really is the master (ROLE), and a subscriber thread that hears `+switch-master`.
// redis_l2.cpp opens every connection through MasterResolver::open() when `sentinels` is set,
// forgets the address on a dropped connection (READONLY, I/O error), and bumps its connection
// epoch when SwitchWatch reports a new master, so every pooled connection follows a failover.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <strata/sdk.hpp>

#include "redis_link.hpp"

namespace redis_l2 {

struct SentinelSettings {
  std::vector<Endpoint> sentinels;  // in the configured order
  std::string master_name;
  std::string username, password;  // AUTH to the sentinels (not to the master)
  int connect_timeout_ms = 200;
  int command_timeout_ms = 500;
};

// "host[:port]" or "[v6]:port" (default port 26379). Throws strata::Error(STRATA_ERR_INVALID).
Endpoint parse_sentinel(const std::string& text);

// The sentinel options (sentinels, master_name, sentinel_username, sentinel_password) with
// their cross-checks: false when `sentinels` is empty (plain `address` mode). Throws
// strata::Error(STRATA_ERR_INVALID) for master_name without sentinels, sentinels without
// master_name, or sentinels together with an explicit `address` or with cluster mode. Timeouts come from `link`.
bool sentinel_options(const strata::Options& o, const LinkSettings& link, SentinelSettings* out);

// True when the options ask for Redis Cluster (`cluster = true` or a non-empty `nodes`), which
// Sentinel mode and min_replicas_acked do not support.
bool cluster_options(const strata::Options& o);

struct MasterAddress {
  std::string host;
  int port = 0;
  bool operator==(const MasterAddress& o) const { return host == o.host && port == o.port; }
  bool empty() const { return port == 0; }
  std::string str() const { return host + ":" + std::to_string(port); }
};

// Connects to one sentinel (AUTH when configured); `error` says why not.
Context open_sentinel(const SentinelSettings& s, const Endpoint& sentinel, std::string* error);

// SENTINEL get-master-addr-by-name on an open sentinel connection; empty with `error` filled
// when it does not know the name or does not answer.
MasterAddress ask_master(redisContext* c, const SentinelSettings& s, const Endpoint& sentinel,
                         std::string* error);

// "" when ROLE says master, else why not ("role slave", an I/O error, ...).
std::string not_master(redisContext* c);

// The master's address as the sentinels last said, shared by all pooled connections.
class MasterResolver {
 public:
  explicit MasterResolver(SentinelSettings s) : s_(std::move(s)) {}

  // Opens a connection to the master: discovers its address when none is known, connects
  // (open_link with `base`'s credentials, db, timeouts), and checks ROLE. A server that is not
  // the master makes it ask the next sentinel; a master that cannot be reached is an error
  // (the sentinels still name it: the failover has not happened yet, the caller retries).
  Opened open(const LinkSettings& base);

  void forget();  // the next open() asks the sentinels again
  // Takes `a` as the master (from +switch-master); true when it differs from the known one.
  bool adopt(const MasterAddress& a);
  MasterAddress connected() const;  // the master of the last connection opened; empty: none
  uint64_t discoveries() const { return discoveries_.load(std::memory_order_relaxed); }
  const SentinelSettings& settings() const { return s_; }

 private:
  MasterAddress discover(std::string* error);  // mu_ held

  const SentinelSettings s_;
  mutable std::mutex mu_;
  MasterAddress known_, connected_;
  size_t known_from_ = SIZE_MAX;  // the sentinel that named known_; SIZE_MAX: the watch did
  size_t next_ = 0;               // the sentinel asked first next time (the last one that answered)
  std::atomic<uint64_t> discoveries_{0};
};

// A thread subscribed to `+switch-master` on one sentinel at a time (the next one after a
// failure, reconnecting with backoff from 100 ms up to 5 s). After every (re)subscribe it also
// asks that sentinel for the master, so a switch announced while it was not listening is not
// missed. stop() returns within about 100 ms, or one connect plus one command timeout when
// it is in the middle of (re)subscribing.
class SwitchWatch {
 public:
  using OnMaster = std::function<void(const MasterAddress&, const std::string& how)>;
  using OnLog = std::function<void(const std::string&)>;
  SwitchWatch(SentinelSettings s, OnMaster on_master, OnLog warn);
  ~SwitchWatch() { stop(); }
  SwitchWatch(const SwitchWatch&) = delete;
  SwitchWatch& operator=(const SwitchWatch&) = delete;

  void start();
  void stop();

 private:
  void run();
  bool listen(const Endpoint& sentinel);  // false at once when it could not subscribe
  bool pause_ms(int ms);                  // false when stopping

  const SentinelSettings s_;
  OnMaster on_master_;
  OnLog warn_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
};

}  // namespace redis_l2
