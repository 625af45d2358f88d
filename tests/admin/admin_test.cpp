// Tests for the admin HTTP listener over real TCP on 127.0.0.1 (ephemeral ports): /metrics,
// /healthz, 404/405/431, Connection: close, stop() while a client holds a connection, and
// (issue 9) that trickling, idle, non-reading and oversized clients never delay /healthz;
// (issue 11) strata_build_info, /version and the process_* series.
#include "admin/admin_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <ctime>
#include <mutex>
#include <regex>
#include <sys/resource.h>

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

// The value of the unlabelled series `name` in a /metrics body; NAN when it is absent.
double sample(const std::string& body, const std::string& name) {
  size_t p = body.find("\n" + name + " ");
  if (p == std::string::npos) return std::nan("");
  return std::stod(body.substr(p + name.size() + 2));
}

double cpu_seconds_used() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

const std::time_t kTestProcessStarted = std::time(nullptr);

TEST(Admin, Issue11BuildInfoIsOnMetricsAndVersion) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  std::string body = body_of(get(s.port(), "/metrics"));
  EXPECT_NE(body.find("# TYPE strata_build_info gauge\n"), std::string::npos) << body;
  std::smatch m;
  std::regex line(
      "\nstrata_build_info\\{version=\"([^\"]*)\",commit=\"([0-9a-f]+|unknown)\","
      "librdkafka=\"([0-9][^\"]*)\",hiredis=\"([0-9]+\\.[0-9]+\\.[0-9]+)\","
      "libmemcached=\"([0-9][^\"]*)\",luajit=\"([0-9][^\"]*)\"\\} 1\n");
  ASSERT_TRUE(std::regex_search(body, m, line)) << body;
  EXPECT_EQ(m[1].str(), STRATA_TEST_VERSION);

  std::string v = get(s.port(), "/version");
  EXPECT_EQ(v.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << v;
  std::string text = body_of(v);
  EXPECT_EQ(text, "version: " + m[1].str() + "\ncommit: " + m[2].str() + "\nlibrdkafka: " +
                      m[3].str() + "\nhiredis: " + m[4].str() + "\nlibmemcached: " + m[5].str() +
                      "\nluajit: " + m[6].str() + "\n");
}

TEST(Admin, Issue11ProcessMetricsFollowTheProcess) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  std::string before = body_of(get(s.port(), "/metrics"));
  for (const char* t : {"# TYPE process_cpu_seconds_total counter\n",
                        "# TYPE process_resident_memory_bytes gauge\n",
                        "# TYPE process_open_fds gauge\n",
                        "# TYPE process_start_time_seconds gauge\n"})
    EXPECT_NE(before.find(t), std::string::npos) << t << before;
  double fds0 = sample(before, "process_open_fds");
  double rss0 = sample(before, "process_resident_memory_bytes");
  double cpu0 = sample(before, "process_cpu_seconds_total");
  double start = sample(before, "process_start_time_seconds");
  ASSERT_GT(fds0, 0);
  ASSERT_GT(rss0, 0);
  ASSERT_GE(cpu0, 0);
  // Started before this test's static initializers ran, and not long before.
  EXPECT_LE(start, static_cast<double>(kTestProcessStarted) + 1);
  EXPECT_GE(start, static_cast<double>(kTestProcessStarted) - 60);

  // 20 more descriptors, 64 MiB more touched memory, and 0.3 s more CPU (measured by
  // getrusage, not by a clock) must all show in the next scrape.
  int pipes[10][2];
  for (auto& p : pipes) ASSERT_EQ(::pipe(p), 0);
  std::vector<char> block(64 << 20);
  for (size_t i = 0; i < block.size(); i += 4096) block[i] = static_cast<char>(i);
  double burn_until = cpu_seconds_used() + 0.3;
  volatile uint64_t x = 0;
  while (cpu_seconds_used() < burn_until)
    for (int i = 0; i < 100000; ++i) x = x + static_cast<uint64_t>(i);

  std::string after = body_of(get(s.port(), "/metrics"));
  EXPECT_EQ(sample(after, "process_open_fds"), fds0 + 20) << after;
  EXPECT_GE(sample(after, "process_resident_memory_bytes"), rss0 + (32 << 20)) << after;
  EXPECT_GE(sample(after, "process_cpu_seconds_total"), cpu0 + 0.2) << after;
  EXPECT_EQ(sample(after, "process_start_time_seconds"), start);
  for (auto& p : pipes) {
    ::close(p[0]);
    ::close(p[1]);
  }
  EXPECT_EQ(sample(body_of(get(s.port(), "/metrics")), "process_open_fds"), fds0);
  EXPECT_NE(block[4096], 1);  // keeps the block alive past the scrape
}

