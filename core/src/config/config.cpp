// parse_config: reads the one TOML file, expands ${VAR}, checks the top-level shape and the
// instance sections, and hands pipelines to pipelines.cpp. Module options are validated later
// (validate_instance), once the loader knows each module's schema.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <filesystem>

#include "config/internal.hpp"
#include "config/pipelines.hpp"

namespace strata {
namespace {

using config_detail::did_you_mean;
using config_detail::join;
using config_detail::pos_of;
using config_detail::toml_type_name;

const std::vector<std::string> kTopLevelKeys = {
    "modules_dir", "log_level", "log_format", "progress_interval", "admin",
    "sources",     "tiers",     "policies",   "pipelines",         "fronts"};
const std::vector<std::string> kInstanceCategories = {"sources", "tiers", "policies", "fronts"};
constexpr const char* kLogLevels[] = {"debug", "info", "warn", "error", nullptr};
constexpr const char* kLogFormats[] = {"text", "json", nullptr};

const std::vector<strata_option_def>& top_level_schema() {
  static const std::vector<strata_option_def> schema = [] {
    strata_option_def level{sizeof(strata_option_def),
                            "log_level",
                            STRATA_OPT_ENUM,
                            "info",
                            0,
                            0.0,
                            0.0,
                            kLogLevels,
                            "Least severe level that is logged."};
    strata_option_def dir{sizeof(strata_option_def),
                          "modules_dir",
                          STRATA_OPT_STRING,
                          "",
                          0,
                          0.0,
                          0.0,
                          nullptr,
                          "Extra folder searched for module .so files."};
    strata_option_def format{sizeof(strata_option_def),
                             "log_format",
                             STRATA_OPT_ENUM,
                             "text",
                             0,
                             0.0,
                             0.0,
                             kLogFormats,
                             "Log line format: text, or json (one object per line)."};
    strata_option_def progress{sizeof(strata_option_def),
                               "progress_interval",
                               STRATA_OPT_DURATION,
                               "30s",
                               STRATA_OPTF_HAS_MIN,
                               0.0,
                               0.0,
                               nullptr,
                               "How often `strata run` logs a progress line; 0 = never."};
    return std::vector<strata_option_def>{dir, level, format, progress};
  }();
  return schema;
}

bool valid_instance_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool by_position(const SourcePos& a, const SourcePos& b) {
  return a.line != b.line ? a.line < b.line : a.col < b.col;
}

// One [sources] / [tiers] / [policies] / [fronts] category: every child must be a section with a module.
void parse_instances(const Config& cfg, const std::string& category, const toml::node& node,
                     std::vector<InstanceConfig>& out, Diagnostics& diags) {
  const toml::table* cat = node.as_table();
  if (!cat) {
    diags.add(pos_of(node, cfg.path), category + ": expected a table of [" + category +
                                          ".NAME] sections, got " + toml_type_name(node));
    return;
  }
  for (auto&& [key, child] : *cat) {
    std::string name(key.str());
    std::string full = category + "." + name;
    const toml::table* section = child.as_table();
    if (!section) {
      diags.add(pos_of(child, cfg.path), full + ": expected a [" + full +
                                             "] section (a table with module = \"...\"), got " +
                                             toml_type_name(child));
      continue;
    }
    if (!valid_instance_name(name))
      diags.add(pos_of(key, cfg.path), full + ": instance name '" + name +
                                           "' may only contain letters, digits, '_' and '-'");
    InstanceConfig inst;
    inst.category = category;
    inst.name = name;
    inst.pos = pos_of(*section, cfg.path);
    inst.table = section;
    const toml::node* module = section->get("module");
    if (!module) {
      diags.add(inst.pos, full +
                              ": missing required key 'module' (the name of the module that "
                              "runs this instance, e.g. module = \"memcached\")");
    } else if (!module->is_string() || module->as_string()->get().empty()) {
      diags.add(
          pos_of(*module, cfg.path),
          full + ".module: expected a module name (a non-empty string), got " +
              (module->is_string() ? std::string("an empty string") : toml_type_name(*module)));
    } else {
      inst.module = module->as_string()->get();
      inst.module_pos = pos_of(*module, cfg.path);
    }
    out.push_back(std::move(inst));
  }
  std::sort(out.begin(), out.end(), [](const InstanceConfig& a, const InstanceConfig& b) {
    return by_position(a.pos, b.pos);
  });
}

void parse_admin(Config& cfg, const toml::node& node, Diagnostics& diags) {
  const toml::table* t = node.as_table();
  if (!t) {
    diags.add(pos_of(node, cfg.path),
              "admin: expected a table ([admin]), got " + toml_type_name(node));
    return;
  }
  const auto& schema = admin_schema();
  auto values = validate_table(*t, cfg.path, "admin", schema.data(), schema.size(), {}, diags);
  if (!values || !config_detail::check_admin_values(*t, *values, cfg.path, diags)) return;
  cfg.admin.enabled = values->integer("enabled") != 0;
  cfg.admin.listen = values->str("listen");
  cfg.admin.port = static_cast<int>(values->integer("port"));
}

std::string resolve_path(const std::string& dir, const std::string& p) {
  if (p.empty()) return "";
  std::filesystem::path path(p);
  if (path.is_absolute()) return p;
  return (std::filesystem::path(dir) / path).lexically_normal().string();
}

}  // namespace

std::optional<Config> parse_config_text(const std::string& text, const std::string& path,
                                        Diagnostics& diags) {
  Config cfg;
  cfg.path = path;
  cfg.dir = std::filesystem::path(path).parent_path().string();
  if (cfg.dir.empty()) cfg.dir = ".";
  // Before toml++: it recurses per nesting level, and a deep enough file overflows the stack.
  if (!config_detail::check_nesting(text, path, diags)) return std::nullopt;
  try {
    cfg.doc =
        std::make_shared<toml::table>(toml::parse(std::string_view(text), std::string_view(path)));
  } catch (const toml::parse_error& e) {
    const auto& r = e.source();
    diags.add(SourcePos{path, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)},
              "TOML syntax error: " + std::string(e.description()));
    return std::nullopt;
  }
  toml::table& doc = *cfg.doc;
  config_detail::expand_env_in_place(doc, path, diags);

