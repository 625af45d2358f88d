// `strata check`, `strata modules`, `strata describe`: everything that looks at a
// configuration or at modules without running a pipeline.
#include <cstdio>
#include <string>

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
  for (auto& e : errors) std::fprintf(stderr, "strata: %s\n", e.c_str());
  std::string path;
  for (auto& p : loader.search_path()) path += (path.empty() ? "" : ":") + p;
  std::fprintf(stderr, "(searched: %s)\n", path.c_str());
  return found.empty() ? 1 : 0;
}

int describe(const Args& a) {
  if (a.words.size() != 1) {
    std::fprintf(stderr, "usage: strata describe MODULE | pipeline | tier | front\n");
    return 2;
  }
  const std::string& what = a.words[0];
  if (what == "pipeline" || what == "tier" || what == "front") {
    const auto& schema = what == "pipeline" ? pipeline_schema()
                         : what == "tier"   ? tier_host_schema()
                                            : front_host_schema();
    std::printf("[%s.NAME] keys the host reads%s:\n\n%s",
                what == "pipeline" ? "pipelines" : what == "tier" ? "tiers" : "fronts",
                what == "pipeline" ? "" : (" in every " + what + " section, besides the module's "
                                           "own").c_str(),
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
  std::printf("%s %s (%s module, ABI %u.%u)\n%s\nfile: %s\n\noptions:\n%s", d->name,
              d->version ? d->version : "", kind_name(d->kind), d->abi_major, d->abi_minor,
              d->description ? d->description : "", m.value()->path.c_str(),
              describe_schema(d->options, d->option_count).c_str());
  return 0;
}

}  // namespace strata::cli