TEST(Admin, Issue11ReadyzFollowsTheHealthCallbacksNotReadyLines) {
  std::mutex mu;
  std::pair<bool, std::string> answer{true, "ok\ntiers.l2 breaker=closed\npipeline p running\n"};
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, [&] {
                 std::lock_guard<std::mutex> l(mu);
                 return answer;
               }).ok());
  auto set = [&](bool healthy, const std::string& body) {
    std::lock_guard<std::mutex> l(mu);
    answer = {healthy, body};
  };
  std::string r = get(s.port(), "/readyz");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_EQ(body_of(r), "ready\n");

  set(true, "ok\npipeline p paused\nnot ready: pipeline p paused\n");
  r = get(s.port(), "/readyz");
  EXPECT_EQ(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << r;
  EXPECT_EQ(body_of(r), "not ready\npipeline p paused\n");
  // Liveness is not readiness: /healthz stays 200.
  EXPECT_EQ(get(s.port(), "/healthz").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);

  set(true, "ok\nnot ready: tiers.l2 breaker=half_open\nnot ready: pipeline p paused\n");
  EXPECT_EQ(body_of(get(s.port(), "/readyz")),
            "not ready\ntiers.l2 breaker=half_open\npipeline p paused\n");

  set(false, "unhealthy\ntiers.l2 breaker=open\nnot ready: tiers.l2 breaker=open\n");
  EXPECT_EQ(body_of(get(s.port(), "/readyz")), "not ready\nunhealthy\ntiers.l2 breaker=open\n");

  set(true, "ok\npipeline p running\nreload in progress\n");
  EXPECT_EQ(body_of(get(s.port(), "/readyz")), "not ready\nreload in progress\n");

  set(true, "ok\n");
  EXPECT_EQ(body_of(get(s.port(), "/readyz")), "ready\n");
}

TEST(Admin, Issue11ReadyzWithoutCallbackIsReady) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  std::string r = get(s.port(), "/readyz");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_EQ(body_of(r), "ready\n");
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

// --- Issue 9 item 6: the listener serves connections concurrently, each with deadlines. ---

using Clock = std::chrono::steady_clock;

int ms_since(Clock::time_point t) {
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// connect() that gives up after `budget_ms` (a listener that does not accept fills its backlog,
// and a blocking connect() would then wait for SYN retries). Returns a blocking socket or -1.
int connect_within(int port, int budget_ms, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, budget_ms) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
        err == 0)
      rc = 0;
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

// Reads until the peer closes (or resets) the connection or `deadline` passes.
struct Reply {
  std::string bytes;
  bool closed = false;
};
Reply read_until_closed(int fd, Clock::time_point deadline) {
  Reply r;
  char buf[4096];
  for (;;) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, left) <= 0) return r;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      r.bytes.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    r.closed = true;  // EOF or ECONNRESET
    return r;
  }
}

// Whether the server has closed `fd` (EOF or reset), without waiting; data is appended to `seen`.
bool closed_now(int fd, std::string* seen) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      seen->append(buf, static_cast<size_t>(n));
      continue;
    }
    return !(n < 0 && (errno == EAGAIN || errno == EINTR));
  }
}

