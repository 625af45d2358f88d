// Black-box harness for the `strata` command line: runs the binary (or any program) as a child
// process with captured stdout/stderr and exit code, starts long-running children with a log
// file, and talks to the admin listener and memcached over plain sockets. Used by tests/cli/*.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "files.hpp"

namespace strata::cli_test {

// Paths compiled in by tests/cli/CMakeLists.txt.
std::string strata_bin();
std::string modules_dir();
std::string mock_kafka_bin();
std::string embed_bin();
std::string probe_modules_dir(const std::string& variant);  // "a" or "b"

struct Outcome {
  int exit_code = -1;  // -1: did not exit in time (killed) or could not start
  std::string out;
  std::string err;
};

using Env = std::vector<std::pair<std::string, std::string>>;  // set (or override) in the child

// Runs argv[0] with argv, waits up to timeout_ms, captures everything.
Outcome run(const std::vector<std::string>& argv, const Env& env = {}, int timeout_ms = 30000);
// `strata ARGS...`
Outcome strata(const std::vector<std::string>& args, const Env& env = {});

// A long-running child whose stdout and stderr go to separate files.
class Background {
 public:
  ~Background();
  bool start(const std::vector<std::string>& argv, const std::string& out_path,
             const std::string& err_path);
  bool running();
  void signal(int sig);
  // Signals and waits up to timeout_ms; returns the exit code, 128+signal, or -1 if it had to
  // be killed.
  int stop(int sig, int timeout_ms = 30000);
  // Waits up to timeout_ms for it to exit by itself (killed after that): as stop().
  int wait(int timeout_ms);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Polls `cond` every 50 ms until it holds or timeout_ms passed.
bool wait_until(const std::function<bool()>& cond, int timeout_ms);

inline std::string make_temp_dir() { return strata::test::make_temp_dir("strata-cli"); }
using strata::test::read_file;
using strata::test::remove_tree;
using strata::test::write_file;

// 1-based line and column of the first occurrence of `needle` in `text` ("" if absent).
std::string line_col(const std::string& text, const std::string& needle);

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
};
HttpReply http_get(int port, const std::string& path);

// One memcached text-protocol command ("delete k", "get k"); the raw reply up to END/DELETED/...
std::string memcached_command(int port, const std::string& command);

}  // namespace strata::cli_test
