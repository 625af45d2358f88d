#include "admin/admin_server.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <exception>

#include "admin/build_info.hpp"
#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "metrics/process_metrics.hpp"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

// A client that keeps sending after its response is drained this much at most.
constexpr size_t kLingerDrainBytes = 16 * AdminServer::kMaxRequestBytes;
// Out of file descriptors: accept() would fail at once again, so stop watching the listener
// for a moment instead of spinning on it.
constexpr int kAcceptPauseMs = 100;
// Connections accepted per wake-up, so that a flood of connects cannot starve open ones.
constexpr int kAcceptBurst = 64;

Clock::time_point in_ms(int ms) { return Clock::now() + std::chrono::milliseconds(ms); }

std::string http_response(int code, const char* reason, const std::string& content_type,
                          const std::string& body, bool head_only,
                          const std::string& extra_headers = "") {
  std::string r = "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\n";
  r += "Content-Type: " + content_type + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "Connection: close\r\n\r\n";
  if (!head_only) r += body;
  return r;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Where the request head ends (just past its blank line), or npos while it is incomplete.
size_t head_end(const std::string& in) {
  size_t crlf = in.find("\r\n\r\n");
  size_t lf = in.find("\n\n");
  size_t end = std::string::npos;
  if (crlf != std::string::npos) end = crlf + 4;
  if (lf != std::string::npos) end = std::min(end, lf + 2);
  return end;
}

}  // namespace

// One client, from accept to close. Only the loop thread (run()) ever touches one.
struct AdminServer::Connection {
  enum class Phase {
    kReadingHead,  // until the head is complete, kHeadTimeoutMs after accept at most
    kWriting,      // the response, kWriteTimeoutMs at most
    kLingering,    // our side is shut down; draining the client's rest, kLingerTimeoutMs at most
    kClosed,       // fd closed; removed at the end of the loop iteration
  };
  int fd = -1;
  Phase phase = Phase::kReadingHead;
  Clock::time_point accepted;
  Clock::time_point deadline;  // of the current phase
  std::string in;              // the request head received so far
  std::string out;             // the response
  size_t sent = 0;             // bytes of `out` the kernel took
  size_t drained = 0;          // bytes read while lingering

  void close() {
    close_fd(fd);
    phase = Phase::kClosed;
  }
  // Reset rather than FIN: the kernel drops what is still queued for a client that stopped
  // reading, instead of keeping it (and its buffer) for minutes.
  void abort() {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }
  void respond_with(std::string response) {
    out = std::move(response);
    sent = 0;
    phase = Phase::kWriting;
    deadline = in_ms(kWriteTimeoutMs);
    write_some();  // usually all of it: the socket buffer is empty
  }
  // Sends what the socket takes now. Once all is sent, half-closes and lingers: closing a socket
  // with unread input makes the kernel send RST, which can destroy the response before the
  // client reads it, so the rest is drained first (bounded), as nginx's lingering_close does.
  void write_some() {
    while (sent < out.size()) {
      ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;  // poll() says when there is room again
      } else {
        close();  // EPIPE, ECONNRESET: the client is gone
        return;
      }
    }
    std::string().swap(out);
    std::string().swap(in);
    ::shutdown(fd, SHUT_WR);
    phase = Phase::kLingering;
    deadline = in_ms(kLingerTimeoutMs);
  }
  void on_deadline() {
    switch (phase) {
      case Phase::kReadingHead:
        respond_with(http_response(
            408, "Request Timeout", "text/plain",
            "request head not complete within " + std::to_string(kHeadTimeoutMs) + " ms\n", false));
        return;
      case Phase::kWriting:
        abort();
        return;
      case Phase::kLingering:
      case Phase::kClosed:
        close();
        return;
    }
  }
};

AdminServer::~AdminServer() { stop(); }

