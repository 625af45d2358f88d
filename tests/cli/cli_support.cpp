#include "cli_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "servers.hpp"

extern char** environ;

namespace strata::cli_test {
namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// The parent's environment with `overrides` applied, as "K=V" strings.
std::vector<std::string> child_env(const Env& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool replaced = false;
    for (auto& [k, v] : overrides) replaced |= kv.rfind(k + "=", 0) == 0;
    if (!replaced) out.push_back(kv);
  }
  for (auto& [k, v] : overrides) out.push_back(k + "=" + v);
  return out;
}

// fork + execve with stdout/stderr redirected to files; -1 on failure.
pid_t spawn(const std::vector<std::string>& argv, const Env& env, const std::string& out_path,
            const std::string& err_path) {
  std::vector<std::string> envs = child_env(env);
  std::vector<char*> args, envp;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out >= 0) ::dup2(out, 1);
  if (err >= 0) ::dup2(err, 2);
  ::execve(args[0], args.data(), envp.data());
  std::fprintf(stderr, "cannot exec %s: %s\n", args[0], std::strerror(errno));
  ::_exit(127);
}

int decode_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

// Waits for pid up to timeout_ms; kills it (and returns -1) if it does not exit.
int wait_for(pid_t pid, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return decode_status(st);
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int connect_loopback(int port) { return test::connect_loopback(port, 5000); }

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string strata_bin() { return env_or("STRATA_BIN", STRATA_CLI_BIN); }
std::string modules_dir() { return STRATA_CLI_MODULES; }
std::string mock_kafka_bin() { return env_or("STRATA_MOCK_KAFKA", STRATA_CLI_MOCK_KAFKA); }
std::string embed_bin() { return STRATA_CLI_EMBED; }
std::string probe_modules_dir(const std::string& variant) {
  return std::string(STRATA_CLI_PROBE_MODULES) + "/" + variant;
}

Outcome run(const std::vector<std::string>& argv, const Env& env, int timeout_ms) {
  Outcome o;
  std::string dir = make_temp_dir();
  pid_t pid = spawn(argv, env, dir + "/out", dir + "/err");
  if (pid > 0) o.exit_code = wait_for(pid, timeout_ms);
  o.out = read_file(dir + "/out");
  o.err = read_file(dir + "/err");
  remove_tree(dir);
  // Under -DSTRATA_SANITIZE=ON the children are instrumented too: their reports are failures.
  EXPECT_EQ(o.err.find("Sanitizer"), std::string::npos) << argv[0] << ":\n" << o.err;
  EXPECT_EQ(o.err.find("runtime error:"), std::string::npos) << argv[0] << ":\n" << o.err;
  return o;
}

Outcome strata(const std::vector<std::string>& args, const Env& env) {
  std::vector<std::string> argv{strata_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, env);
}

Background::~Background() {
  if (pid_ > 0) stop(SIGKILL, 10000);
}

bool Background::start(const std::vector<std::string>& argv, const std::string& out_path,
                       const std::string& err_path) {
  pid_ = spawn(argv, {}, out_path, err_path);
  return pid_ > 0;
}

bool Background::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void Background::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int Background::stop(int sig, int timeout_ms) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  int rc = wait_for(pid_, timeout_ms);
  pid_ = -1;
  return rc;
}

int Background::wait(int timeout_ms) {
  if (pid_ <= 0) return -1;
  int rc = wait_for(pid_, timeout_ms);
  pid_ = -1;
  return rc;
}

bool wait_until(const std::function<bool()>& cond, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string line_col(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) return "";
  size_t line = 1, col = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

HttpReply http_get(int port, const std::string& path) {
  HttpReply r;
  int fd = connect_loopback(port);
  if (fd < 0) return r;
  std::string raw;
  if (send_all(fd, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return r;
  r.status = std::atoi(raw.c_str() + 9);
  size_t body = raw.find("\r\n\r\n");
  if (body != std::string::npos) r.body = raw.substr(body + 4);
  return r;
}

std::string memcached_command(int port, const std::string& command) {
  int fd = connect_loopback(port);
  if (fd < 0) return "";
  std::string reply;
  if (send_all(fd, command + "\r\n")) {
    char buf[4096];
    ssize_t n;
    // A reply ends with a line that is one of the terminal answers.
    auto done = [&] {
      for (const char* end :
           {"END\r\n", "DELETED\r\n", "NOT_FOUND\r\n", "STORED\r\n", "NOT_STORED\r\n", "ERROR\r\n"})
        if (reply.size() >= std::strlen(end) &&
            reply.compare(reply.size() - std::strlen(end), std::strlen(end), end) == 0)
          return true;
      return false;
    };
    while (!done() && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
      reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

}  // namespace strata::cli_test
