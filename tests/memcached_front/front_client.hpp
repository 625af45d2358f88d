// A plain-socket memcached client for the front's tests: send bytes, read replies up to a
// terminator or a byte count, every read bounded by the socket's timeout (no sleeps).
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "servers.hpp"

namespace strata::test {

class McClient {
 public:
  explicit McClient(int port, int timeout_ms = 5000)
      : fd_(connect_loopback(port, timeout_ms)) {}
  ~McClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  McClient(const McClient&) = delete;
  McClient& operator=(const McClient&) = delete;
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until the bytes received end with `end` (or timeout / close: what came so far).
  std::string read_until(const std::string& end) {
    while (!(buf_.size() >= end.size() && buf_.compare(buf_.size() - end.size(), end.size(), end) == 0)) {
      if (!fill()) break;
    }
    std::string out;
    out.swap(buf_);
    return out;
  }
  // Reads exactly n bytes (fewer on timeout or close).
  std::string read_n(size_t n) {
    while (buf_.size() < n && fill()) {
    }
    std::string out = buf_.substr(0, n);
    buf_.erase(0, out.size());
    return out;
  }
  // Sends `request` and reads the reply up to `end`.
  std::string call(const std::string& request, const std::string& end = "\r\n") {
    if (!send(request)) return "<send failed>";
    return read_until(end);
  }
  // True when the server closed the connection (a read returns 0) within the timeout.
  bool closed_by_peer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0;
  }

 private:
  bool fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  std::string buf_;
};

}  // namespace strata::test
