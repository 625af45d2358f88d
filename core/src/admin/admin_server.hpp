// Admin HTTP listener: serves GET /metrics (Prometheus text format 0.0.4 from
// MetricsRegistry::global(), with strata_build_info and the process_* series refreshed from
// /proc at each scrape), GET /healthz, GET /readyz (200 "ready" when the health callback says
// healthy and its body has no "not ready: REASON" line and no "reload in progress" line; 503
// "not ready" and the reasons otherwise) and GET /version (build_info_text()) on a loopback
// address. Started by the runtime
// when [admin] is enabled; one thread runs a poll() loop over non-blocking sockets, so a slow,
// idle or non-reading client never delays a health probe. One request per connection
// (Connection: close), with deadlines and caps below.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace strata {

class AdminServer {
 public:
  // {healthy, body}. Healthy: 200 with the body (prefixed with "ok\n" unless it already
  // starts with "ok"); otherwise 503 with the body ("unhealthy\n" when empty). Called on the
  // admin thread, so it must be thread-safe; it should also be quick, since every other
  // connection waits while it runs.
  using HealthFn = std::function<std::pair<bool, std::string>()>;

  AdminServer() = default;
  ~AdminServer();  // stop()s
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds `listen` (an IP address or host name, e.g. "127.0.0.1", "::1", "localhost") on
  // `port` (0 = an ephemeral port, see port()) and starts the thread. Fails with
  // `admin listener cannot bind 127.0.0.1:9100: Address already in use` and the like.
  Result<void> start(const std::string& listen, int port, HealthFn health);
  // The bound port (useful after start(..., 0, ...)); 0 when not running.
  int port() const { return port_; }
  // Ends the loop promptly (also mid-request), closes every connection and joins the thread.
  // Idempotent.
  void stop();

  // Largest request head accepted; longer ones get 431 and the connection is closed.
  static constexpr size_t kMaxRequestBytes = 8192;
  // The whole request head must arrive within this time of the connect, however it trickles
  // in; otherwise 408 and close.
  static constexpr int kHeadTimeoutMs = 2000;
  // The whole response must be taken by the client within this time of being ready; otherwise
  // the connection is reset (the unsent rest is dropped).
  static constexpr int kWriteTimeoutMs = 5000;
  // After the response, the rest of the client's input is drained for at most this long (so
  // the close does not reset the response away), then the connection is closed.
  static constexpr int kLingerTimeoutMs = 1000;
  // Open connections at most. A new one beyond it closes the oldest connection that is still
  // lingering or reading its head; only when every one is writing is the new one refused (503).
  static constexpr size_t kMaxConnections = 64;

 private:
  struct Connection;
  void run();
  void on_readable(Connection& c);
  bool accept_new(std::vector<Connection>& conns);
  std::string respond(const std::string& request_head);

  // Set by start() before the thread exists and cleared by stop() after join(), so the loop
  // thread only reads them. port_ is read and written by the owner's thread only.
  // Connections live in run()'s locals: the loop thread is the only one to touch them.
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: stop() writes to [1], poll() watches [0]
  int port_ = 0;
  HealthFn health_;
  std::thread thread_;
};

}  // namespace strata