// One complete GET within `budget_ms` from connect to the server's close; "" or a partial
// response when it did not make it.
std::string probe(int port, const std::string& path, int budget_ms = 1500) {
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(budget_ms);
  int fd = connect_within(port, budget_ms);
  if (fd < 0) return "";
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return "";
  }
  Reply r = read_until_closed(fd, deadline);
  ::close(fd);
  return r.closed ? r.bytes : "timed out after " + std::to_string(budget_ms) + " ms: " + r.bytes;
}

bool is_200(const std::string& r) { return r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0; }

// Generous for an answer on a loaded 2-core machine; the old single-threaded loop held every
// probe for whole seconds.
constexpr int kProbeBudgetMs = 1500;

TEST(Admin, Issue9TricklingClientDoesNotDelayHealthzAndIsDroppedAtTheHeadDeadline) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  Clock::time_point opened = Clock::now();
  int slow = connect_within(s.port(), 2000);
  ASSERT_GE(slow, 0);
  const std::string head = "GET /healthz HTTP/1.1\r\nX-Slow: ";
  std::string seen;
  int closed_after_ms = -1;
  for (int i = 0; i < 14 && closed_after_ms < 0; ++i) {  // one byte every 300 ms, ~4 s at most
    char c = i < static_cast<int>(head.size()) ? head[static_cast<size_t>(i)] : 'a';
    (void)!::send(slow, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    std::string r = probe(s.port(), "/healthz", kProbeBudgetMs);
    ASSERT_TRUE(is_200(r)) << "probe " << i << " while a client trickles its head: " << r;
    if (closed_now(slow, &seen)) closed_after_ms = ms_since(opened);
    std::this_thread::sleep_until(opened + std::chrono::milliseconds(300 * (i + 1)));
  }
  if (closed_after_ms < 0) {
    Reply rest = read_until_closed(slow, opened + std::chrono::seconds(6));
    seen += rest.bytes;
    if (rest.closed) closed_after_ms = ms_since(opened);
  }
  ::close(slow);
  // The head must be complete AdminServer::kHeadTimeoutMs after connect, however it trickles.
  ASSERT_GE(closed_after_ms, 0) << "the trickling client was never dropped";
  EXPECT_GE(closed_after_ms, AdminServer::kHeadTimeoutMs - 100);
  EXPECT_LE(closed_after_ms, AdminServer::kHeadTimeoutMs + AdminServer::kLingerTimeoutMs + 2000);
  EXPECT_TRUE(seen.empty() || seen.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0) << seen;
}

TEST(Admin, Issue9FiftyIdleConnectionsDoNotBlockHealthz) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  std::vector<int> idle;
  for (int i = 0; i < 50; ++i) {
    int fd = connect_within(s.port(), 2000);
    if (fd < 0) break;
    idle.push_back(fd);
  }
  EXPECT_EQ(idle.size(), 50u) << "the listener stopped accepting";
  Clock::time_point opened = Clock::now();
  for (int i = 0; i < 5; ++i) {
    std::string r = probe(s.port(), "/healthz", kProbeBudgetMs);
    ASSERT_TRUE(is_200(r)) << "probe " << i << " with 50 idle connections: " << r;
  }
  // Idle connections do not stay forever: they are dropped at the head deadline.
  for (int fd : idle) {
    Reply r = read_until_closed(
        fd, opened + std::chrono::milliseconds(AdminServer::kHeadTimeoutMs +
                                               AdminServer::kLingerTimeoutMs + 3000));
    EXPECT_TRUE(r.closed);
    ::close(fd);
  }
}

TEST(Admin, Issue9MoreIdleConnectionsThanTheCapStillLetHealthzIn) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  std::vector<int> idle;
  for (size_t i = 0; i < AdminServer::kMaxConnections + 8; ++i) {
    int fd = connect_within(s.port(), 2000);
    if (fd < 0) break;
    idle.push_back(fd);
  }
  EXPECT_EQ(idle.size(), AdminServer::kMaxConnections + 8);
  // The oldest idle connection makes room for a new one: a probe is never refused because
  // idle clients hold every slot.
  for (int i = 0; i < 3; ++i) {
    std::string r = probe(s.port(), "/healthz", kProbeBudgetMs);
    EXPECT_TRUE(is_200(r)) << "probe " << i << ": " << r;
  }
  Reply first = read_until_closed(idle.front(), Clock::now() + std::chrono::seconds(5));
  EXPECT_TRUE(first.closed);
  for (int fd : idle) ::close(fd);
}

