// Real memcached / redis-server processes for integration tests, on free loopback ports.
// Started by the test, stopped (or killed, or restarted on the same port) by the test.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace strata::test {

// A free TCP port on 127.0.0.1, picked at random just below the kernel's ephemeral range (which
// bind-to-0 and outgoing connections of parallel tests draw from), never the same twice in one
// process, checked bindable. Another process may still take it before it is bound: servers
// started by this harness check that they hold their port (listens_on) and pick again.
int free_port();
// True once something accepts TCP connections on 127.0.0.1:port (waits up to timeout_ms) and,
// when `request` is not empty, answers it with at least one byte.
bool wait_for_port(int port, int timeout_ms, const std::string& request = "");
// A TCP connection to 127.0.0.1:port, or -1; with timeout_ms > 0 its reads and writes time out
// after that long.
int connect_loopback(int port, int timeout_ms);
// SIGSTOP, then waits (up to timeout_ms) until every thread of `pid` is stopped: the stop takes
// effect only once one of its threads runs to take the signal, which on a loaded machine can
// be milliseconds after kill() returned, while its other threads still serve requests. True
// once all are stopped.
bool stop_process(pid_t pid, int timeout_ms = 5000);
// Whether process `pid` holds the socket listening on 127.0.0.1:port (/proc/net/tcp and
// /proc/PID/fd). An answer on the port proves nothing by itself: a parallel test's server that
// took the port first answers too, while our child has not yet failed to bind it and exited.
bool listens_on(pid_t pid, int port);
// Runs a shell command, returns its stdout (stderr passes through); exit status in *status.
std::string run_command(const std::string& cmd, int* status = nullptr);

class ServerProcess {
 public:
  enum class Kind { Memcached, Redis };
  // Does not start. Port 0 = pick a free one.
  ServerProcess(Kind kind, int port = 0, std::vector<std::string> extra_args = {});
  ~ServerProcess();  // stops if running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts and waits until the server answers a request (memcached `version`, Redis `PING`);
  // false (with a message on stderr) if the binary is missing or did not come up in 10 s.
  // With an auto-picked port that another process took meanwhile, it retries on a new one.
  bool start();
  void stop();  // SIGTERM and wait
  void kill();  // SIGKILL and wait (crash)
  bool restart() {
    stop();
    return start();
  }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // for SIGSTOP / SIGCONT (a stalled server)

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  // redis-cli -p PORT ARGS... (Redis only), trimmed stdout.
  std::string redis_cli(const std::string& args) const;

 private:
  bool spawn();  // one attempt on port_
  Kind kind_;
  int port_;
  bool auto_port_;
  bool started_once_ = false;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  std::string dir_;  // scratch dir for redis
};

// A Redis Sentinel (`redis-server CONF --sentinel`, issue 10) on a free loopback port,
// monitoring `master_name` at 127.0.0.1:master_port with `quorum`, down-after-milliseconds
// 1000 and failover-timeout 5000, so a killed master is replaced within seconds. The
// sentinel rewrites its generated config (known replicas and sentinels) in a scratch folder.
class SentinelProcess {
 public:
  SentinelProcess(std::string master_name, int master_port, int quorum = 2,
                  std::vector<std::string> extra_conf = {});
  ~SentinelProcess();
  SentinelProcess(const SentinelProcess&) = delete;
  SentinelProcess& operator=(const SentinelProcess&) = delete;

  bool start();  // false (with a message on stderr) if it did not answer PING in 10 s
  void stop();
  void kill();
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string address() const;                     // "127.0.0.1:PORT"
  std::string cli(const std::string& args) const;  // redis-cli -p PORT ARGS, trimmed
  // SENTINEL get-master-addr-by-name as "127.0.0.1:PORT"; "" when it does not know.
  std::string master_address() const;
  // A field of SENTINEL master NAME (num-slaves, num-other-sentinels, flags, ...); "" if none.
  std::string master_field(const std::string& field) const;
  // Waits (bounded) until it knows at least `replicas` replicas and `others` other sentinels
  // of the master, so that a failover can happen.
  bool wait_ready(int replicas, int others, int timeout_ms) const;

 private:
  bool spawn();
  std::string name_;
  int master_port_, quorum_;
  std::vector<std::string> extra_;
  int port_ = 0;
  bool started_once_ = false;
  pid_t pid_ = -1;
  std::string dir_;
};

}  // namespace strata::test