  for (auto&& [key, node] : doc) {
    std::string k(key.str());
    if (std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), k) == kTopLevelKeys.end())
      diags.add(pos_of(key, path), k + ": unknown top-level key" + did_you_mean(k, kTopLevelKeys) +
                                       "; allowed: " + join(kTopLevelKeys));
  }
  const auto& top = top_level_schema();
  if (auto values = config_detail::validate_table_impl(doc, path, "", top.data(), top.size(), {},
                                                       /*ignore_unknown=*/true, diags)) {
    cfg.modules_dir = resolve_path(cfg.dir, values->str("modules_dir"));
    cfg.log_level = values->str("log_level");
    cfg.log_format = values->str("log_format");
    cfg.progress_interval_ms = values->integer("progress_interval");
  }
  if (const toml::node* admin = doc.get("admin")) parse_admin(cfg, *admin, diags);
  if (const toml::node* n = doc.get("sources"))
    parse_instances(cfg, "sources", *n, cfg.sources, diags);
  if (const toml::node* n = doc.get("tiers")) parse_instances(cfg, "tiers", *n, cfg.tiers, diags);
  if (const toml::node* n = doc.get("policies"))
    parse_instances(cfg, "policies", *n, cfg.policies, diags);
  if (const toml::node* n = doc.get("pipelines")) config_detail::parse_pipelines(cfg, *n, diags);
  if (const toml::node* n = doc.get("fronts")) {
    parse_instances(cfg, "fronts", *n, cfg.fronts, diags);
    config_detail::check_fronts(cfg, diags);  // after pipelines: `pipeline =` names one
  }
  for (PipelineConfig& p : cfg.pipelines) p.script = resolve_path(cfg.dir, p.script);
  return cfg;
}

