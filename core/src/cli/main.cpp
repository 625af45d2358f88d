// strata: the host binary. `strata run|check|modules|describe|cache|warm|replay`, like nginx's -t for check.
// Each command registers itself (add_*_command, in the command's own file); command_line.cpp
// parses, refuses what a command does not take, and runs the one given.
#include <signal.h>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  // A peer closing a socket must be an error value in the module that wrote, not a dead process.
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app("strata: loads cache-pipeline modules, wires them from one TOML file and runs them.",
               "strata");
  app.footer(
      std::string("`strata COMMAND --help` prints a command's options. -c FILE defaults to ") +
      strata::cli::kDefaultConfig + ".");
  app.set_help_flag("-h,--help", "print this help and exit");
  strata::cli::Action action;
  strata::cli::add_run_command(app, action);
  strata::cli::add_check_command(app, action);
  strata::cli::add_modules_command(app, action);
  strata::cli::add_describe_command(app, action);
  strata::cli::add_cache_command(app, action);
  strata::cli::add_warm_command(app, action);
  strata::cli::add_replay_command(app, action);
  strata::cli::add_dead_letters_command(app, action);
  return strata::cli::run_command_line(app, action, argc, argv);
}
