#include "servers.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace strata::test {

namespace {

// Binds a TCP socket to 127.0.0.1:port (0: the kernel picks) and releases it: the port it
// got, or 0. No SO_REUSEADDR, so a port in TIME_WAIT counts as taken.
int bind_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  int got = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    got = ntohs(a.sin_port);
  ::close(fd);
  return got;
}

// The first port of the kernel's ephemeral range (ip_local_port_range), or 0.
int ephemeral_low() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0, hi = 0;
  in >> lo >> hi;
  return lo;
}

}  // namespace

// Ports come from just below the kernel's ephemeral range: there neither another process's
// bind to port 0 nor an outgoing connection's source port can take them, which in the
// ephemeral range both can between this pick and the server's bind (ctest runs two test
// processes at once, each with its servers and clients). Random per process, never handed out
// twice by one process, and checked bindable; the kernel's pick when that range is unusable.
int free_port() {
  static std::mutex mu;
  static std::set<int> issued;
  static std::mt19937 rng(
      static_cast<uint32_t>(::getpid()) * 2654435761u ^
      static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::lock_guard<std::mutex> lock(mu);
  const int lo = ephemeral_low();
  constexpr int kSpan = 12000;
  if (lo > kSpan + 1024) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      int port = lo - kSpan + static_cast<int>(rng() % kSpan);
      if (issued.count(port) || bind_loopback(port) != port) continue;
      issued.insert(port);
      return port;
    }
  }
  int port = bind_loopback(0);
  issued.insert(port);
  return port;
}

namespace {

// The inode of the socket listening on 127.0.0.1:port (or 0.0.0.0:port), or "".
std::string listening_inode(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  char want_lo[16], want_any[16];
  std::snprintf(want_lo, sizeof want_lo, "0100007F:%04X", port);
  std::snprintf(want_any, sizeof want_any, "00000000:%04X", port);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, st, queues, timer, retr, uid, timeout, inode;
    f >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (st == "0A" && (local == want_lo || local == want_any)) return inode;
  }
  return "";
}

}  // namespace

