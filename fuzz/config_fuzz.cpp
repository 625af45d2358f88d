// libFuzzer target: arbitrary bytes as a strata TOML file. parse_config_text, then every
// instance section against its module's option table (the real modules, dlopen()ed once) or,
// for an unknown module, a table with one option of every type; tiers also against the host's
// breaker keys. The contract under test: any input ends in a Config or in diagnostics, never in
// a crash, a hang or an exception, and every diagnostic is printable with a position.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "config/config.hpp"
#include "loader/loader.hpp"

namespace {

// Larger inputs only slow the search down; the 16 MiB file limit is parse_config's, not ours.
constexpr size_t kMaxInput = 64 * 1024;

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzz: invariant broken: %s\n%s\n", what, detail.c_str());
  std::abort();
}

const char* const kColours[] = {"red", "green", "blue", nullptr};

// One option of every type, with bounds where the type has them: the schema an instance of an
// unknown module is validated against, so every converter and range check sees fuzzed values.
const std::vector<strata_option_def>& every_type_schema() {
  auto def = [](const char* name, strata_option_type type, const char* dflt, uint32_t flags,
                double min, double max, const char* const* values) {
    return strata_option_def{
        sizeof(strata_option_def), name, type, dflt, flags, min, max, values, "fuzz"};
  };
  constexpr uint32_t kRange = STRATA_OPTF_HAS_MIN | STRATA_OPTF_HAS_MAX;
  static const std::vector<strata_option_def> schema = {
      def("s", STRATA_OPT_STRING, "", 0, 0, 0, nullptr),
      def("secret", STRATA_OPT_STRING, "", STRATA_OPTF_SECRET, 0, 0, nullptr),
      def("i", STRATA_OPT_INT, "0", kRange, -1000, 1000, nullptr),
      def("big", STRATA_OPT_INT, "0", 0, 0, 0, nullptr),
      def("b", STRATA_OPT_BOOL, "false", STRATA_OPTF_RELOADABLE, 0, 0, nullptr),
      def("d", STRATA_OPT_DOUBLE, "0.5", kRange, 0, 1, nullptr),
      def("dur", STRATA_OPT_DURATION, "5s", kRange, 1, 86400000, nullptr),
      def("size", STRATA_OPT_SIZE, "64KiB", STRATA_OPTF_HAS_MAX, 0, 1 << 30, nullptr),
      def("list", STRATA_OPT_STRING_LIST, "", 0, 0, 0, nullptr),
      def("colour", STRATA_OPT_ENUM, "red", 0, 0, 0, kColours),
      def("extra", STRATA_OPT_TABLE, "", 0, 0, 0, nullptr),
      def("required", STRATA_OPT_STRING, nullptr, 0, 0, 0, nullptr),
  };
  return schema;
}

struct Modules {
  strata::ModuleLoader loader{{STRATA_FUZZ_MODULES_DIR}};
  std::map<std::string, const strata_module_descriptor*> by_name;
};

Modules* modules = nullptr;

void check_diagnostics(const strata::Diagnostics& diags, const std::string& input) {
  for (const auto& d : diags.items()) {
    if (d.message.empty()) broken("a diagnostic without a message", input);
    if (d.pos.line < 0 || d.pos.col < 0) broken("a diagnostic with a negative position", d.str());
  }
  std::string printed = diags.str();
  if (!diags.empty() && printed.empty()) broken("diagnostics that print nothing", input);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  strata::log::set_level(STRATA_LOG_ERROR);
  // ${VAR} expansion reads the environment: give the seeds something set, and something empty.
  setenv("STRATA_FUZZ_SET", "127.0.0.1:11211", 1);
  setenv("STRATA_FUZZ_EMPTY", "", 1);
  unsetenv("STRATA_FUZZ_UNSET");
  modules = new Modules();
  std::stringstream names(STRATA_FUZZ_MODULE_LIST);
  for (std::string name; std::getline(names, name, ',');) {
    auto mod = modules->loader.load(name);
    if (!mod) {  // the fuzz build builds them; without them only the generic schema is used
      std::fprintf(stderr, "config_fuzz: %s\n", mod.error().c_str());
      continue;
    }
    modules->by_name[name] = mod.value()->desc;
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return -1;  // not added to the corpus
  const std::string text(reinterpret_cast<const char*>(data), size);
  strata::Diagnostics diags;
  auto cfg = strata::parse_config_text(text, "fuzz.toml", diags);
  if (!cfg) {
    if (diags.empty()) broken("parse_config_text refused the input without a diagnostic", text);
    check_diagnostics(diags, text);
    return 0;
  }
  for (const auto* category : {&cfg->sources, &cfg->tiers, &cfg->policies}) {
    for (const auto& inst : *category) {
      if (!inst.table) broken("an instance without its table", inst.full_name());
      const strata_option_def* options = every_type_schema().data();
      size_t count = every_type_schema().size();
      if (auto it = modules->by_name.find(inst.module); it != modules->by_name.end()) {
        options = it->second->options;
        count = it->second->option_count;
      }
      // A refusal needs a diagnostic, though not a new one: Diagnostics drops a repeat, and
      // validate_instance and tier_host_options both check a tier's breaker keys.
      auto resolved = strata::validate_instance(*cfg, inst, options, count, diags);
      if (!resolved && diags.empty())
        broken("validate_instance refused a section without a diagnostic", inst.full_name());
      if (resolved && resolved->size() != count)
        broken("resolved options do not follow the schema", inst.full_name());
      if (inst.category == "tiers") {
        auto host = strata::tier_host_options(*cfg, inst, diags);
        if (!host && diags.empty())
          broken("tier_host_options refused a section without a diagnostic", inst.full_name());
      }
    }
  }
  for (const auto& p : cfg->pipelines) {
    if (!cfg->find_pipeline(p.name)) broken("a pipeline that find_pipeline cannot find", p.name);
  }
  check_diagnostics(diags, text);
  return 0;
}
