// ${VAR} expansion for every string value of the configuration (secrets come from the
// environment, never from the file). `$$` is a literal `$`; a lone `$` stays as it is. There
// are no shell defaults: `${VAR:-x}` is an error that says so (a default would hide a missing
// secret). The same walk refuses NUL bytes in every string and key.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>

#include "config/internal.hpp"

namespace strata::config_detail {
namespace {

bool is_variable_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

bool expand_env(const std::string& in, std::string* out, std::string* error) {
  std::string result;
  std::vector<std::string> unset;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '$' || i + 1 >= in.size()) {
      result += c;
      continue;
    }
    if (in[i + 1] == '$') {
      result += '$';
      ++i;
      continue;
    }
    if (in[i + 1] != '{') {
      result += c;
      continue;
    }
    size_t close = in.find('}', i + 2);
    if (close == std::string::npos) {
      *error = "unterminated '${' (write '$$' for a literal '$')";
      return false;
    }
    std::string name = in.substr(i + 2, close - i - 2);
    if (name.empty()) {
      *error = "empty variable name in '${}'";
      return false;
    }
    if (!is_variable_name(name)) {
      // Neither the default nor the malformed text is echoed: it may be the secret itself.
      size_t op = name.find_first_of(":-=?+");
      if (op != std::string::npos && op > 0 && is_variable_name(name.substr(0, op))) {
        std::string var = name.substr(0, op);
        bool two = name[op] == ':' && op + 1 < name.size() &&
                   std::string_view("-=?+").find(name[op + 1]) != std::string_view::npos;
        *error =
            "'${" + var + name.substr(op, two ? 2 : 1) +
            "...}': defaults and other shell modifiers are not supported, only ${NAME}; set '" +
            var + "' in the environment, or write the value itself";
      } else {
        *error =
            "'${...}' must hold a variable name (letters, digits and '_', not starting with a "
            "digit)";
      }
      return false;
    }
    const char* value = std::getenv(name.c_str());
    if (!value) {
      unset.push_back("'" + name + "'");
    } else {
      result += value;
    }
    i = close;
  }
  if (!unset.empty()) {
    *error = unset.size() == 1 ? "environment variable " + unset[0] + " is not set"
                               : "environment variables " + join(unset) + " are not set";
    return false;
  }
  *out = std::move(result);
  return true;
}

namespace {

// `path` names the option in messages ("tiers.l2.password", "tiers.l1.servers[1]").
void expand_node(toml::node& node, const std::string& path, const std::string& file,
                 Diagnostics& diags) {
  if (auto* s = node.as_string()) {
    // Modules get strings as C strings: a NUL would silently cut the value short there
    // (key_prefix = "p\u0000q:" stored under "p").
    if (s->get().find('\0') != std::string::npos) {
      diags.add(pos_of(node, file),
                path +
                    ": contains a NUL byte (\\u0000), which would cut the value short; "
                    "remove it");
      return;
    }
    std::string out, error;
    if (expand_env(s->get(), &out, &error)) {
      s->get() = std::move(out);
    } else {
      diags.add(pos_of(node, file), path + ": " + error);
    }
  } else if (auto* arr = node.as_array()) {
    for (size_t i = 0; i < arr->size(); ++i)
      expand_node((*arr)[i], path + "[" + std::to_string(i) + "]", file, diags);
  } else if (auto* tbl = node.as_table()) {
    for (auto&& [key, child] : *tbl) {
      std::string k(key.str());
      if (k.find('\0') != std::string::npos) {
        diags.add(pos_of(key, file), (path.empty() ? "" : path + ": ") +
                                         "a key contains a NUL byte (\\u0000); remove it");
        continue;
      }
      expand_node(child, path.empty() ? k : path + "." + k, file, diags);
    }
  }
}

}  // namespace

void expand_env_in_place(toml::table& table, const std::string& file, Diagnostics& diags) {
  expand_node(table, "", file, diags);
}

}  // namespace strata::config_detail
