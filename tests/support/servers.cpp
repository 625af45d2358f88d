#include "servers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace strata::test {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool wait_for_port(int port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::close(fd);
    if (rc == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
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
    : kind_(kind), port_(port ? port : free_port()), extra_(std::move(extra_args)) {}

ServerProcess::~ServerProcess() {
  stop();
  if (!dir_.empty()) run_command("rm -rf '" + dir_ + "'");
}

std::string ServerProcess::address() const { return "127.0.0.1:" + std::to_string(port_); }

bool ServerProcess::start() {
  if (pid_ > 0) return true;
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
    args = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", dir_, "--daemonize", "no", "--loglevel", "warning"};
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
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "cannot exec %s\n", argv[0]);
    ::_exit(127);
  }
  pid_ = pid;
  if (!wait_for_port(port_, 10000)) {
    std::fprintf(stderr, "%s did not come up on port %d\n", args[0].c_str(), port_);
    kill();
    return false;
  }
  return true;
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

}  // namespace strata::test
