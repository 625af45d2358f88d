// The command line around the commands: the options several commands share, -V/--version,
// `help`, `version` and `completion`, and how a parse failure or a word a command does not take
// becomes one line on stderr and exit 2. CLI11 parses; every app allows extras so that strata,
// not CLI11, words the refusal (naming the command, not "The following arguments were not
// expected").
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <strata/strata.h>
#include <CLI/CLI.hpp>

#include "admin/build_info.hpp"
#include "cli/commands.hpp"

#ifndef STRATA_VERSION
#define STRATA_VERSION "0.0.0"
#endif

namespace strata::cli {
namespace {

// "strata 0.1.0 (module ABI 1.0)", then the commit and the libraries, as nginx -V: what a bug
// report needs. The first line stays one line for scripts that read only it.
std::string version_text() {
  std::string out = "strata " STRATA_VERSION " (module ABI " + std::to_string(STRATA_ABI_MAJOR) +
                    "." + std::to_string(STRATA_ABI_MINOR) + ")\n";
  for (const auto& [k, v] : build_info())
    if (k != "version") out += k + ": " + v + "\n";
  return out;
}

// The parsed commands from the top: {strata, cache, get}.
std::vector<const CLI::App*> parsed_chain(const CLI::App& app) {
  std::vector<const CLI::App*> out{&app};
  while (!out.back()->get_subcommands().empty())
    out.push_back(out.back()->get_subcommands().front());
  return out;
}

// "strata cache get" for chain[0..n].
std::string command_name(const std::vector<const CLI::App*>& chain, size_t n) {
  std::string out = "strata";
  for (size_t i = 1; i <= n && i < chain.size(); ++i) out += " " + chain[i]->get_name();
  return out;
}

std::string subcommand_names(const CLI::App& cmd) {
  std::string out;
  for (const CLI::App* sub :
       cmd.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); }))
    out += (out.empty() ? "" : ", ") + sub->get_name();
  return out;
}

// One line for the first word some command in the chain did not take; "" if there is none.
std::string refusal(const std::vector<const CLI::App*>& chain) {
  for (size_t i = 0; i < chain.size(); ++i) {
    std::vector<std::string> extra;
    for (std::string& w : chain[i]->remaining(false))  // CLI11 2.1 keeps a `--` it obeyed
      if (w != "--") extra.push_back(std::move(w));
    if (extra.empty()) continue;
    const std::string& w = extra.front();
    bool option = w.size() > 1 && w[0] == '-';
    // Words after `--` are left with strata itself: they were given to the command.
    if (i == 0 && !option && chain.size() > 1) i = chain.size() - 1;
    std::string cmd = command_name(chain, i);
    std::string what;
    if (option)
      what = "unknown option '" + w.substr(0, w.find('=')) + "'";
    else if (!subcommand_names(*chain[i]).empty() && i + 1 == chain.size())
      what = "unknown command '" + w + "'";
    else
      what = "unexpected argument '" + w + "'";
    return cmd + ": " + what + " (see " + cmd + " --help)";
  }
  return "";
}

// A subcommand copies allow_extras from its parent when it is created: the commands were added
// before run_command_line() set it, so set it on each.
void allow_extras_below(CLI::App& cmd) {
  for (CLI::App* sub : cmd.get_subcommands([](CLI::App*) { return true; })) {
    sub->allow_extras();
    allow_extras_below(*sub);
  }
}

void add_help_command(CLI::App& app, Action& action) {
  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* help = app.add_subcommand("help", "print the help of strata or of COMMAND");
  help->add_option("COMMAND", *words, "a command, e.g. `run` or `cache set`");
  help->callback([&app, &action, words] {
    action = [&app, words] {
      const CLI::App* cmd = &app;
      std::string name = "strata";
      for (const std::string& w : *words) {
        const CLI::App* next = nullptr;
        for (const CLI::App* sub : cmd->get_subcommands([](const CLI::App*) { return true; }))
          if (sub->get_name() == w) next = sub;
        if (next == nullptr) {
          std::fprintf(stderr, "%s: unknown command '%s' (see %s --help)\n", name.c_str(),
                       w.c_str(), name.c_str());
          return 2;
        }
        cmd = next;
        name += " " + w;
      }
      std::fputs(cmd->help(name.substr(0, name.rfind(' '))).c_str(), stdout);
      return 0;
    };
  });
}

void add_builtin_commands(CLI::App& app, Action& action) {
  app.add_flag_callback(
      "-V,--version",
      [] {
        std::fputs(version_text().c_str(), stdout);
        throw CLI::Success();
      },
      "print the version, the git commit and the library versions, and exit");
  add_help_command(app, action);
  app.add_subcommand("version", "print the version, the git commit and the library versions")
      ->callback([&action] {
        action = [] {
          std::fputs(version_text().c_str(), stdout);
          return 0;
        };
      });
  auto shell = std::make_shared<std::string>();
  CLI::App* completion =
      app.add_subcommand("completion", "print the completion script for SHELL (bash)");
  completion->add_option("SHELL", *shell, "the shell: bash")
      ->required()
      ->check(CLI::IsMember({"bash"}));
  // The callback keeps `shell` alive: CLI11 writes the parsed SHELL into it during parse().
  completion->callback([&app, &action, shell] {
    action = [&app] {
      std::fputs(bash_completion(app).c_str(), stdout);
      return 0;
    };
  });
}

}  // namespace

void add_config_option(CLI::App& cmd, Args& a) {
  cmd.add_option("-c,--config", a.config, "the configuration file")
      ->type_name("FILE")
      ->capture_default_str();
}

void add_modules_dir_option(CLI::App& cmd, Args& a) {
  cmd.add_option("--modules-dir", a.modules_dir,
                 "search DIR for modules first (also $STRATA_MODULES_PATH)")
      ->type_name("DIR");
}

int run_command_line(CLI::App& app, Action& action, int argc, char** argv) {
  app.allow_extras();  // strata words the refusal (see refusal())
  app.require_subcommand(1);
  add_builtin_commands(app, action);
  allow_extras_below(app);
  if (argc < 2) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);  // the help of the command given, if any
    return 0;
  } catch (const CLI::Success&) {
    return 0;
  } catch (const CLI::ParseError& e) {
    std::vector<const CLI::App*> chain = parsed_chain(app);
    std::string line = refusal(chain);
    if (line.empty()) {
      std::string cmd = command_name(chain, chain.size() - 1);
      std::string what = e.what();
      if (dynamic_cast<const CLI::RequiredError*>(&e) && !subcommand_names(*chain.back()).empty())
        what = "a command is required: " + subcommand_names(*chain.back());
      line = cmd + ": " + what + " (see " + cmd + " --help)";
    }
    std::fprintf(stderr, "%s\n", line.c_str());
    return 2;
  }
  if (std::string line = refusal(parsed_chain(app)); !line.empty()) {
    std::fprintf(stderr, "%s\n", line.c_str());
    return 2;
  }
  return action ? action() : 2;
}

}  // namespace strata::cli
