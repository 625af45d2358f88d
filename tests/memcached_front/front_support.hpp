// `strata run` with tiers and a memcached front, as a child process, against real memcached
// and redis-server (tests/support). Used by front_integration_test.cpp.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "files.hpp"
#include "front_client.hpp"
#include "servers.hpp"

namespace strata::test {

// A strata child process serving [fronts.mc] over [tiers.l1] (memcached) and [tiers.l2] (Redis).
class StrataFront {
 public:
  StrataFront() = default;
  ~StrataFront() {
    stop();
    if (!dir_.empty()) remove_tree(dir_);
  }
  StrataFront(const StrataFront&) = delete;
  StrataFront& operator=(const StrataFront&) = delete;

  // `extra_front` goes into [fronts.mc], `extra_l2` into [tiers.l2]. False if strata did not
  // answer `version` on the front's port within 20 s (its log is printed).
  bool start(const ServerProcess& mc, const ServerProcess& redis, const std::string& extra_front = "",
             const std::string& extra_l2 = "") {
    dir_ = make_temp_dir("strata-front");
    port_ = free_port();
    admin_port_ = free_port();
    std::string cfg = "log_level = \"info\"\n[admin]\nlisten = \"127.0.0.1\"\nport = " +
                      std::to_string(admin_port_) + "\n[tiers.l1]\nmodule = \"memcached_l1\"\n" +
                      "servers = [\"" + mc.address() + "\"]\n" +
                      // Generous: a loaded 2-core machine can stall a loopback reply past
                      // the 100 ms defaults, and no test here times memcached out.
                      "io_timeout = \"5s\"\nconnect_timeout = \"5s\"\n[tiers.l2]\nmodule = \"redis_l2\"\n" +
                      "address = \"" + redis.address() + "\"\n" + extra_l2 +
                      "\n[fronts.mc]\nmodule = \"memcached_front\"\nport = " +
                      std::to_string(port_) + "\ntiers = [\"l1\", \"l2\"]\n" + extra_front + "\n";
    config_ = dir_ + "/front.toml";
    write_file(config_, cfg);
    log_ = dir_ + "/strata.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::setenv("STRATA_MODULES_PATH", STRATA_FRONT_MODULES, 1);
      ::execl(STRATA_FRONT_BIN, STRATA_FRONT_BIN, "run", "-c", config_.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (wait_for_port(port_, 20000, "version\r\n")) return true;
    fprintf(stderr, "strata did not serve the front; log:\n%s\n", read_file(log_).c_str());
    return false;
  }
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    for (int i = 0; i < 3000; ++i) {  // 30 s, then SIGKILL
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  std::string log() const { return read_file(log_); }

  // GET /metrics from the admin listener ("" on failure).
  std::string metrics() const {
    McClient c(admin_port_);
    if (!c.ok()) return "";
    c.send("GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
    return c.read_until("\r\n\r\n<never>");  // until the server closes
  }

 private:
  std::string dir_, config_, log_;
  int port_ = 0, admin_port_ = 0;
  pid_t pid_ = -1;
};

// The value of the first sample of `name` whose labels contain `label` ("" = any), -1 if absent.
inline double metric_sample(const std::string& text, const std::string& name,
                            const std::string& label = "") {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    if (!label.empty() && line.find(label) == std::string::npos) continue;
    size_t sp = line.rfind(' ');
    return std::stod(line.substr(sp + 1));
  }
  return -1;
}

}  // namespace strata::test
