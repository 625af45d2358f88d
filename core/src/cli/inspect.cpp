// `strata check`, `strata modules`, `strata describe`: everything that looks at a
// configuration or at modules without running a pipeline.
#include <cstddef>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "loader/loader.hpp"
#include "runtime/runtime.hpp"

namespace strata::cli {
namespace {

// --modules-dir first, then the config's `modules_dir` when -c is given: the same folders, in
// the same order, as `check` and `run` search.
std::vector<std::string> search_path(const Args& a) {
  std::string config_dir;
  if (!a.config.empty()) {
    Diagnostics ignored;
    if (auto cfg = parse_config(a.config, ignored)) config_dir = cfg->modules_dir;
  }
  return Runtime::module_search_path(a.modules_dir, config_dir);
}

// "durable, versioned" for a tier's strata_tier_flags; "volatile" stands for not durable.
std::string tier_flag_names(uint32_t flags) {
  std::string out = (flags & STRATA_TIER_DURABLE) ? "durable" : "volatile";
  if (flags & STRATA_TIER_VERSIONED) out += ", versioned";
  if (flags & STRATA_TIER_WATERMARK) out += ", watermark";
  if (flags & STRATA_TIER_RICH) out += ", rich";
  if (flags & STRATA_TIER_FLUSHABLE) out += ", flushable";
  if (flags & STRATA_TIER_TAGS) out += ", tags";
  if (flags & STRATA_TIER_SCANNABLE) out += ", scannable";
  uint32_t known = STRATA_TIER_DURABLE | STRATA_TIER_VERSIONED | STRATA_TIER_WATERMARK |
                   STRATA_TIER_RICH | STRATA_TIER_FLUSHABLE | STRATA_TIER_TAGS |
                   STRATA_TIER_SCANNABLE;
  if (flags & ~known) out += ", unknown bits " + std::to_string(flags & ~known);
  return out;
}

// "name, name" of the hooks that are set; `struct_size` bounds what may be read.
std::string hook_names(std::initializer_list<std::pair<const char*, bool>> hooks) {
  std::string out;
  for (const auto& [name, set] : hooks)
    if (set) out += (out.empty() ? "" : ", ") + std::string(name);
  return out.empty() ? "none" : out;
}

// The kind's part of `describe`: a tier's flags, a policy's flags, which kind hooks are set.
// The loader has checked kind_hooks and its struct_size against the kind before this runs.
std::string describe_kind(const strata_module_descriptor& d) {
  std::string out;
  switch (d.kind) {
    case STRATA_KIND_TIER: {
      const auto* h = static_cast<const strata_tier_hooks*>(d.kind_hooks);
      out += "tier flags: " + tier_flag_names(h->tier_flags) + "\n";
      out += "hooks: " +
             hook_names({{"execute", h->execute != nullptr}, {"health", h->health != nullptr}}) +
             "\n";
      break;
    }
    case STRATA_KIND_SOURCE: {
      const auto* h = static_cast<const strata_source_hooks*>(d.kind_hooks);
      out += "hooks: " +
             hook_names({{"poll", h->poll != nullptr},
                         {"release_batch", h->release_batch != nullptr},
                         {"ack", h->ack != nullptr},
                         {"pause", h->pause != nullptr},
                         {"resume", h->resume != nullptr},
                         {"lag", h->lag != nullptr}}) +
             "\n";
      break;
    }
    case STRATA_KIND_POLICY: {
      const auto* h = static_cast<const strata_policy_hooks*>(d.kind_hooks);
      bool has_flags =
          h->struct_size >= offsetof(strata_policy_hooks, policy_flags) + sizeof h->policy_flags;
      uint32_t flags = has_flags ? h->policy_flags : 0;
      out += std::string("policy flags: ") +
             ((flags & STRATA_POLICY_VOLATILE_FIRST) ? "volatile_first (write-back)" : "none") +
             "\n";
      out += "hooks: " + hook_names({{"decide", h->decide != nullptr}}) + "\n";
      break;
    }
    case STRATA_KIND_FRONT:
      out += "hooks: none (a front runs on threads of its own)\n";
      break;
  }
  return out;
}

// One line per problem in the module's own option table (an invalid default, ...).
std::vector<std::string> schema_problem_lines(const LoadedModule& m) {
  std::vector<std::string> out;
  for (const std::string& p : schema_problems(m.desc->options, m.desc->option_count))
    out.push_back("module \"" + std::string(m.desc->name) + "\" (" + m.path + ") option " + p);
  return out;
}

}  // namespace

int check(const Args& a) {
  if (a.config.empty()) {
    std::fprintf(stderr, "strata check: -c FILE is required\n");
    return 2;
  }
  Diagnostics diags;
  auto rt = Runtime::load(a.config, Runtime::Mode::Check, diags, a.modules_dir);
  if (!rt) {
    std::fputs(diags.str().c_str(), stderr);
    std::fprintf(stderr, "strata: configuration %s is invalid (%zu error%s)\n", a.config.c_str(),
                 diags.size(), diags.size() == 1 ? "" : "s");
    return 1;
  }
  const Config& c = rt->config();
  std::string fronts;
  if (!c.fronts.empty())
    fronts = ", " + std::to_string(c.fronts.size()) + (c.fronts.size() == 1 ? " front" : " fronts");
  std::printf("strata: configuration %s is valid (%zu pipeline%s, %zu source%s, %zu tier%s%s)\n",
              a.config.c_str(), c.pipelines.size(), c.pipelines.size() == 1 ? "" : "s",
              c.sources.size(), c.sources.size() == 1 ? "" : "s", c.tiers.size(),
              c.tiers.size() == 1 ? "" : "s", fronts.c_str());
  return 0;
}

int modules(const Args& a) {
  ModuleLoader loader(search_path(a));
  std::vector<std::string> errors;
  auto found = loader.discover(&errors);
  std::printf("%-16s %-7s %-9s %s\n", "NAME", "KIND", "VERSION", "DESCRIPTION");
  for (const LoadedModule* m : found)
    std::printf("%-16s %-7s %-9s %s\n", m->desc->name, kind_name(m->desc->kind),
                m->desc->version ? m->desc->version : "",
                m->desc->description ? m->desc->description : "");
  size_t bad_schemas = 0;
  for (const LoadedModule* m : found)
    for (const std::string& line : schema_problem_lines(*m)) {
      errors.push_back(line);
      ++bad_schemas;
    }
  for (auto& e : errors) std::fprintf(stderr, "strata: %s\n", e.c_str());
  std::string path;
  for (auto& p : loader.search_path()) path += (path.empty() ? "" : ":") + p;
  std::fprintf(stderr, "(searched: %s)\n", path.c_str());
  return found.empty() || bad_schemas > 0 ? 1 : 0;
}

int describe(const Args& a) {
  if (a.words.size() != 1) {
    std::fprintf(stderr, "usage: strata describe MODULE | pipeline | tier | front\n");
    return 2;
  }
  const std::string& what = a.words[0];
  if (what == "pipeline" || what == "tier" || what == "front") {
    std::vector<strata_option_def> schema = what == "pipeline" ? pipeline_schema()
                                            : what == "tier"   ? tier_host_schema()
                                                               : front_host_schema();
    if (what == "pipeline")
      schema.insert(schema.end(), pipeline_table_keys().begin(), pipeline_table_keys().end());
    std::printf("[%s.NAME] keys the host reads%s:\n\n%s",
                what == "pipeline" ? "pipelines"
                : what == "tier"   ? "tiers"
                                   : "fronts",
                what == "pipeline" ? ""
                                   : (" in every " + what +
                                      " section, besides the module's "
                                      "own")
                                         .c_str(),
                describe_schema(schema.data(), schema.size()).c_str());
    return 0;
  }
  ModuleLoader loader(search_path(a));
  auto m = loader.load(what);
  if (!m) {
    std::fprintf(stderr, "strata: %s\n", m.error().c_str());
    return 1;
  }
  const strata_module_descriptor* d = m.value()->desc;
  std::printf("%s %s (%s module, ABI %u.%u)\n%s\nfile: %s\n%s\noptions:\n%s", d->name,
              d->version ? d->version : "", kind_name(d->kind), d->abi_major, d->abi_minor,
              d->description ? d->description : "", m.value()->path.c_str(),
              describe_kind(*d).c_str(), describe_schema(d->options, d->option_count).c_str());
  std::vector<std::string> problems = schema_problem_lines(*m.value());
  for (const std::string& line : problems) std::fprintf(stderr, "strata: %s\n", line.c_str());
  return problems.empty() ? 0 : 1;
}

void add_check_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "check",
      "validate the configuration: modules load, options, scripts compile (exit 1 with every "
      "error as FILE:LINE:COL: message)");
  add_config_option(*cmd, *a);
  add_modules_dir_option(*cmd, *a);
  cmd->callback([a, &action] { action = [a] { return check(*a); }; });
}

void add_modules_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "modules",
      "list the loadable modules (name, kind, version, description) and the folders searched");
  add_config_option(*cmd, *a);  // its modules_dir is searched too, if the file parses
  add_modules_dir_option(*cmd, *a);
  cmd->callback([a, &action] { action = [a] { return modules(*a); }; });
}

void add_describe_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<Args>();
  auto what = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "describe",
      "print a module's options from its schema; `describe pipeline`, `describe tier` and "
      "`describe front` print the host's own keys");
  cmd->add_option("MODULE", *what, "a module name, or pipeline, tier or front")->required();
  add_config_option(*cmd, *a);
  add_modules_dir_option(*cmd, *a);
  cmd->callback([a, what, &action] {
    a->words = {*what};
    action = [a] { return describe(*a); };
  });
}

}  // namespace strata::cli