Result<void> AdminServer::start(const std::string& listen, int port, HealthFn health) {
  if (thread_.joinable())
    return fail("admin listener is already running on port " + std::to_string(port_));
  std::string where = listen + ":" + std::to_string(port);
  if (port < 0 || port > 65535)
    return fail("admin listener port " + std::to_string(port) + " is out of range 0..65535");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(listen.empty() ? nullptr : listen.c_str(), std::to_string(port).c_str(),
                          &hints, &res);
  if (gai != 0)
    return fail("admin listener cannot resolve \"" + listen + "\": " + gai_strerror(gai));
  std::string last_error = "no usable address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // The backlog covers a burst of connects between two turns of the loop.
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      listen_fd_ = fd;
      break;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0) return fail("admin listener cannot bind " + where + ": " + last_error);

  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::string err = std::strerror(errno);
    close_fd(listen_fd_);
    port_ = 0;
    return fail("admin listener cannot create its wake-up pipe: " + err);
  }
  health_ = std::move(health);
  register_build_info(MetricsRegistry::global());
  thread_ = std::thread([this] { run(); });
  return {};
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  char b = 1;
  (void)!::write(wake_fds_[1], &b, 1);
  thread_.join();
  close_fd(listen_fd_);
  close_fd(wake_fds_[0]);
  close_fd(wake_fds_[1]);
  port_ = 0;
}

// One thread, one poll() over the wake pipe, the listener and every connection. Nothing in it
// blocks on a client: sockets are non-blocking and every phase of a connection has a deadline,
// which also bounds the poll() timeout.
void AdminServer::run() {
  using Phase = Connection::Phase;
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  Clock::time_point accept_paused_until{};
  for (;;) {
    Clock::time_point now = Clock::now();
    bool accepting = now >= accept_paused_until;
    Clock::time_point wake_at = accepting ? Clock::time_point::max() : accept_paused_until;
    fds.clear();
    fds.push_back({wake_fds_[0], POLLIN, 0});
    fds.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});  // poll() skips a negative fd
    for (const Connection& c : conns) {
      fds.push_back({c.fd, static_cast<short>(c.phase == Phase::kWriting ? POLLOUT : POLLIN), 0});
      wake_at = std::min(wake_at, c.deadline);
    }
    int timeout = -1;
    if (wake_at != Clock::time_point::max()) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake_at - now).count();
      timeout = static_cast<int>(std::clamp<decltype(ms)>(ms, 0, INT_MAX));
    }
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error(std::string("admin listener poll failed: ") + std::strerror(errno));
      break;
    }
    if (fds[0].revents) break;  // stop()
    for (size_t i = 0; i < conns.size(); ++i) {
      if (!fds[i + 2].revents) continue;
      Connection& c = conns[i];
      if (c.phase == Phase::kWriting)
        c.write_some();
      else if (c.phase != Phase::kClosed)
        on_readable(c);
    }
    if ((fds[1].revents & POLLIN) && !accept_new(conns))
      accept_paused_until = in_ms(kAcceptPauseMs);
    now = Clock::now();
    for (Connection& c : conns)
      if (c.phase != Phase::kClosed && now >= c.deadline) c.on_deadline();
    std::erase_if(conns, [](const Connection& c) { return c.phase == Phase::kClosed; });
  }
  for (Connection& c : conns) c.close();
}
// Reads what has arrived: the request head (answered as soon as it is complete or too large),
// or, while lingering, whatever the client still sends.
void AdminServer::on_readable(Connection& c) {
  using Phase = Connection::Phase;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      c.close();  // EOF (before a complete head, or after the response) or an error
      return;
    }
    if (c.phase == Phase::kLingering) {
      c.drained += static_cast<size_t>(n);
      if (c.drained > kLingerDrainBytes) {
        c.close();
        return;
      }
      continue;
    }
    c.in.append(buf, static_cast<size_t>(n));
    size_t end = head_end(c.in);
    if (end == std::string::npos ? c.in.size() > kMaxRequestBytes : end > kMaxRequestBytes) {
      c.respond_with(http_response(431, "Request Header Fields Too Large", "text/plain",
                                   "request too large\n", false));
      return;
    }
    if (end != std::string::npos) {
      c.respond_with(respond(c.in.substr(0, end)));
      return;
    }
  }
}

