// Configuration model: parses the one TOML file (toml++), expands ${VAR}, and validates each
// module instance section against its module's option schema (strata_option_def), reporting
// every error as FILE:LINE:COL: message. Called by the runtime and by `strata check`.
#pragma once

#include <strata/strata.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace strata {

struct SourcePos {
  std::string file;
  int line = 0;
  int col = 0;
};

struct Diagnostic {
  SourcePos pos;
  std::string message;
  std::string str() const;  // "FILE:LINE:COL: message" (FILE: message when no position)
};

class Diagnostics {
 public:
  // How many diagnostics str() prints; a file with thousands of errors needs its first ones
  // fixed, not a screenful per error.
  static constexpr size_t kMaxPrinted = 100;

  // A diagnostic equal to one already added (same position and message) is dropped.
  void add(SourcePos pos, std::string message);
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  // Sorted by file/line/col; one per line, each ending in '\n'. Past kMaxPrinted, one last
  // line "FILE: ... and N more errors" counts the rest.
  std::string str() const;

 private:
  std::vector<Diagnostic> items_;
  std::unordered_multimap<size_t, size_t> seen_;  // hash of pos + message -> index in items_
};

// Validated option values in schema order, owning every string they point to. Stable: the
// strata_option_value array (values()) never moves after construction, so it can be handed to
// a module's create() and kept for the life of the instance.
class ResolvedOptions {
 public:
  ResolvedOptions();
  ~ResolvedOptions();
  ResolvedOptions(ResolvedOptions&&) noexcept;
  ResolvedOptions& operator=(ResolvedOptions&&) noexcept;

  const strata_option_value* values() const;
  size_t size() const;
  // Lookups by option name (for host-level schemas such as [pipelines.*]).
  const strata_option_value* find(const std::string& name) const;
  std::string str(const std::string& name) const;  // STRING, ENUM
  int64_t integer(const std::string& name) const;  // INT, BOOL, DURATION, SIZE
  double number(const std::string& name) const;    // DOUBLE
  std::vector<std::string> list(const std::string& name) const;
  bool is_set(const std::string& name) const;

  struct Storage;  // implementation detail (config.cpp)
  std::unique_ptr<Storage> storage;
};

// One `[tiers.l1]`, `[sources.events]`, `[policies.default]`, `[fronts.mc]` section.
struct InstanceConfig {
  std::string category;                // "tiers" | "sources" | "policies" | "fronts"
  std::string name;                    // "l1"
  std::string module;                  // value of `module = "..."`
  SourcePos pos;                       // of the section header
  SourcePos module_pos;                // of the `module` value
  const toml::table* table = nullptr;  // owned by Config::doc
  std::string full_name() const { return category + "." + name; }  // "tiers.l1"
};

// One `[pipelines.NAME]` section. Validated against pipeline_schema().
struct PipelineConfig {
  std::string name;
  SourcePos pos;
  std::string source;              // instance name within [sources]
  std::vector<std::string> tiers;  // instance names within [tiers], read order (L1 first)
  std::string policy;              // instance name within [policies]; "" = built-in default
  std::string script;              // path, resolved relative to the config file's folder; ""
                                   // when unset or refused by parse_config (already reported)
  SourcePos script_pos;            // of the `script` value (line 0 when unset)
  std::string key_template;        // option `key`, checked by parse_config ("" when unset/refused)
  ResolvedOptions options;         // every key of pipeline_schema()
  // [pipelines.NAME.script_config], owned by Config::doc; nullptr when absent or refused.
  // Checked by parse_config (strings, numbers, booleans, arrays, tables; no dates, no integer
  // beyond 2^53, no key `pipeline`); the runtime hands it to the script's init(config).
  const toml::table* script_config = nullptr;
};

struct AdminConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1";
  int port = 0;  // 0 = disabled unless set
};

struct Config {
  std::string path;  // as given
  std::string dir;   // folder of the file, for relative paths
  std::shared_ptr<toml::table> doc;
  std::string modules_dir;  // top-level `modules_dir`, resolved relative to dir; "" if unset
  std::string log_level = "info";
  std::string log_format = "text";       // "text" | "json"
  int64_t progress_interval_ms = 30000;  // `strata run`'s progress line; 0 = off
  AdminConfig admin;
  std::vector<InstanceConfig> sources, tiers, policies;
  std::vector<PipelineConfig> pipelines;
  // [fronts.NAME]: module instances like the others; their host keys (front_host_schema():
  // `tiers` or `pipeline`, the chain's options) are read with tier_host_options().
  std::vector<InstanceConfig> fronts;