bool listens_on(pid_t pid, int port) {
  const std::string inode = listening_inode(port);
  if (inode.empty()) return false;
  const std::string want = "socket:[" + inode + "]";
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool found = false;
  char target[128];
  while (dirent* e = ::readdir(d)) {
    std::string link = dir + "/" + e->d_name;
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = 0;
    if (want == target) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

int connect_loopback(int port, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (timeout_ms > 0) {
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  ::close(fd);
  return -1;
}

namespace {

// Sends `request` and waits (up to 1 s) for the first byte of an answer. A server that
// answered has fully set the connection up, so its counters (memcached's total_connections)
// already include it when the test reads them. Regression (issue 9, item 10): a probe that
// only connected was sometimes counted by memcached after the test's first `stats`.
bool answers(int fd, const std::string& request) {
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::write(fd, request.data(), request.size()) != ssize_t(request.size())) return false;
  char c;
  return ::read(fd, &c, 1) == 1;
}

}  // namespace

bool wait_for_port(int port, int timeout_ms, const std::string& request) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = connect_loopback(port, 0);
    bool ok = fd >= 0 && (request.empty() || answers(fd, request));
    if (fd >= 0) ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool stop_process(pid_t pid, int timeout_ms) {
  if (::kill(pid, SIGSTOP) != 0) return false;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  auto all_stopped = [&] {
    DIR* d = ::opendir(tasks.c_str());
    if (!d) return false;
    bool stopped = true;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream f(tasks + "/" + e->d_name + "/stat");
      std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      size_t paren = stat.rfind(')');  // "pid (comm) S ...": comm may hold spaces
      if (paren == std::string::npos || paren + 2 >= stat.size()) continue;  // thread gone
      char state = stat[paren + 2];
      if (state != 'T' && state != 't') stopped = false;
    }
    ::closedir(d);
    return stopped;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!all_stopped()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::string run_command(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    if (status) *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

ServerProcess::ServerProcess(Kind kind, int port, std::vector<std::string> extra_args)
    : kind_(kind),
      port_(port ? port : free_port()),
      auto_port_(port == 0),
      extra_(std::move(extra_args)) {}

ServerProcess::~ServerProcess() {
  stop();
  if (!dir_.empty()) run_command("rm -rf '" + dir_ + "'");
}

std::string ServerProcess::address() const { return "127.0.0.1:" + std::to_string(port_); }

bool ServerProcess::start() {
  if (pid_ > 0) return true;
  // A port picked by free_port() can be taken by a parallel test before the server binds it;
  // then the server exits, and we pick another port instead of failing by chance.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (spawn()) {
      started_once_ = true;
      return true;
    }
    if (!auto_port_ || started_once_) return false;  // a restart keeps its port
    port_ = free_port();
  }
  return false;
}

bool ServerProcess::spawn() {
  std::vector<std::string> args;
  std::string port = std::to_string(port_);
  if (kind_ == Kind::Memcached) {
    args = {"memcached", "-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "64", "-u", "root"};
  } else {
    if (dir_.empty()) {
      char tmpl[] = "/tmp/strata-redis-XXXXXX";
      char* d = ::mkdtemp(tmpl);
      dir_ = d ? d : "/tmp";
    }
    args = {"redis-server", "--port", port,    "--bind", "127.0.0.1",   "--save", "",
            "--appendonly", "no",     "--dir", dir_,     "--daemonize", "no",     "--loglevel",
            "warning"};
  }
  for (auto& e : extra_) args.push_back(e);
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Quiet child; keep stderr for diagnostics.
    FILE* devnull = std::fopen("/dev/null", "w");
    if (devnull) ::dup2(fileno(devnull), 1);
    ::setpgid(0, 0);
    // Dies with the test process, also when that one ends without destructors (an abort, a
    // sanitizer's halt), so no server keeps ctest waiting on its output pipe.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "cannot exec %s\n", argv[0]);
    ::_exit(127);
  }
  pid_ = pid;
  // A request each server answers whatever its auth settings (an error reply is an answer).
  const std::string probe = kind_ == Kind::Memcached ? "version\r\n" : "PING\r\n";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {  // exited: port taken, or bad arguments
      pid_ = -1;
      return false;
    }
    if (wait_for_port(port_, 100, probe)) {
      // Whoever answered must be our child. Its being alive is not enough (CI, 2026-12-04: a
      // parallel test's memcached held the port and answered the PING while redis-server was
      // still failing to bind it): it must hold the listening socket. If not, it exits soon.
      if (listens_on(pid_, port_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::fprintf(stderr, "%s did not come up on port %d\n", args[0].c_str(), port_);
  kill();
  return false;
}

void ServerProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int st;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

void ServerProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

std::string ServerProcess::redis_cli(const std::string& args) const {
  std::string out = run_command("redis-cli -p " + std::to_string(port_) + " " + args);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// ---------------------------------------------------------------------------------------------

SentinelProcess::SentinelProcess(std::string master_name, int master_port, int quorum,
                                 std::vector<std::string> extra_conf)
    : name_(std::move(master_name)),
      master_port_(master_port),
      quorum_(quorum),
      extra_(std::move(extra_conf)) {}

SentinelProcess::~SentinelProcess() {
  stop();
  if (!dir_.empty()) run_command("rm -rf '" + dir_ + "'");
}

std::string SentinelProcess::address() const { return "127.0.0.1:" + std::to_string(port_); }

bool SentinelProcess::start() {
  if (pid_ > 0) return true;
  // A restart keeps its port and the config the sentinel rewrote (what it learnt).
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!started_once_) port_ = free_port();
    if (spawn()) {
      started_once_ = true;
      return true;
    }
    if (started_once_) return false;
  }
  return false;
}

bool SentinelProcess::spawn() {
  if (dir_.empty()) {
    char tmpl[] = "/tmp/strata-sentinel-XXXXXX";
    char* d = ::mkdtemp(tmpl);
    dir_ = d ? d : "/tmp";
  }
  std::string conf = dir_ + "/sentinel.conf";
  if (!started_once_) {
    std::ofstream out(conf);
    out << "port " << port_ << "\nbind 127.0.0.1\ndaemonize no\ndir " << dir_
        << "\nloglevel warning\nsentinel monitor " << name_ << " 127.0.0.1 " << master_port_ << " "
        << quorum_ << "\nsentinel down-after-milliseconds " << name_
        << " 1000\nsentinel failover-timeout " << name_ << " 5000\nsentinel parallel-syncs "
        << name_ << " 1\n";
    for (const auto& line : extra_) out << line << "\n";
  }
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    FILE* devnull = std::fopen("/dev/null", "w");
    if (devnull) ::dup2(fileno(devnull), 1);
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execlp("redis-server", "redis-server", conf.c_str(), "--sentinel", (char*)nullptr);
    std::fprintf(stderr, "cannot exec redis-server\n");
    ::_exit(127);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (wait_for_port(port_, 100, "PING\r\n")) {
      if (listens_on(pid_, port_)) return true;  // ours, not a parallel test's (see above)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::fprintf(stderr, "redis sentinel did not come up on port %d\n", port_);
  kill();
  return false;
}

void SentinelProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int st;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

void SentinelProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

std::string SentinelProcess::cli(const std::string& args) const {
  std::string out = run_command("redis-cli -p " + std::to_string(port_) + " " + args);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string SentinelProcess::master_address() const {
  std::istringstream in(cli("SENTINEL get-master-addr-by-name " + name_));
  std::string host, port;
  if (!std::getline(in, host) || !std::getline(in, port) || port.empty()) return "";
  return host + ":" + port;
}

std::string SentinelProcess::master_field(const std::string& field) const {
  std::istringstream in(cli("SENTINEL master " + name_));
  std::string k, v;
  while (std::getline(in, k) && std::getline(in, v))
    if (k == field) return v;
  return "";
}

bool SentinelProcess::wait_ready(int replicas, int others, int timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::atoi(master_field("num-slaves").c_str()) >= replicas &&
        std::atoi(master_field("num-other-sentinels").c_str()) >= others)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace strata::test
