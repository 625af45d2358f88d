#include "admin/admin_server.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "common/log.hpp"
#include "metrics/metrics.hpp"

namespace strata {
namespace {

// A client that sends nothing must not hold the single admin thread for long.
constexpr int kClientTimeoutMs = 5000;

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

}  // namespace

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
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 16) == 0) {
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

void AdminServer::run() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error(std::string("admin listener poll failed: ") + std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;  // EAGAIN, ECONNABORTED, EMFILE: try again on the next poll
    serve(client);
    ::close(client);
  }
}

// Closing a socket with unread input makes the kernel send RST, which can destroy the response
// before the client reads it; so half-close, then drain the rest (bounded), as nginx's
// lingering_close does.
void AdminServer::linger_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  char buf[4096];
  for (size_t drained = 0; drained < 16 * kMaxRequestBytes;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    if (::poll(fds, 2, 1000) <= 0 || fds[1].revents) return;
    ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got <= 0) return;
    drained += static_cast<size_t>(got);
  }
}

void AdminServer::serve(int fd) {
  std::string head;
  char buf[1024];
  for (;;) {
    if (head.size() > kMaxRequestBytes) {
      std::string r = http_response(431, "Request Header Fields Too Large", "text/plain",
                                    "request too large\n", false);
      (void)!::send(fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      linger_close(fd);
      return;
    }
    if (head.find("\r\n\r\n") != std::string::npos || head.find("\n\n") != std::string::npos) break;
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, kClientTimeoutMs);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || fds[1].revents) return;  // timeout, error, or stop(): drop the client
    ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got <= 0) return;
    head.append(buf, static_cast<size_t>(got));
  }
  std::string response = respond(head);
  size_t off = 0;
  while (off < response.size()) {
    pollfd fds[2] = {{fd, POLLOUT, 0}, {wake_fds_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, kClientTimeoutMs);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || fds[1].revents) return;
    ssize_t sent =
        ::send(fd, response.data() + off, response.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (sent <= 0) return;
    off += static_cast<size_t>(sent);
  }
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

  if (path == "/metrics")
    return http_response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                         MetricsRegistry::global().render(), head_only);
  if (path == "/healthz") {
    std::pair<bool, std::string> h{true, ""};
    if (health_) {
      try {
        h = health_();
      } catch (const std::exception& e) {
        h = {false, std::string("health check failed: ") + e.what()};
      } catch (...) {
        h = {false, "health check failed"};
      }
    }
    std::string body = h.second;
    if (h.first && body.rfind("ok", 0) != 0) body = "ok\n" + body;
    if (body.empty()) body = "unhealthy\n";
    if (body.back() != '\n') body += '\n';
    return h.first ? http_response(200, "OK", "text/plain; charset=utf-8", body, head_only)
                   : http_response(503, "Service Unavailable", "text/plain; charset=utf-8", body,
                                   head_only);
  }
  return http_response(404, "Not Found", "text/plain; charset=utf-8",
                       "not found; try /metrics or /healthz\n", head_only);
}

}  // namespace strata
