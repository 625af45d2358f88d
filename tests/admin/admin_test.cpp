// Tests for the admin HTTP listener over real TCP on 127.0.0.1 (ephemeral ports): /metrics,
// /healthz, 404/405/431, Connection: close, and stop() while a client holds a connection.
#include "admin/admin_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "metrics/metrics.hpp"

namespace strata {
namespace {

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` and reads until the server closes the connection.
std::string roundtrip(int port, const std::string& request) {
  int fd = connect_to(port);
  if (fd < 0) return "connect failed";
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::string get(int port, const std::string& path) {
  return roundtrip(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

std::string body_of(const std::string& response) {
  size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

TEST(Admin, ServesMetricsInPrometheusFormat) {
  MetricsRegistry::global().counter("strata_admin_test_total", "Admin test.", "k=\"v\"")->add(7);
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  ASSERT_GT(s.port(), 0);
  std::string r = get(s.port(), "/metrics");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  std::string body = body_of(r);
  EXPECT_NE(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  EXPECT_NE(body.find("# TYPE strata_admin_test_total counter\n"
                      "strata_admin_test_total{k=\"v\"} 7\n"),
            std::string::npos)
      << body;
  // A query string does not change the route.
  EXPECT_EQ(get(s.port(), "/metrics?format=text").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST(Admin, HealthzReportsTheCallback) {
  std::atomic<bool> healthy{true};
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, [&] {
                 return healthy.load()
                            ? std::make_pair(true, std::string("pipelines: 1 running\n"))
                            : std::make_pair(false, std::string("tiers.l2: breaker open"));
               }).ok());
  std::string r = get(s.port(), "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_EQ(body_of(r), "ok\npipelines: 1 running\n");
  healthy = false;
  r = get(s.port(), "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << r;
  EXPECT_EQ(body_of(r), "tiers.l2: breaker open\n");
}

TEST(Admin, HealthzBodyThatAlreadySaysOkIsKept) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, [] {
                 return std::make_pair(true, std::string("ok\ntiers.l2 breaker=closed\n"));
               }).ok());
  EXPECT_EQ(body_of(get(s.port(), "/healthz")), "ok\ntiers.l2 breaker=closed\n");
}

TEST(Admin, UnhealthyWithoutBodySaysUnhealthy) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, [] { return std::make_pair(false, std::string()); }).ok());
  std::string r = get(s.port(), "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 503 ", 0), 0u) << r;
  EXPECT_EQ(body_of(r), "unhealthy\n");
}

TEST(Admin, HealthzWithoutCallbackIsOk) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  std::string r = get(s.port(), "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_EQ(body_of(r), "ok\n");
}

TEST(Admin, HealthCallbackThatThrowsIsUnhealthy) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, []() -> std::pair<bool, std::string> {
                 throw std::runtime_error("boom");
               }).ok());
  std::string r = get(s.port(), "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 503 ", 0), 0u) << r;
  EXPECT_EQ(body_of(r), "health check failed: boom\n");
}

TEST(Admin, UnknownPathIs404AndOtherMethodsAre405) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  EXPECT_EQ(get(s.port(), "/nope").rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  std::string r = roundtrip(s.port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Allow: GET, HEAD\r\n"), std::string::npos) << r;
  EXPECT_EQ(roundtrip(s.port(), "garbage\r\n\r\n").rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
}

TEST(Admin, HeadHasHeadersButNoBody) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  std::string r = roundtrip(s.port(), "HEAD /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length: 3\r\n"), std::string::npos) << r;
  EXPECT_EQ(body_of(r), "");
}

TEST(Admin, OversizedRequestIsRefused) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  std::string big =
      "GET /metrics HTTP/1.1\r\nX-Fill: " + std::string(AdminServer::kMaxRequestBytes + 100, 'a') +
      "\r\n\r\n";
  std::string r = roundtrip(s.port(), big);
  EXPECT_EQ(r.rfind("HTTP/1.1 431 ", 0), 0u) << r.substr(0, 100);
  // The listener keeps serving afterwards.
  EXPECT_EQ(get(s.port(), "/healthz").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST(Admin, BusyPortIsReported) {
  AdminServer a;
  ASSERT_TRUE(a.start("127.0.0.1", 0, nullptr).ok());
  AdminServer b;
  Result<void> r = b.start("127.0.0.1", a.port(), nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "admin listener cannot bind 127.0.0.1:" + std::to_string(a.port()) +
                           ": Address already in use");
  EXPECT_EQ(b.port(), 0);
}

TEST(Admin, BadAddressIsReported) {
  AdminServer s;
  Result<void> r = s.start("256.1.1.1", 0, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rfind("admin listener cannot resolve \"256.1.1.1\": ", 0), 0u) << r.error();
}

TEST(Admin, StopEndsTheLoopEvenWithAnIdleClientConnected) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  int port = s.port();
  int idle = connect_to(port);  // connects, never sends: the server sits in its read poll
  ASSERT_GE(idle, 0);
  s.stop();  // must return without waiting for the client (the test would time out)
  EXPECT_EQ(s.port(), 0);
  char c;
  EXPECT_LE(::recv(idle, &c, 1, 0), 0);  // the server dropped the connection
  ::close(idle);
  EXPECT_EQ(connect_to(port), -1);                     // nobody listens any more
  s.stop();                                            // idempotent
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());  // and restartable
  EXPECT_EQ(get(s.port(), "/healthz").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

}  // namespace
}  // namespace strata
