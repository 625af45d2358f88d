// strata C++ SDK: a module's option table and the typed view of its validated values
// (header-only; included by sdk.hpp; the host can build its own schemas with the same builder).
#pragma once

#include <strata/strata.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <strata/error.hpp>

namespace strata {

// ---------------------------------------------------------------------------------------------
// Option schema builder: constexpr, so a module's table is static data.
//   static constexpr strata_option_def kOptions[] = {
//     strata::option("servers", STRATA_OPT_STRING_LIST, "127.0.0.1:11211", "memcached servers"),
//     strata::option("password", STRATA_OPT_STRING, "", "SASL password").secret(),
//     strata::option("timeout", STRATA_OPT_DURATION, "100ms", "I/O timeout").range(1, 60000),
//   };
struct OptionBuilder {
  strata_option_def def;
  constexpr OptionBuilder secret() const {
    OptionBuilder b = *this;
    b.def.flags |= STRATA_OPTF_SECRET;
    return b;
  }
  constexpr OptionBuilder reloadable() const {
    OptionBuilder b = *this;
    b.def.flags |= STRATA_OPTF_RELOADABLE;
    return b;
  }
  constexpr OptionBuilder min(double v) const {
    OptionBuilder b = *this;
    b.def.flags |= STRATA_OPTF_HAS_MIN;
    b.def.min = v;
    return b;
  }
  constexpr OptionBuilder max(double v) const {
    OptionBuilder b = *this;
    b.def.flags |= STRATA_OPTF_HAS_MAX;
    b.def.max = v;
    return b;
  }
  constexpr OptionBuilder range(double lo, double hi) const { return min(lo).max(hi); }
  constexpr OptionBuilder one_of(const char* const* values) const {
    OptionBuilder b = *this;
    b.def.enum_values = values;
    return b;
  }
  constexpr OptionBuilder required() const {
    OptionBuilder b = *this;
    b.def.default_value = nullptr;
    return b;
  }
  constexpr operator strata_option_def() const { return def; }
};

// `default_value` nullptr = required.
constexpr OptionBuilder option(const char* name, strata_option_type type,
                               const char* default_value, const char* description) {
  return OptionBuilder{strata_option_def{sizeof(strata_option_def), name, type, default_value, 0,
                                         0.0, 0.0, nullptr, description}};
}

// Typed, by-name view over the validated values handed to create().
class Options {
 public:
  Options(const strata_option_def* defs, size_t n, const strata_option_value* values)
      : defs_(defs), n_(n), values_(values) {}

  const strata_option_value& raw(std::string_view name) const {
    for (size_t i = 0; i < n_; ++i)
      if (name == defs_[i].name) return values_[i];
    throw Error(STRATA_ERR_INTERNAL, "option '" + std::string(name) + "' is not in the schema");
  }
  bool is_set(std::string_view name) const { return raw(name).is_set != 0; }
  std::string str(std::string_view name) const {
    const char* s = raw(name).s;
    return s ? std::string(s) : std::string();
  }
  int64_t integer(std::string_view name) const { return raw(name).i; }
  bool boolean(std::string_view name) const { return raw(name).i != 0; }
  double number(std::string_view name) const { return raw(name).d; }
  int64_t duration_ms(std::string_view name) const { return raw(name).i; }
  int64_t size_bytes(std::string_view name) const { return raw(name).i; }
  std::vector<std::string> list(std::string_view name) const {
    const auto& v = raw(name);
    std::vector<std::string> out;
    for (size_t i = 0; i < v.list_len; ++i) out.emplace_back(v.list[i]);
    return out;
  }
  std::vector<std::pair<std::string, std::string>> table(std::string_view name) const {
    const auto& v = raw(name);
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i < v.table_len; ++i) out.emplace_back(v.table[i].key, v.table[i].value);
    return out;
  }

 private:
  const strata_option_def* defs_;
  size_t n_;
  const strata_option_value* values_;
};

}  // namespace strata
