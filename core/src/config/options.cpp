// Validation of one TOML table against an option schema (strata_option_def[]), producing the
// strata_option_value array a module's create() receives. Every problem becomes a diagnostic
// naming the option's path and what was expected; all of them are reported, not the first.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "config/internal.hpp"
#include "config/resolved_storage.hpp"

namespace strata {
namespace config_detail {

const OptionTypeText& option_type_text(strata_option_type type) {
  // Indexed by strata_option_type (1..9); row 0 answers for a value outside the enum.
  static constexpr OptionTypeText kRows[] = {
      {"?", "a known option type"},
      {"string", "a string"},
      {"int", "an integer"},
      {"bool", "a boolean (true or false)"},
      {"double", "a number"},
      {"duration",
       "a duration (\"250ms\", \"5s\", \"5m\", \"1h\", \"1d\" or an integer of milliseconds)"},
      {"size", "a size (\"512\", \"64KiB\", \"1MiB\", \"1GiB\", \"1MB\" or an integer of bytes)"},
      {"string list", "an array of strings"},
      {"enum", "a string"},
      {"table", "a table"},
  };
  static_assert(STRATA_OPT_STRING == 1 && STRATA_OPT_TABLE == 9 &&
                sizeof kRows / sizeof kRows[0] == STRATA_OPT_TABLE + 1);
  int i = static_cast<int>(type);
  return kRows[i >= STRATA_OPT_STRING && i <= STRATA_OPT_TABLE ? i : 0];
}

std::string number_text(double v) {
  if (std::fabs(v) < 1e15 && v == std::floor(v)) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string unit_text(strata_option_type type, double v) {
  if (type == STRATA_OPT_DURATION) return format_duration_ms(static_cast<int64_t>(v));
  if (type == STRATA_OPT_SIZE) return format_size_bytes(static_cast<int64_t>(v));
  return number_text(v);
}

namespace {

using Slot = ResolvedOptions::Storage::Slot;

// Where messages go while one table is validated; `failed` tells the caller the result is
// unusable even when a duplicate diagnostic was folded away.
struct Checker {
  const std::string& file;
  const std::string& section;
  Diagnostics& diags;
  bool failed = false;

  std::string path(const std::string& name) const {
    return section.empty() ? name : section + "." + name;
  }
  void error(SourcePos pos, const std::string& path, const std::string& message) {
    failed = true;
    diags.add(std::move(pos), path + ": " + message);
  }
};

std::vector<std::string> enum_list(const strata_option_def& def) {
  std::vector<std::string> out;
  for (const char* const* e = def.enum_values; e && *e; ++e) out.emplace_back(*e);
  return out;
}

bool is_secret(const strata_option_def& def) { return (def.flags & STRATA_OPTF_SECRET) != 0; }

std::string quoted(const strata_option_def& def, const std::string& value) {
  return is_secret(def) ? "the value" : "'" + value + "'";
}

const char* expected_text(strata_option_type type) { return option_type_text(type).expected; }

void check_range(const strata_option_def& def, double v, const SourcePos& pos,
                 const std::string& path, Checker& c) {
  std::string shown = is_secret(def) ? "the value" : unit_text(def.type, v);
  if ((def.flags & STRATA_OPTF_HAS_MIN) && v < def.min)
    c.error(pos, path, shown + " is below the minimum " + unit_text(def.type, def.min));
  if ((def.flags & STRATA_OPTF_HAS_MAX) && v > def.max)
    c.error(pos, path, shown + " is above the maximum " + unit_text(def.type, def.max));
}

bool check_enum(const strata_option_def& def, const std::string& value, const SourcePos& pos,
                const std::string& path, Checker& c) {
  std::vector<std::string> allowed = enum_list(def);
  if (allowed.empty()) return true;
  for (const auto& a : allowed)
    if (a == value) return true;
  std::string hint = is_secret(def) ? "" : did_you_mean(value, allowed);
  c.error(pos, path, quoted(def, value) + " is not one of: " + join(allowed) + hint);
  return false;
}

std::string scalar_text(const toml::node& node) {
  if (auto* s = node.as_string()) return s->get();
  if (auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  std::ostringstream os;
  node.visit([&](auto&& n) { os << n; });
  return os.str();
}

// Nested tables become dotted keys; arrays of scalars become comma-separated text (the form
// librdkafka-style settings expect).
void flatten(const toml::table& table, const std::string& prefix, const std::string& path,
             Slot& slot, Checker& c) {
  for (auto&& [key, node] : table) {
    std::string k = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    std::string p = path + "." + std::string(key.str());
    if (auto* sub = node.as_table()) {
      flatten(*sub, k, p, slot, c);
    } else if (auto* arr = node.as_array()) {
      std::vector<std::string> parts;
      for (const toml::node& e : *arr) {
        if (e.is_table() || e.is_array()) {
          c.error(pos_of(e, c.file), p,
                  "expected a scalar array element, got " + toml_type_name(e));
        } else {
          parts.push_back(scalar_text(e));
        }
      }
      slot.kv.emplace_back(k, join(parts, ","));
    } else {
      slot.kv.emplace_back(k, scalar_text(node));
    }
  }
}

// Converts a configured value into `slot`/`v`; a value that does not fit the definition is
// reported through `c` (which marks the table as failed).
void convert_value(const strata_option_def& def, const toml::node& node, const std::string& path,
                   Slot& slot, strata_option_value& v, Checker& c) {
  SourcePos pos = pos_of(node, c.file);
  auto wrong_type = [&] {
    std::string hint;
    if (def.type == STRATA_OPT_STRING_LIST && node.is_string()) hint = " (write [\"...\"])";
    c.error(pos, path,
            std::string("expected ") + expected_text(def.type) + ", got " + toml_type_name(node) +
                hint);
  };
  switch (def.type) {
    case STRATA_OPT_STRING:
      if (!node.is_string()) return wrong_type();
      slot.s = node.as_string()->get();
      return;
    case STRATA_OPT_ENUM:
      if (!node.is_string()) return wrong_type();
      slot.s = node.as_string()->get();
      check_enum(def, slot.s, pos, path, c);
      return;
    case STRATA_OPT_INT:
      if (!node.is_integer()) return wrong_type();
      v.i = node.as_integer()->get();
      return check_range(def, static_cast<double>(v.i), pos, path, c);
    case STRATA_OPT_DOUBLE:
      if (!node.is_number()) return wrong_type();
      v.d = node.is_integer() ? static_cast<double>(node.as_integer()->get())
                              : node.as_floating_point()->get();
      return check_range(def, v.d, pos, path, c);
    case STRATA_OPT_BOOL:
      if (!node.is_boolean()) return wrong_type();
      v.i = node.as_boolean()->get() ? 1 : 0;
      return;
    case STRATA_OPT_DURATION:
    case STRATA_OPT_SIZE: {
      bool duration = def.type == STRATA_OPT_DURATION;
      const char* what = duration ? "duration" : "size";
      if (node.is_integer()) {
        v.i = node.as_integer()->get();
        if (v.i < 0) return c.error(pos, path, std::string("a ") + what + " cannot be negative");
      } else if (node.is_string()) {
        const std::string& text = node.as_string()->get();
        bool ok = duration ? parse_duration_ms(text, &v.i) : parse_size_bytes(text, &v.i);
        if (!ok)
          return c.error(pos, path, quoted(def, text) + " is not " + expected_text(def.type));
      } else {
        return wrong_type();
      }
      return check_range(def, static_cast<double>(v.i), pos, path, c);
    }
    case STRATA_OPT_STRING_LIST: {
      const toml::array* arr = node.as_array();
      if (!arr) return wrong_type();
      for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = (*arr)[i];
        std::string ep = path + "[" + std::to_string(i) + "]";
        if (!e.is_string()) {
          c.error(pos_of(e, c.file), ep, "expected a string, got " + toml_type_name(e));
          continue;
        }
        slot.list.push_back(e.as_string()->get());
        check_enum(def, slot.list.back(), pos_of(e, c.file), ep, c);
      }
      return;
    }
    case STRATA_OPT_TABLE:
      if (!node.is_table()) return wrong_type();
      return flatten(*node.as_table(), "", path, slot, c);
  }
  c.error(pos, path, "unsupported option type " + std::to_string(def.type) + " in the schema");
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  if (text.find_first_not_of(" \t") == std::string::npos) return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? "" : item.substr(b, e - b + 1));
  }
  return out;
}

// Defaults are schema text; one that does not parse is the module's bug, reported as such.
bool convert_default(const strata_option_def& def, Slot& slot, strata_option_value& v) {
  std::string text = def.default_value;
  auto whole = [&](auto* out) {
    auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
    return r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty();
  };
  switch (def.type) {
    case STRATA_OPT_STRING:
      slot.s = text;
      return true;
    case STRATA_OPT_ENUM: {
      slot.s = text;
      for (const char* const* e = def.enum_values; e && *e; ++e)
        if (text == *e) return true;
      return def.enum_values == nullptr;
    }
    case STRATA_OPT_INT:
      return whole(&v.i);
    case STRATA_OPT_DOUBLE: {
      char* end = nullptr;
      v.d = std::strtod(text.c_str(), &end);
      return !text.empty() && end && *end == '\0';
    }
    case STRATA_OPT_BOOL:
      v.i = text == "true" ? 1 : 0;
      return text == "true" || text == "false";
    case STRATA_OPT_DURATION:
      return parse_duration_ms(text, &v.i);
    case STRATA_OPT_SIZE:
      return parse_size_bytes(text, &v.i);
    case STRATA_OPT_STRING_LIST:
      slot.list = split_list(text);
      return true;
    case STRATA_OPT_TABLE:
      for (const std::string& pair : split_list(text)) {
        size_t eq = pair.find('=');
        if (eq == std::string::npos || eq == 0) return false;
        slot.kv.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
      }
      return true;
  }
  return false;
}

std::string invalid_default_text(const strata_option_def& def) {
  // Appended, not "'" + ... + "'": GCC 12 -O3 warns (-Wrestrict, a false positive in
  // libstdc++'s operator+) on that form, which breaks Release builds with STRATA_WERROR.
  std::string shown = "(secret)";
  if (!is_secret(def)) shown.assign("'").append(def.default_value).append("'");
  return "the module's schema has an invalid default " + shown + " (expected " +
         expected_text(def.type) + "); this is a bug in the module";
}

}  // namespace

std::optional<ResolvedOptions> validate_table_impl(
    const toml::table& table, const std::string& file, const std::string& section,
    const strata_option_def* options, size_t count,
    const std::vector<std::string>& extra_allowed_keys, bool ignore_unknown, Diagnostics& diags) {
  Checker c{file, section, diags};
  std::vector<std::string> allowed;
  for (size_t i = 0; i < count; ++i)
    if (options[i].name) allowed.emplace_back(options[i].name);
  for (const auto& k : extra_allowed_keys) allowed.push_back(k);

  if (!ignore_unknown) {
    for (auto&& [key, node] : table) {
      std::string k(key.str());
      bool known = false;
      for (const auto& a : allowed) known = known || a == k;
      if (!known)
        c.error(pos_of(key, file), c.path(k),
                "unknown option" + did_you_mean(k, allowed) + "; allowed: " + join(allowed));
    }
  }

  ResolvedOptions out;
  auto& st = *out.storage;
  st.slots.resize(count);
  st.values.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const strata_option_def& def = options[i];
    Slot& slot = st.slots[i];
    strata_option_value& v = st.values[i];
    v.type = def.type;
    if (!def.name) {
      c.error(pos_of(table, file), c.path("?"), "option #" + std::to_string(i) + " has no name");
      continue;
    }
    slot.name = def.name;
    std::string path = c.path(def.name);
    if (const toml::node* node = table.get(def.name)) {
      v.is_set = 1;
      convert_value(def, *node, path, slot, v, c);
    } else if (!def.default_value) {
      std::string where = section.empty() ? "top level" : section;
      std::string desc = def.description ? std::string(": ") + def.description : std::string();
      c.error(pos_of(table, file), where,
              std::string("missing required option '") + def.name + "' (" +
                  expected_text(def.type) + desc + ")");
    } else if (!convert_default(def, slot, v)) {
      c.error(pos_of(table, file), path, invalid_default_text(def));
    }
  }
  if (c.failed) return std::nullopt;
  st.finalize();
  return out;
}

}  // namespace config_detail

std::optional<ResolvedOptions> validate_table(const toml::table& table, const std::string& file,
                                              const std::string& section,
                                              const strata_option_def* options, size_t count,
                                              const std::vector<std::string>& extra_allowed_keys,
                                              Diagnostics& diags) {
  return config_detail::validate_table_impl(table, file, section, options, count,
                                            extra_allowed_keys, false, diags);
}

std::vector<std::string> schema_problems(const strata_option_def* options, size_t count) {
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) {
    const strata_option_def& def = options[i];
    if (!def.name) {
      out.push_back("option #" + std::to_string(i) + " has no name");
      continue;
    }
    if (!def.default_value) continue;  // required: nothing to convert
    config_detail::Slot slot;
    strata_option_value v{};
    v.type = def.type;
    if (!config_detail::convert_default(def, slot, v))
      out.push_back(std::string(def.name) + ": " + config_detail::invalid_default_text(def));
  }
  return out;
}

}  // namespace strata
