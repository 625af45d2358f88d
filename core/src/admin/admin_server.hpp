// Admin HTTP listener: serves GET /metrics (Prometheus text format 0.0.4 from
// MetricsRegistry::global()) and GET /healthz on a loopback address. Started by the runtime
// when [admin] is enabled; one thread, one request per connection (Connection: close).
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "common/result.hpp"

namespace strata {

class AdminServer {
 public:
  // {healthy, body}. Healthy: 200 with the body (prefixed with "ok\n" unless it already
  // starts with "ok"); otherwise 503 with the body ("unhealthy\n" when empty). Called on the
  // admin thread, so it must be thread-safe.
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
  // Ends the accept loop promptly (also mid-request) and joins the thread. Idempotent.
  void stop();

  // Largest request head accepted; longer ones get 431 and the connection is closed.
  static constexpr size_t kMaxRequestBytes = 8192;

 private:
  void run();
  void serve(int fd);
  void linger_close(int fd);
  std::string respond(const std::string& request_head);

  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: stop() writes to [1], poll() watches [0]
  int port_ = 0;
  HealthFn health_;
  std::thread thread_;
};

}  // namespace strata