  const InstanceConfig* find_instance(const std::string& category, const std::string& name) const;
  const PipelineConfig* find_pipeline(const std::string& name) const;
};

// The largest configuration file parse_config reads; a larger one is refused unread.
inline constexpr size_t kMaxConfigBytes = 16 * 1024 * 1024;

// Parses and checks the structure: syntax (with toml++'s position), known top-level keys,
// categories, `module` present in each instance, pipelines naming existing instances
// (dangling names), duplicate names, ${VAR} expansion (unset = error). Does NOT validate module
// options (the modules are not loaded yet). Every problem goes to `diags`; returns nullopt only
// when the file could not be read or parsed at all: a path that is not a regular file (a
// folder, a device, a FIFO), a file larger than kMaxConfigBytes, or one that nests too deep.
std::optional<Config> parse_config(const std::string& path, Diagnostics& diags);
// parse_config also checks that every pipeline's `script` is a readable regular file (at the
// `script` value); parse_config_text, which touches no file, does not.
// Same, from text (tests); `path` is used in messages.
std::optional<Config> parse_config_text(const std::string& text, const std::string& path,
                                        Diagnostics& diags);

// Validates one instance section against `options` (the module's schema) plus the host's own
// keys for that category (`module`, and for tiers the breaker keys of tier_host_schema()).
// Unknown key (the message lists the allowed ones), wrong type, out of range, not in enum,
// missing required, bad duration/size syntax. Returns values for the MODULE schema only.
std::optional<ResolvedOptions> validate_instance(const Config& cfg, const InstanceConfig& inst,
                                                 const strata_option_def* options, size_t count,
                                                 Diagnostics& diags);
// Host-level keys every tier section may carry (breaker thresholds), with their values; for a
// [fronts.NAME] section, the keys of front_host_schema().
std::optional<ResolvedOptions> tier_host_options(const Config& cfg, const InstanceConfig& inst,
                                                 Diagnostics& diags);

// Validates a table against a schema (the building block of the above).
std::optional<ResolvedOptions> validate_table(const toml::table& table, const std::string& file,
                                              const std::string& section,
                                              const strata_option_def* options, size_t count,
                                              const std::vector<std::string>& extra_allowed_keys,
                                              Diagnostics& diags);

// Host schemas, printed by `strata describe` like a module's.
const std::vector<strata_option_def>& pipeline_schema();
// The [pipelines.NAME] tables the host checks itself rather than through pipeline_schema()
// (script_config): listed so that `strata describe pipeline` shows every key.
const std::vector<strata_option_def>& pipeline_table_keys();
const std::vector<strata_option_def>& tier_host_schema();
// The host's keys of a [fronts.NAME] section: tiers | pipeline, neg_ttl, chain_threads,
// inline_reads.
const std::vector<strata_option_def>& front_host_schema();

// Parses "250ms", "5s", "5m", "1h", "1d" -> ms; "64KiB", "1MiB", "1GB", "512" -> bytes.
bool parse_duration_ms(const std::string& text, int64_t* out);
bool parse_size_bytes(const std::string& text, int64_t* out);

// --- Additions (config helper) ---------------------------------------------------------------
// The [admin] section's schema (listen, port, enabled), printed by describe like the others.
const std::vector<strata_option_def>& admin_schema();
// Human-friendly renderings used in messages and by describe: 1500 -> "1.5s", 65536 -> "64KiB".
std::string format_duration_ms(int64_t ms);
std::string format_size_bytes(int64_t bytes);
// Closest of `candidates` to `word` when the edit distance is small (typo), else "".
std::string closest_name(const std::string& word, const std::vector<std::string>& candidates);

// What is wrong with a module's option table itself, one line each ("name: the module's schema
// has an invalid default 'x' (expected an integer); this is a bug in the module", "option #2
// has no name"); empty when nothing is. The same checks validation makes when a config leaves
// the option at its default, so `strata modules` and `describe` report them without a config.
std::vector<std::string> schema_problems(const strata_option_def* options, size_t count);

// Renders a schema as the table `strata describe` prints (name, type, default, flags/bounds,
// description). Secret defaults are shown as "(secret)".
std::string describe_schema(const strata_option_def* options, size_t count);

}  // namespace strata
