// The listener, the loops' threads and a bounded stop.
#include "server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "event_loop.hpp"

namespace mcfront {
namespace {

// `host`: an IPv4 address, an IPv6 one (bare or in brackets: "::1", "[::1]"), or localhost
// (127.0.0.1). "::" takes IPv4 clients too (IPV6_V6ONLY off): a front has one listener.
bool parse_listen(const std::string& host, int port, sockaddr_storage& ss, socklen_t& len) {
  std::string h = host == "localhost" ? "127.0.0.1" : host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  ss = sockaddr_storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

int listen_socket(const std::string& host, int port, int& bound_port) {
  sockaddr_storage addr;
  socklen_t len = 0;
  if (!parse_listen(host, port, addr, len))
    throw std::runtime_error("listen: '" + host + "' is not an IPv4 or IPv6 address");
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int one = 1, zero = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 1024) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + why);
  }
  len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  bound_port = addr.ss_family == AF_INET6
                   ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                   : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

}  // namespace

Server::Server(FrontConfig cfg, ChainPort& chain, FrontMetrics& metrics)
    : cfg_(std::move(cfg)), chain_(chain), metrics_(metrics) {
  commands_.allow_flush_all = cfg_.allow_flush_all;
  commands_.stats = [this] { return stats_text(); };
}

Server::~Server() {
  stop();
  loops_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

bool Server::wait_idle(int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return in_flight_.load() == 0;
}

void Server::start() {
  listen_fd_ = listen_socket(cfg_.listen, cfg_.port, bound_port_);
  started_unix_ms_ = chain_.now_unix_ms();
  int n = cfg_.threads < 1 ? 1 : cfg_.threads;
  for (int i = 0; i < n; ++i) loops_.push_back(std::make_unique<EventLoop>(*this, listen_fd_));
  for (auto& l : loops_) threads_.emplace_back([loop = l.get()] { loop->run(); });
}

void Server::stop() {
  if (threads_.empty()) return;
  stop_deadline_ns_.store(chain_.monotonic_ns() +
                              static_cast<uint64_t>(cfg_.stop_timeout_ms) * 1'000'000ull,
                          std::memory_order_release);
  stopping_.store(true, std::memory_order_release);
  for (auto& l : loops_) l->wake();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::string Server::stats_text() {
  std::string s;
  auto stat = [&s](const char* name, uint64_t v) {
    s += "STAT ";
    s += name;
    s += ' ';
    append_u64(s, v);
    s += "\r\n";
  };
  int64_t now = chain_.now_unix_ms();
  stat("pid", static_cast<uint64_t>(::getpid()));
  stat("uptime", static_cast<uint64_t>((now - started_unix_ms_) / 1000));
  stat("time", static_cast<uint64_t>(now / 1000));
  s += "STAT version 1.6.0-strata\r\n";
  stat("threads", loops_.size());
  stat("curr_connections", stats_.curr_connections.load());
  stat("total_connections", stats_.total_connections.load());
  stat("rejected_connections", stats_.rejected_connections.load());
  stat("cmd_get", stats_.cmd_get.load());
  stat("cmd_set", stats_.cmd_set.load());
  stat("get_hits", stats_.get_hits.load());
  stat("get_misses", stats_.get_misses.load());
  stat("errors", stats_.errors.load());
  return s;
}

}  // namespace mcfront