// Accepts what is pending. At kMaxConnections, a new connection closes the oldest one that is
// lingering (its response is out) or else still reading its head (the most likely to be stuck,
// and the nearest to its deadline anyway), so idle or trickling clients cannot lock a probe out.
// Returns false when out of file descriptors.
bool AdminServer::accept_new(std::vector<Connection>& conns) {
  using Phase = Connection::Phase;
  for (int i = 0; i < kAcceptBurst; ++i) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      log::warn(std::string("admin listener cannot accept: ") + std::strerror(errno));
      return false;  // EMFILE, ENFILE, ENOBUFS, ENOMEM
    }
    size_t open = 0;
    Connection* victim = nullptr;
    auto rank = [](Phase p) {
      return p == Phase::kLingering ? 0 : p == Phase::kReadingHead ? 1 : 2;
    };
    for (Connection& c : conns) {
      if (c.phase == Phase::kClosed) continue;
      ++open;
      if (rank(c.phase) < 2 &&
          (!victim || rank(c.phase) < rank(victim->phase) ||
           (rank(c.phase) == rank(victim->phase) && c.accepted < victim->accepted)))
        victim = &c;
    }
    if (open >= kMaxConnections) {
      if (!victim) {
        std::string r = http_response(503, "Service Unavailable", "text/plain",
                                      "too many admin connections\n", false);
        (void)!::send(fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        continue;
      }
      victim->close();
    }
    Connection c;
    c.fd = fd;
    c.accepted = Clock::now();
    c.deadline = c.accepted + std::chrono::milliseconds(kHeadTimeoutMs);
    conns.push_back(std::move(c));
  }
  return true;
}

std::string AdminServer::respond(const std::string& head) {
  // Request line: METHOD SP TARGET SP VERSION
  size_t eol = head.find_first_of("\r\n");
  std::string line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos)
    return http_response(400, "Bad Request", "text/plain", "bad request line\n", false);
  std::string method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string path = target.substr(0, target.find('?'));
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only)
    return http_response(405, "Method Not Allowed", "text/plain", "only GET and HEAD\n", false,
                         "Allow: GET, HEAD\r\n");

  if (path == "/metrics") {
    update_process_metrics(MetricsRegistry::global());
    return http_response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                         MetricsRegistry::global().render(), head_only);
  }
  if (path == "/version")
    return http_response(200, "OK", "text/plain; charset=utf-8", build_info_text(), head_only);
  std::pair<bool, std::string> h{true, ""};
  if ((path == "/healthz" || path == "/readyz") && health_) {
    try {
      h = health_();
    } catch (const std::exception& e) {
      h = {false, std::string("health check failed: ") + e.what()};
    } catch (...) {
      h = {false, "health check failed"};
    }
  }
  if (path == "/readyz") {
    // Ready: healthy, no "not ready: ..." line and no reload under way. The 503 body gives
    // the reasons, one per line.
    std::string reasons;
    if (!h.first) reasons += "unhealthy\n";
    for (size_t b = 0; b < h.second.size();) {
      size_t e = h.second.find('\n', b);
      if (e == std::string::npos) e = h.second.size();
      std::string line = h.second.substr(b, e - b);
      if (line.rfind("not ready: ", 0) == 0)
        reasons += line.substr(11) + "\n";
      else if (line == "reload in progress")
        reasons += line + "\n";
      b = e + 1;
    }
    return reasons.empty()
               ? http_response(200, "OK", "text/plain; charset=utf-8", "ready\n", head_only)
               : http_response(503, "Service Unavailable", "text/plain; charset=utf-8",
                               "not ready\n" + reasons, head_only);
  }
  if (path == "/healthz") {
    std::string body = h.second;
    if (h.first && body.rfind("ok", 0) != 0) body = "ok\n" + body;
    if (body.empty()) body = "unhealthy\n";
    if (body.back() != '\n') body += '\n';
    return h.first ? http_response(200, "OK", "text/plain; charset=utf-8", body, head_only)
                   : http_response(503, "Service Unavailable", "text/plain; charset=utf-8", body,
                                   head_only);
  }
  return http_response(404, "Not Found", "text/plain; charset=utf-8",
                       "not found; try /metrics, /healthz, /readyz or /version\n", head_only);
}

}  // namespace strata
