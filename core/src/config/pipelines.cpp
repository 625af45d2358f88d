// Pipeline sections: the host schema (pipeline_schema) plus cross-references to instances.
// Reference checks run on the raw nodes so they are reported even when another option of
// the same pipeline is wrong (every error at once).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "common/key_template.hpp"
#include "config/internal.hpp"
#include "config/pipelines.hpp"

namespace strata::config_detail {

void check_reference(const Config& cfg, const std::string& category, const char* singular,
                     const toml::node& node, const std::string& path, Diagnostics& diags) {
  const std::string& name = node.as_string()->get();
  if (cfg.find_instance(category, name)) return;
  const std::vector<InstanceConfig>& defined = category == "sources" ? cfg.sources
                                               : category == "tiers" ? cfg.tiers
                                                                     : cfg.policies;
  std::vector<std::string> names;
  for (const InstanceConfig& inst : defined) names.push_back(inst.name);
  std::string listed = names.empty() ? "no [" + category + ".NAME] sections are defined"
                                     : "defined " + category + ": " + join(names);
  diags.add(pos_of(node, cfg.path), path + ": " + singular + " '" + name + "' is not defined" +
                                        did_you_mean(name, names) + "; " + listed);
}

void check_tier_list(const Config& cfg, const toml::array& arr, const std::string& full,
                     Diagnostics& diags) {
  if (arr.empty())
    diags.add(pos_of(arr, cfg.path), full + ".tiers: must name at least one tier (L1 first)");
  std::unordered_set<std::string> seen;  // a set: a list of 50,000 tiers stays linear
  for (size_t i = 0; i < arr.size(); ++i) {
    const toml::node& e = arr[i];
    if (!e.is_string()) continue;  // reported by the schema check
    std::string path = full + ".tiers[" + std::to_string(i) + "]";
    const std::string& name = e.as_string()->get();
    if (!seen.insert(name).second) {
      diags.add(pos_of(e, cfg.path),
                path + ": tier '" + name + "' is listed twice; each tier may appear once");
      continue;
    }
    check_reference(cfg, "tiers", "tier", e, path, diags);
  }
}

namespace {

void check_references(const Config& cfg, const toml::table& section, const std::string& full,
                      Diagnostics& diags) {
  if (const toml::node* src = section.get("source"); src && src->is_string())
    check_reference(cfg, "sources", "source", *src, full + ".source", diags);
  if (const toml::node* pol = section.get("policy");
      pol && pol->is_string() && !pol->as_string()->get().empty())
    check_reference(cfg, "policies", "policy", *pol, full + ".policy", diags);
  const toml::node* tiers = section.get("tiers");
  if (tiers && tiers->is_array()) check_tier_list(cfg, *tiers->as_array(), full, diags);
}

constexpr int64_t kMaxExactInteger = int64_t{1} << 53;  // a Lua number (double) holds these

// Every value of a script_config: what init() can receive as a Lua value.
bool check_script_value(const toml::node& node, const std::string& path, const Config& cfg,
                        Diagnostics& diags) {
  bool ok = true;
  if (const toml::table* t = node.as_table()) {
    for (auto&& [k, child] : *t)
      ok &= check_script_value(child, path + "." + std::string(k.str()), cfg, diags);
  } else if (const toml::array* a = node.as_array()) {
    for (size_t i = 0; i < a->size(); ++i)
      ok &= check_script_value((*a)[i], path + "[" + std::to_string(i) + "]", cfg, diags);
  } else if (node.is_date() || node.is_time() || node.is_date_time()) {
    diags.add(pos_of(node, cfg.path), path + ": dates and times cannot be passed to init(); " +
                                          "quote the value to pass it as a string");
    ok = false;
  } else if (const auto* i = node.as_integer()) {
    int64_t v = i->get();
    if (v > kMaxExactInteger || v < -kMaxExactInteger) {
      diags.add(pos_of(node, cfg.path),
                path + ": " + std::to_string(v) +
                    " is beyond 2^53, which a Lua number cannot hold exactly; quote it to "
                    "pass it as a string");
      ok = false;
    }
  }
  return ok;
}

// Option `key`: a template that compiles, and no script beside it. "" when unset or refused.
std::string check_key_template(const toml::table& section, const ResolvedOptions& options,
                               const std::string& file, const std::string& full,
                               Diagnostics& diags) {
  std::string text = options.str("key");
  const toml::node* node = section.get("key");
  if (text.empty() || node == nullptr) return {};  // "" is no template, as script = ""
  SourcePos pos = pos_of(*node, file);
  if (!options.str("script").empty()) {
    diags.add(pos, full +
                       ".key: a pipeline takes its key from a script or from a key template, not "
                       "both (a script's key() can build any key; drop one of `key` and `script`)");
    return {};
  }
  KeyTemplate compiled;
  size_t at = 0;
  if (std::string why = KeyTemplate::parse(text, compiled, &at); !why.empty()) {
    pos.col += 1 + static_cast<int>(at);  // past the opening quote (exact without escapes)
    diags.add(pos, full + ".key: " + why);
    return {};
  }
  return text;
}

const toml::table* check_script_config(const Config& cfg, const toml::table& section,
                                       const std::string& full, Diagnostics& diags) {
  const toml::node* node = section.get("script_config");
  if (!node) return nullptr;
  std::string path = full + ".script_config";
  const toml::table* t = node->as_table();
  if (!t) {
    diags.add(pos_of(*node, cfg.path), path + ": expected a table ([" + path +
                                           "] or script_config = { ... }), got " +
                                           toml_type_name(*node));
    return nullptr;
  }
  bool ok = check_script_value(*t, path, cfg, diags);
  if (const toml::node* reserved = t->get("pipeline")) {
    diags.add(pos_of(*reserved, cfg.path),
              path + ".pipeline: reserved: init() receives the pipeline's name as config.pipeline");
    ok = false;
  }
  return ok ? t : nullptr;
}

}  // namespace

void parse_pipelines(Config& cfg, const toml::node& node, Diagnostics& diags) {
  const toml::table* all = node.as_table();
  if (!all) {
    diags.add(
        pos_of(node, cfg.path),
        "pipelines: expected a table of [pipelines.NAME] sections, got " + toml_type_name(node));
    return;
  }
  const auto& schema = pipeline_schema();
  for (auto&& [key, child] : *all) {
    std::string full = "pipelines." + std::string(key.str());
    const toml::table* section = child.as_table();
    if (!section) {
      diags.add(pos_of(child, cfg.path), full + ": expected a [" + full +
                                             "] section (a table), got " + toml_type_name(child));
      continue;
    }
    PipelineConfig p;
    p.name = std::string(key.str());
    p.pos = pos_of(*section, cfg.path);
    if (auto values = validate_table(*section, cfg.path, full, schema.data(), schema.size(),
                                     {"script_config"}, diags);
        values && check_pipeline_values(*section, *values, cfg.path, full, diags)) {
      p.options = std::move(*values);
      p.source = p.options.str("source");
      p.tiers = p.options.list("tiers");
      p.policy = p.options.str("policy");
      p.script = p.options.str("script");
      if (const toml::node* script = section->get("script"))
        p.script_pos = pos_of(*script, cfg.path);
      p.key_template = check_key_template(*section, p.options, cfg.path, full, diags);
    }
    check_references(cfg, *section, full, diags);
    p.script_config = check_script_config(cfg, *section, full, diags);
    cfg.pipelines.push_back(std::move(p));
  }
  std::sort(cfg.pipelines.begin(), cfg.pipelines.end(),
            [](const PipelineConfig& a, const PipelineConfig& b) {
              return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.col < b.pos.col;
            });
}

void check_script_paths(Config& cfg, Diagnostics& diags) {
  for (PipelineConfig& p : cfg.pipelines) {
    if (p.script.empty()) continue;
    std::string why;
    struct stat st {};
    if (::stat(p.script.c_str(), &st) != 0)
      why = std::strerror(errno);
    else if (S_ISDIR(st.st_mode))
      why = "it is a directory, not a Lua script";
    else if (!S_ISREG(st.st_mode))
      why = "it is not a regular file";
    else if (::access(p.script.c_str(), R_OK) != 0)
      why = std::strerror(errno);
    if (why.empty()) continue;
    SourcePos pos = p.script_pos.line > 0 ? p.script_pos : p.pos;
    diags.add(pos, "pipelines." + p.name + ".script: cannot use '" + p.script + "': " + why);
    p.script.clear();
  }
}

}  // namespace strata::config_detail