TEST(Admin, Issue9ClientThatNeverReadsMetricsDoesNotStallHealthz) {
  // A /metrics body far larger than what the kernel buffers on both ends of the connection.
  for (int i = 0; i < 40000; ++i)
    MetricsRegistry::global()
        .counter("strata_admin_issue9_fill_total", "Fills /metrics.",
                 "series=\"" + std::string(200, 'x') + std::to_string(i) + "\"")
        ->add(1);
  ASSERT_GT(MetricsRegistry::global().render().size(), 8u << 20);
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  int stuck = connect_within(s.port(), 2000, /*rcvbuf=*/4096);
  ASSERT_GE(stuck, 0);
  Clock::time_point asked = Clock::now();
  std::string req = "GET /metrics HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::send(stuck, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  // `stuck` never reads; the server's send buffer to it fills up.
  for (int i = 0; i < 5; ++i) {
    std::string r = probe(s.port(), "/healthz", kProbeBudgetMs);
    ASSERT_TRUE(is_200(r)) << "probe " << i << " while a /metrics reader is stuck: " << r;
  }
  // The write deadline resets the connection (the unsent megabytes are dropped, not queued).
  // poll() with no events waits for POLLHUP/POLLERR only, so nothing is read from `stuck`.
  pollfd p{stuck, 0, 0};
  int budget = AdminServer::kWriteTimeoutMs + 5000;
  int n = ::poll(&p, 1, budget);
  int reset_after_ms = ms_since(asked);
  EXPECT_EQ(n, 1) << "the stuck reader was not dropped within " << budget << " ms";
  EXPECT_GE(reset_after_ms, AdminServer::kWriteTimeoutMs - 100);
  ::close(stuck);
}

TEST(Admin, Issue9OversizedHeadGets431AndIsClosedEvenIfTheClientKeepsSending) {
  AdminServer s;
  ASSERT_TRUE(s.start("127.0.0.1", 0, nullptr).ok());
  int big = connect_within(s.port(), 2000);
  ASSERT_GE(big, 0);
  std::string head =
      "GET /healthz HTTP/1.1\r\nX-Fill: " + std::string(AdminServer::kMaxRequestBytes + 1024, 'a');
  ASSERT_EQ(::send(big, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  std::string seen;
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(kProbeBudgetMs);
  while (seen.find("\r\n\r\n") == std::string::npos && Clock::now() < deadline) {
    if (closed_now(big, &seen)) break;
    pollfd p{big, POLLIN, 0};
    ::poll(&p, 1, 50);
  }
  ASSERT_EQ(seen.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u) << seen;
  EXPECT_NE(seen.find("Connection: close\r\n"), std::string::npos) << seen;
  // The client keeps sending (from its own thread, so that it also sends while a probe
  // waits); the server drains it for a bounded time only, and serves others meanwhile. The
  // server's FIN comes with the response; its close shows as a failing send (RST, then EPIPE).
  Clock::time_point refused = Clock::now();
  std::atomic<int> send_failed_after_ms{-1};
  std::thread trickler([&] {
    for (int i = 0; i < 30; ++i) {  // one byte every 200 ms, 6 s at most
      if (::send(big, "a", 1, MSG_NOSIGNAL) != 1) {
        send_failed_after_ms = ms_since(refused);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  for (int i = 0; i < 5; ++i) {
    std::string r = probe(s.port(), "/healthz", kProbeBudgetMs);
    EXPECT_TRUE(is_200(r)) << "probe " << i << " while a refused client keeps sending: " << r;
    if (!is_200(r)) break;
  }
  trickler.join();
  ::close(big);
  EXPECT_GE(send_failed_after_ms.load(), 0) << "the refused client was never closed";
  EXPECT_LE(send_failed_after_ms.load(), AdminServer::kLingerTimeoutMs + 3000);
}

}  // namespace
}  // namespace strata
