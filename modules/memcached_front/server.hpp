// The memcached front's network server: one listening socket, `threads` epoll event loops that
// share it, and the ports it reaches the rest of strata through (the tier chain, metrics).
// memcached_front.cpp builds one from the module's options; tests can drive it directly.
#pragma once

#include <strata/strata.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "protocol.hpp"

namespace mcfront {

struct FrontConfig {
  std::string listen = "127.0.0.1";
  int port = 11311;
  int threads = 2;
  size_t max_connections = 4096;
  int64_t idle_timeout_ms = 0;            // 0: never close an idle client (memcached's default)
  size_t max_output = 4 * 1024 * 1024;    // reply bytes buffered before a client stops being read
  size_t max_pending = 1024;              // requests parsed ahead of their replies per client
  int64_t stop_timeout_ms = 5000;         // how long stop() waits for in-flight ops
  bool allow_flush_all = false;
  Limits limits;
};

// The tier chain as the server sees it (the module wraps strata::Host's submit/release).
class ChainPort {
 public:
  virtual ~ChainPort() = default;
  virtual strata_status submit(strata_chain_op* ops, size_t count, strata_chain_done_fn done,
                               void* user) = 0;
  virtual void release(strata_chain_op* ops, size_t count) = 0;
  virtual int64_t now_unix_ms() = 0;
  virtual uint64_t monotonic_ns() = 0;
};

// Metrics (the module maps them onto the host's metric API); every call is thread-safe.
class FrontMetrics {
 public:
  virtual ~FrontMetrics() = default;
  virtual void connection_opened() {}
  virtual void connection_closed() {}
  virtual void command(Cmd) {}
  virtual void replied(const ReplyInfo&, double /*seconds*/) {}
  virtual void refused_connection() {}
};

// Counters behind `stats` (memcached's names).
struct FrontStats {
  std::atomic<uint64_t> curr_connections{0}, total_connections{0}, rejected_connections{0};
  std::atomic<uint64_t> cmd_get{0}, cmd_set{0}, get_hits{0}, get_misses{0}, errors{0};
};

class EventLoop;

class Server {
 public:
  Server(FrontConfig cfg, ChainPort& chain, FrontMetrics& metrics);
  // Precondition: in_flight() == 0 (wait_idle()); a completion arriving later would touch the
  // loops. An owner that cannot wait leaks the Server instead.
  ~Server();
  // Binds and listens (port 0 picks one: see port()), starts the loops. Throws on failure.
  void start();
  // Bounded: stops accepting and reading, waits up to stop_timeout_ms for in-flight ops, closes
  // every client, joins the loops.
  void stop();
  int port() const { return bound_port_; }
  // Waits up to timeout_ms until every submit was called back; true when none is left.
  bool wait_idle(int64_t timeout_ms);

  const FrontConfig& config() const { return cfg_; }
  ChainPort& chain() { return chain_; }
  FrontMetrics& metrics() { return metrics_; }
  FrontStats& stats() { return stats_; }
  const CommandConfig& commands() const { return commands_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  std::atomic<int64_t>& in_flight() { return in_flight_; }  // submits not yet called back
  uint64_t stop_deadline_ns() const { return stop_deadline_ns_.load(std::memory_order_acquire); }

 private:
  std::string stats_text();

  FrontConfig cfg_;
  ChainPort& chain_;
  FrontMetrics& metrics_;
  FrontStats stats_;
  CommandConfig commands_;
  int listen_fd_ = -1;
  int bound_port_ = 0;
  int64_t started_unix_ms_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> stop_deadline_ns_{0};
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace mcfront
