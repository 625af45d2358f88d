// Helpers shared by the config component's files (positions, type names, env expansion,
// secret-safe value echo). Not for use outside core/src/config.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace strata::config_detail {

SourcePos pos_of(const toml::node& node, const std::string& file);
SourcePos pos_of(const toml::key& key, const std::string& file);
// "string", "integer", "float", "boolean", "array", "table", "date", ...
std::string toml_type_name(const toml::node& node);
// The two texts of one option type: the name `strata describe` prints ("duration") and what a
// validation error says was expected ("a duration (\"250ms\", ...)"). One table for both.
struct OptionTypeText {
  const char* name;
  const char* expected;
};
const OptionTypeText& option_type_text(strata_option_type type);
// "a, b, c"
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");
// " (did you mean 'x'?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// A bound or value in the option's own unit, as a user would write it: 1000 -> "1s" for a
// duration, 65536 -> "64KiB" for a size, plain numbers otherwise.
std::string unit_text(strata_option_type type, double v);
std::string number_text(double v);

// Expands ${VAR} and $$ in every string value of `table` (recursively, including arrays and
// inline tables), reporting each unset variable at the string's position. Strings and keys
// holding a NUL byte are refused (modules would see them cut short).
void expand_env_in_place(toml::table& table, const std::string& file, Diagnostics& diags);
// Expands one string; on failure returns false and sets `error` (never echoing the value).
bool expand_env(const std::string& in, std::string* out, std::string* error);

// How deep a configuration may nest: each part of a dotted key or table header and each nested
// array or inline table is one level. Far beyond any real configuration, far below what
// overflows a stack.
inline constexpr int kMaxNesting = 128;
// Scans the raw text (before toml++ parses it) and reports the first place that nests deeper
// than kMaxNesting; false when it does (the text must then not be parsed).
bool check_nesting(std::string_view text, const std::string& file, Diagnostics& diags);

// Rules of the host schemas that an option table cannot state (it bounds numbers only), run on
// a table that passed its schema. Each problem is reported at the offending value; false if any.
// [admin]: `listen` must not be empty.
bool check_admin_values(const toml::table& table, const ResolvedOptions& values,
                        const std::string& file, Diagnostics& diags);
// [pipelines.NAME]: retry_backoff <= retry_backoff_max.
bool check_pipeline_values(const toml::table& table, const ResolvedOptions& values,
                           const std::string& file, const std::string& section, Diagnostics& diags);

// [fronts.NAME]: exactly one of `tiers` / `pipeline`, each naming something defined, and no
// chain option beside `pipeline` (that chain is the pipeline's). Needs cfg.tiers, cfg.pipelines.
void check_fronts(const Config& cfg, Diagnostics& diags);
// "tier 'l3' is not defined (did you mean 'l2'?); defined tiers: l1, l2" at `node` (a string).
void check_reference(const Config& cfg, const std::string& category, const char* singular,
                     const toml::node& node, const std::string& path, Diagnostics& diags);
// `tiers = [...]` of a pipeline or front: non-empty, no duplicates, each defined.
void check_tier_list(const Config& cfg, const toml::array& arr, const std::string& full,
                     Diagnostics& diags);

// Like validate_table(); with `ignore_unknown` keys outside the schema are skipped silently
// (tier_host_options reads the host keys of a section that also holds module keys).
std::optional<ResolvedOptions> validate_table_impl(
    const toml::table& table, const std::string& file, const std::string& section,
    const strata_option_def* options, size_t count,
    const std::vector<std::string>& extra_allowed_keys, bool ignore_unknown, Diagnostics& diags);

}  // namespace strata::config_detail
