// The `strata` command line: one function per subcommand, each returning the process exit
// code (0 ok, 1 failure, 2 usage), and one add_*_command per subcommand that registers it, its
// options and its help with CLI11. main.cpp calls the add_*_command functions and
// run_command_line(); a new command is one more add_*_command in its own file.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace strata::cli {

// Where run, check and cache read their configuration when -c is not given.
inline constexpr const char* kDefaultConfig = "/etc/strata/strata.toml";

struct Args {
  std::string config = kDefaultConfig;  // -c FILE
  std::string pipeline;                 // --pipeline NAME
  std::string modules_dir;              // --modules-dir DIR
  std::string exit_when_idle;           // --exit-when-idle DURATION
  // --shutdown-timeout DURATION: how long a stop may take before run() gives up (0: forever).
  // Below Kubernetes' default 30 s grace period, so strata says what was stuck before SIGKILL.
  std::string shutdown_timeout = "25s";
  std::string ttl;                 // --ttl DURATION
  std::string tiers;               // warm --tiers l1[,l1b]
  std::string prefix;              // warm --prefix P
  std::string progress_interval;   // warm --progress-interval DURATION
  std::string from;                // replay --from earliest|TIMESTAMP|P:OFF,...
  std::string group;               // replay --group GROUP
  std::vector<std::string> words;  // positional
};

// What the command given on the command line runs once parsing succeeded. A command's
// registration sets it from its CLI11 callback, so nothing runs when parsing fails.
using Action = std::function<int()>;

// -c/--config FILE (default kDefaultConfig) and --modules-dir DIR on `cmd`, into `a`.
void add_config_option(CLI::App& cmd, Args& a);
void add_modules_dir_option(CLI::App& cmd, Args& a);

void add_run_command(CLI::App& app, Action& action);
void add_check_command(CLI::App& app, Action& action);
void add_modules_command(CLI::App& app, Action& action);
void add_describe_command(CLI::App& app, Action& action);
void add_cache_command(CLI::App& app, Action& action);
void add_warm_command(CLI::App& app, Action& action);  // warm.cpp
void add_replay_command(CLI::App& app, Action& action);  // replay.cpp
void add_dead_letters_command(CLI::App& app, Action& action);  // dead_letters.cpp

// Parses argv against `app` (whose commands are registered) and runs the chosen command.
// Usage errors, unknown options and arguments a command does not take: one line on stderr
// naming the command, exit 2. -h/--help on any command: that command's help, exit 0.
int run_command_line(CLI::App& app, Action& action, int argc, char** argv);

// The bash completion script for `app`'s commands and options (`strata completion bash`).
std::string bash_completion(const CLI::App& app);

int run(const Args& a);
int check(const Args& a);
int modules(const Args& a);
int describe(const Args& a);
int cache(const Args& a);
int warm(const Args& a);  // warm.cpp
int replay(const Args& a);  // replay.cpp

}  // namespace strata::cli
