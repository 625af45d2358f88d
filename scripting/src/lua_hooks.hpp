// KeyHooks: the per-record Lua hooks of a pipeline (key, ttl, value, invalidate, version, tags,
// invalidate_tags, init).
// The pipeline creates one KeyHooks per worker thread from a script file and calls run() for
// every record; scripts run sandboxed with an instruction budget (docs/scripting.md).
#pragma once

#include <strata/strata.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace strata::lua {

// One value of init()'s config table: a string, number, boolean, array or table (what a
// [pipelines.NAME.script_config] table holds, converted by the runtime).
struct ConfigValue {
  enum class Kind { String, Number, Boolean, Array, Table };
  Kind kind = Kind::String;
  std::string str;
  double number = 0;
  bool boolean = false;
  std::vector<ConfigValue> items;                           // Array: init sees t[1..n]
  std::vector<std::pair<std::string, ConfigValue>> fields;  // Table
  ConfigValue() = default;
  ConfigValue(std::string s) : str(std::move(s)) {}  // NOLINT: implicit, for {{"k", "v"}}
  ConfigValue(const char* s) : str(s) {}             // NOLINT
};

struct ScriptSettings {
  std::string path;                      // script file
  std::vector<std::string> allow;        // subset of io, os, require, debug, ffi
  int64_t instruction_budget = 1000000;  // per hook call; 0 = unlimited (and JIT on)
  std::vector<std::pair<std::string, ConfigValue>> config;  // passed to init(config) as a table
  std::string instance;                    // for log lines, e.g. "pipelines.latest"
  int64_t memory_limit_bytes = 128 << 20;  // per Lua state; 0 = unlimited
};

// Bounds of the tag hooks (docs/scripting.md, "Tags"): a record breaking them is a dead letter.
constexpr size_t kMaxTagsPerRecord = 16;  // tags() and invalidate_tags(), each
constexpr size_t kMaxTagBytes = 200;      // one tag: 1..200 printable bytes, no space

struct HookResult {
  bool skip = false;              // key() returned nil (record intentionally ignored)
  std::vector<std::string> keys;  // key(): one string or a table of strings
  bool has_ttl = false;
  int64_t ttl_ms = -1;  // ttl(): seconds (number, fractional ok) -> ms
  bool has_value = false;
  std::string value;                    // value(): string, or a table JSON-encoded
  std::vector<std::string> invalidate;  // invalidate(): string or table of strings
  bool has_version = false;
  uint64_t version = 0;  // version(): non-negative integer
  std::vector<std::string> tags;             // tags(): attached to every key of the record
  std::vector<std::string> invalidate_tags;  // invalidate_tags(): tags whose keys are dropped
  void clear();
};

class SandboxedState;
struct RecordView;

class KeyHooks {  // one per worker thread; not thread-safe
 public:
  static Result<std::unique_ptr<KeyHooks>> load(const ScriptSettings& s);
  // false + `error` (reason with script:line) when a hook fails or the budget is exhausted.
  // A failure affects only this record: the next run() starts from a clean call.
  bool run(const strata_record& rec, HookResult& out, std::string& error);
  bool has_hook(std::string_view name) const;
  ~KeyHooks();

  KeyHooks(const KeyHooks&) = delete;
  KeyHooks& operator=(const KeyHooks&) = delete;

 private:
  KeyHooks();
  bool pin_script(const ScriptSettings& s, const std::string& source, std::string& error);
  bool lookup_global(const char* name, std::string& error);
  bool call_hook(int fn_slot, const char* phase, std::string& error);
  bool run_hooks(HookResult& out, std::string& error);
  bool run_invalidate(HookResult& out, std::string& error);

  std::unique_ptr<RecordView> view_;  // what the record table reads; outlives state_
  std::unique_ptr<SandboxedState> state_;
  std::string path_;
  bool run_tags(int hook, std::vector<std::string>& out, std::string& error);
  bool has_[7] = {};  // key, ttl, value, invalidate, version, tags, invalidate_tags
  bool has_init_ = false;
};

}  // namespace strata::lua
