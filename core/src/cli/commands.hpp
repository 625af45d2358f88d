// The `strata` command line: one function per subcommand, each returning the process exit
// code (0 ok, 1 failure, 2 usage). main.cpp parses the words and dispatches.
#pragma once

#include <string>
#include <vector>

namespace strata::cli {

struct Args {
  std::string config;          // -c FILE
  std::string pipeline;        // --pipeline NAME
  std::string modules_dir;     // --modules-dir DIR
  std::string exit_when_idle;  // --exit-when-idle DURATION
  // --shutdown-timeout DURATION: how long a stop may take before run() gives up (0: forever).
  // Below Kubernetes' default 30 s grace period, so strata says what was stuck before SIGKILL.
  std::string shutdown_timeout = "25s";
  std::string ttl;                 // --ttl DURATION
  std::vector<std::string> words;  // positional
};

int run(const Args& a);
int check(const Args& a);
int modules(const Args& a);
int describe(const Args& a);
int cache(const Args& a);

}  // namespace strata::cli