std::optional<Config> parse_config(const std::string& path, Diagnostics& diags) {
  auto refuse = [&](const std::string& why) {
    diags.add(SourcePos{path, 0, 0}, "cannot read the configuration file: " + why);
    return std::nullopt;
  };
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below anyway).
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return refuse(std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return refuse(std::strerror(errno));
  // A folder would read as an empty, valid file; /dev/zero or a FIFO would never end.
  if (S_ISDIR(st.st_mode)) return refuse("it is a directory, not a file");
  if (!S_ISREG(st.st_mode)) return refuse("it is not a regular file");
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return refuse(std::strerror(errno));
    if (n == 0) break;
    // The size is checked while reading: a file that grows under us is bounded too.
    if (text.size() + static_cast<size_t>(n) > kMaxConfigBytes)
      return refuse("it is larger than " + format_size_bytes(kMaxConfigBytes) +
                    ", the most strata reads");
    text.append(buf, static_cast<size_t>(n));
  }
  auto cfg = parse_config_text(text, path, diags);
  if (cfg) config_detail::check_script_paths(*cfg, diags);
  return cfg;
}

const InstanceConfig* Config::find_instance(const std::string& category,
                                            const std::string& name) const {
  const std::vector<InstanceConfig>* list = category == "sources"    ? &sources
                                            : category == "tiers"    ? &tiers
                                            : category == "policies" ? &policies
                                            : category == "fronts"   ? &fronts
                                                                     : nullptr;
  if (!list) return nullptr;
  for (const InstanceConfig& inst : *list)
    if (inst.name == name) return &inst;
  return nullptr;
}

const PipelineConfig* Config::find_pipeline(const std::string& name) const {
  for (const PipelineConfig& p : pipelines)
    if (p.name == name) return &p;
  return nullptr;
}

// --- Instance options ----------------------------------------------------------------------

std::optional<ResolvedOptions> validate_instance(const Config& cfg, const InstanceConfig& inst,
                                                 const strata_option_def* options, size_t count,
                                                 Diagnostics& diags) {
  if (!inst.table) {
    diags.add(inst.pos, inst.full_name() + ": the section has no table to validate");
    return std::nullopt;
  }
  std::vector<std::string> extra = {"module"};
  // Host keys the module does not declare itself; a key both declare belongs to the module
  // (tier_host_options still reads it, so the host and the module see the same value).
  std::vector<strata_option_def> host;
  if (inst.category == "tiers" || inst.category == "fronts") {
    const auto& schema = inst.category == "tiers" ? tier_host_schema() : front_host_schema();
    for (const strata_option_def& d : schema) {
      bool module_has = false;
      for (size_t i = 0; i < count; ++i)
        module_has = module_has || (options[i].name && std::strcmp(options[i].name, d.name) == 0);
      if (!module_has) {
        extra.emplace_back(d.name);
        host.push_back(d);
      }
    }
  }
  auto values =
      validate_table(*inst.table, cfg.path, inst.full_name(), options, count, extra, diags);
  bool host_ok = config_detail::validate_table_impl(*inst.table, cfg.path, inst.full_name(),
                                                    host.data(), host.size(), {},
                                                    /*ignore_unknown=*/true, diags)
                     .has_value();
  if (!host_ok) return std::nullopt;
  return values;
}

std::optional<ResolvedOptions> tier_host_options(const Config& cfg, const InstanceConfig& inst,
                                                 Diagnostics& diags) {
  if (!inst.table) {
    diags.add(inst.pos, inst.full_name() + ": the section has no table to validate");
    return std::nullopt;
  }
  const auto& schema = inst.category == "fronts" ? front_host_schema() : tier_host_schema();
  return config_detail::validate_table_impl(*inst.table, cfg.path, inst.full_name(), schema.data(),
                                            schema.size(), {},
                                            /*ignore_unknown=*/true, diags);
}

}  // namespace strata
