// describe_schema: the option table `strata describe` prints, generated from the schema only
// (as Fluent Bit's config_map prints --help), so nobody writes option docs by hand.
#include <algorithm>
#include <sstream>

#include "config/internal.hpp"

namespace strata {
namespace {

constexpr size_t kWidth = 100;
constexpr size_t kIndent = 4;

const char* type_name(strata_option_type type) {
  return config_detail::option_type_text(type).name;
}

std::string default_text(const strata_option_def& def) {
  if (!def.default_value) return "required";
  if (def.flags & STRATA_OPTF_SECRET) return "(secret)";
  std::string text = def.default_value;
  if (!text.empty()) return text;
  switch (def.type) {
    case STRATA_OPT_STRING_LIST:
      return "[]";
    case STRATA_OPT_TABLE:
      return "{}";
    default:
      return "\"\"";
  }
}

// Greedy word wrap of `text` into lines of at most kWidth columns, each indented.
void wrap(std::ostringstream& out, const std::string& text) {
  std::istringstream words(text);
  std::string word, line;
  const std::string pad(kIndent, ' ');
  while (words >> word) {
    if (!line.empty() && kIndent + line.size() + 1 + word.size() > kWidth) {
      out << pad << line << "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out << pad << line << "\n";
}

std::string bounds_text(const strata_option_def& def) {
  bool lo = def.flags & STRATA_OPTF_HAS_MIN, hi = def.flags & STRATA_OPTF_HAS_MAX;
  auto u = [&](double v) { return config_detail::unit_text(def.type, v); };
  if (lo && hi) return "Range: " + u(def.min) + " .. " + u(def.max);
  if (lo) return "Range: >= " + u(def.min);
  if (hi) return "Range: <= " + u(def.max);
  return "";
}

std::string pad_to(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

std::string describe_schema(const strata_option_def* options, size_t count) {
  size_t name_w = 4, type_w = 4;
  for (size_t i = 0; i < count; ++i) {
    if (options[i].name) name_w = std::max(name_w, std::string(options[i].name).size());
    type_w = std::max(type_w, std::string(type_name(options[i].type)).size());
  }
  name_w += 2;
  type_w += 2;
  std::ostringstream out;
  out << pad_to("NAME", name_w) << pad_to("TYPE", type_w) << "DEFAULT\n";
  for (size_t i = 0; i < count; ++i) {
    const strata_option_def& def = options[i];
    if (i) out << "\n";
    out << pad_to(def.name ? def.name : "?", name_w) << pad_to(type_name(def.type), type_w)
        << default_text(def) << "\n";
    if (def.description) wrap(out, def.description);
    if (std::string b = bounds_text(def); !b.empty()) wrap(out, b);
    std::vector<std::string> allowed;
    for (const char* const* e = def.enum_values; e && *e; ++e) allowed.emplace_back(*e);
    if (!allowed.empty())
      wrap(out, std::string(def.type == STRATA_OPT_STRING_LIST ? "Each one of: " : "One of: ") +
                    config_detail::join(allowed));
    std::vector<std::string> flags;
    if (def.flags & STRATA_OPTF_SECRET) flags.emplace_back("secret");
    if (def.flags & STRATA_OPTF_RELOADABLE) flags.emplace_back("reloadable");
    if (!flags.empty()) wrap(out, "Flags: " + config_detail::join(flags));
  }
  return out.str();
}

}  // namespace strata
