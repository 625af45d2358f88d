// strata: the host binary. `strata run|check|modules|describe|cache`, like nginx's -t for check.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include <strata/strata.h>

#include "cli/commands.hpp"

#ifndef STRATA_VERSION
#define STRATA_VERSION "0.0.0"
#endif

namespace {

const char* kUsage =
    "usage: strata <command> [options]\n"
    "\n"
    "commands:\n"
    "  run -c FILE [--exit-when-idle DURATION] [--shutdown-timeout DURATION]\n"
    "                         run the pipelines and fronts until SIGTERM/SIGINT (SIGHUP\n"
    "                         re-reads FILE);\n"
    "                         with --exit-when-idle, exit once nothing arrived for DURATION;\n"
    "                         a stop that takes longer than --shutdown-timeout (default 25s,\n"
    "                         0 = no limit) or a second SIGTERM/SIGINT exits 1 at once,\n"
    "                         committing nothing more\n"
    "  check -c FILE          validate FILE: modules load, options, scripts compile (exit 1\n"
    "                         with every error as FILE:LINE:COL: message)\n"
    "  modules [-c FILE]      list the loadable modules (name, kind, version, description)\n"
    "  describe MODULE        print a module's options from its schema; `describe pipeline`,\n"
    "                         `describe tier` and `describe front` print the host's own keys\n"
    "  cache get|set|del -c FILE [--pipeline NAME] [--ttl DURATION] KEY [VALUE]\n"
    "                         read through / write through a pipeline's tier chain\n"
    "\n"
    "options:\n"
    "  -c, --config FILE      the configuration file\n"
    "  --pipeline NAME        which pipeline's tiers `cache` uses (default: the only one)\n"
    "  --modules-dir DIR      search DIR for modules first (also $STRATA_MODULES_PATH)\n"
    "  -h, --help             this text\n"
    "  -V, --version          print the version and the module ABI\n";

bool take_value(int argc, char** argv, int& i, std::string& out) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "strata: %s needs a value\n", argv[i]);
    return false;
  }
  out = argv[++i];
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer closing a socket must be an error value in the module that wrote, not a dead process.
  ::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "-V" || cmd == "--version" || cmd == "version") {
    std::printf("strata %s (module ABI %d.%d)\n", STRATA_VERSION, STRATA_ABI_MAJOR,
                STRATA_ABI_MINOR);
    return 0;
  }
  strata::cli::Args a;
  for (int i = 2; i < argc; ++i) {
    std::string w = argv[i];
    bool ok = true;
    if (w == "-c" || w == "--config")
      ok = take_value(argc, argv, i, a.config);
    else if (w == "--pipeline")
      ok = take_value(argc, argv, i, a.pipeline);
    else if (w == "--modules-dir")
      ok = take_value(argc, argv, i, a.modules_dir);
    else if (w == "--exit-when-idle")
      ok = take_value(argc, argv, i, a.exit_when_idle);
    else if (w == "--shutdown-timeout")
      ok = take_value(argc, argv, i, a.shutdown_timeout);
    else if (w == "--ttl")
      ok = take_value(argc, argv, i, a.ttl);
    else if (w == "-h" || w == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (w.size() > 1 && w[0] == '-' && w != "-") {
      std::fprintf(stderr, "strata: unknown option '%s' (see strata --help)\n", w.c_str());
      return 2;
    } else
      a.words.push_back(w);
    if (!ok) return 2;
  }
  if (cmd == "run") return strata::cli::run(a);
  if (cmd == "check") return strata::cli::check(a);
  if (cmd == "modules") return strata::cli::modules(a);
  if (cmd == "describe") return strata::cli::describe(a);
  if (cmd == "cache") return strata::cli::cache(a);
  std::fprintf(stderr, "strata: unknown command '%s' (see strata --help)\n", cmd.c_str());
  return 2;
}
