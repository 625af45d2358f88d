// `strata completion bash`: the bash completion script, generated from the CLI11 command tree
// the binary parses with, so it cannot drift from the commands and options. The build writes
// it to share/bash-completion/completions/strata and installs it from there.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

#ifndef STRATA_VERSION
#define STRATA_VERSION "0.0.0"
#endif

namespace strata::cli {
namespace {

struct CommandTable {
  std::string path;  // "" for strata itself, "cache get"
  std::vector<std::string> commands, options, value_options;
  std::vector<std::string> file_options, dir_options;
  std::string positional;  // what the first positional is: "module", "command", "bash" or ""
};

std::vector<const CLI::App*> named_subcommands(const CLI::App& cmd) {
  return cmd.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); });
}

void collect(const CLI::App& cmd, const std::string& path, std::vector<CommandTable>* out) {
  CommandTable t;
  t.path = path;
  for (const CLI::App* sub : named_subcommands(cmd)) t.commands.push_back(sub->get_name());
  for (const CLI::Option* o : cmd.get_options()) {
    if (!o->nonpositional()) {
      std::string name = o->get_name(true, false);
      if (t.positional.empty())
        t.positional = name == "MODULE"    ? "module"
                       : name == "COMMAND" ? "command"
                       : name == "SHELL"   ? "bash"
                                           : "";
      continue;
    }
    std::vector<std::string> names;
    for (const std::string& s : o->get_snames()) names.push_back("-" + s);
    for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
    for (const std::string& n : names) {
      t.options.push_back(n);
      if (o->get_type_size_max() > 0) t.value_options.push_back(n);
      if (o->get_type_name() == "FILE") t.file_options.push_back(n);
      if (o->get_type_name() == "DIR") t.dir_options.push_back(n);
    }
  }
  out->push_back(t);
  for (const CLI::App* sub : named_subcommands(cmd))
    collect(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// A bash function `NAME PATH` that prints the words `field` gives for the command PATH.
std::string table_function(const std::string& name, const std::vector<CommandTable>& tables,
                           std::vector<std::string> CommandTable::*field) {
  std::string out = name + "() {\n  case \"$1\" in\n";
  for (const CommandTable& t : tables)
    if (!(t.*field).empty()) out += "    \"" + t.path + "\") echo \"" + join(t.*field) + "\" ;;\n";
  return out + "  esac\n}\n";
}

const char* kDriver = R"BASH(
# _strata_in WORD LIST: is WORD one of LIST's words?
_strata_in() {
  local w
  for w in $2; do [[ $w == "$1" ]] && return 0; done
  return 1
}

_strata() {
  local cur=${COMP_WORDS[COMP_CWORD]} path="" i=1 w after_dashes=0
  # The command path so far; skips options and their values (also --opt=VALUE, which bash
  # splits into --opt, =, VALUE).
  while ((i < COMP_CWORD)); do
    w=${COMP_WORDS[i]}
    if ((after_dashes)); then
      :
    elif [[ $w == -- ]]; then
      after_dashes=1
    elif [[ $w == -* ]]; then
      if _strata_in "$w" "$(_strata_value_options "$path")"; then
        if [[ ${COMP_WORDS[i+1]} == = ]]; then ((i += 2)); else ((i += 1)); fi
      fi
    elif _strata_in "$w" "$(_strata_commands "$path")"; then
      path=${path:+$path }$w
    fi
    ((i += 1))
  done
  # Completing an option's value: "-c F", "--config=F" (cur is "=" or the word after it).
  local opt=""
  if [[ $cur == = ]]; then
    opt=${COMP_WORDS[COMP_CWORD-1]}; cur=""
  elif ((COMP_CWORD >= 2)) && [[ ${COMP_WORDS[COMP_CWORD-1]} == = ]]; then
    opt=${COMP_WORDS[COMP_CWORD-2]}
  elif ((COMP_CWORD >= 2)); then
    opt=${COMP_WORDS[COMP_CWORD-1]}
  fi
  if ((!after_dashes)) && [[ $opt == -* ]] && _strata_in "$opt" "$(_strata_value_options "$path")"; then
    if _strata_in "$opt" "$(_strata_file_options "$path")"; then
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
    elif _strata_in "$opt" "$(_strata_dir_options "$path")"; then
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -d -- "$cur"))
    else
      COMPREPLY=()
    fi
    return 0
  fi
  if ((!after_dashes)) && [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_strata_options "$path")" -- "$cur"))
    return 0
  fi
  local words
  words=$(_strata_commands "$path")
  case $(_strata_positional "$path") in
    module) words="$words pipeline tier front $("${COMP_WORDS[0]}" modules 2>/dev/null | awk 'NR > 1 { print $1 }')" ;;
    command) words="$words $(_strata_commands "")" ;;
    bash) words="$words bash" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  return 0
}
complete -F _strata strata
)BASH";

}  // namespace

std::string bash_completion(const CLI::App& app) {
  std::vector<CommandTable> tables;
  collect(app, "", &tables);
  std::string out = "# bash completion for strata " STRATA_VERSION
                    ", generated by `strata completion bash` from the\n"
                    "# binary's own command table: do not edit (regenerate it instead).\n"
                    "# shellcheck disable=SC2207\n";
  out += table_function("_strata_commands", tables, &CommandTable::commands);
  out += table_function("_strata_options", tables, &CommandTable::options);
  out += table_function("_strata_value_options", tables, &CommandTable::value_options);
  out += table_function("_strata_file_options", tables, &CommandTable::file_options);
  out += table_function("_strata_dir_options", tables, &CommandTable::dir_options);
  out += "_strata_positional() {\n  case \"$1\" in\n";
  for (const CommandTable& t : tables)
    if (!t.positional.empty()) out += "    \"" + t.path + "\") echo " + t.positional + " ;;\n";
  out += "  esac\n}\n";
  return out + kDriver;
}

}  // namespace strata::cli
