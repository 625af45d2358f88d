// ${VAR} expansion for every string value of the configuration (secrets come from the
// environment, never from the file). `$$` is a literal `$`; a lone `$` stays as it is.
#include <cstdlib>

#include "config/internal.hpp"

namespace strata::config_detail {

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
      expand_node(child, path.empty() ? k : path + "." + k, file, diags);
    }
  }
}

}  // namespace

void expand_env_in_place(toml::table& table, const std::string& file, Diagnostics& diags) {
  expand_node(table, "", file, diags);
}

}  // namespace strata::config_detail
