// [fronts.NAME] sections: the host keys that wire a front to a tier chain. A front names its
// tiers (a chain of its own) or a pipeline (that pipeline's chain), never both; the chain
// options belong to whichever chain it reads through. Run on the raw nodes, like the pipeline
// reference checks, so every problem is reported at once.
#include <algorithm>

#include "config/internal.hpp"

namespace strata::config_detail {
namespace {

void check_pipeline_reference(const Config& cfg, const toml::node& node, const std::string& path,
                              Diagnostics& diags) {
  const std::string& name = node.as_string()->get();
  if (cfg.find_pipeline(name)) return;
  std::vector<std::string> names;
  for (const PipelineConfig& p : cfg.pipelines) names.push_back(p.name);
  std::string listed = names.empty() ? "no [pipelines.NAME] sections are defined"
                                     : "defined pipelines: " + join(names);
  diags.add(pos_of(node, cfg.path), path + ": pipeline '" + name + "' is not defined" +
                                        did_you_mean(name, names) + "; " + listed);
}

void check_front(const Config& cfg, const InstanceConfig& front, Diagnostics& diags) {
  const toml::table& t = *front.table;
  const std::string full = front.full_name();
  const toml::node* tiers = t.get("tiers");
  const toml::node* pipeline = t.get("pipeline");
  if (tiers && pipeline) {
    diags.add(pos_of(*pipeline, cfg.path),
              full + ".pipeline: a front reads through `tiers` or through a pipeline's chain, "
                     "not both; remove one of `tiers` and `pipeline`");
  } else if (!tiers && !pipeline) {
    diags.add(front.pos, full + ": missing `tiers = [\"l1\", \"l2\"]` (the tiers to read "
                                "through, L1 first) or `pipeline = \"NAME\"` (share that "
                                "pipeline's chain)");
  }
  if (tiers && tiers->is_array()) check_tier_list(cfg, *tiers->as_array(), full, diags);
  if (pipeline && pipeline->is_string()) {
    if (pipeline->as_string()->get().empty())
      diags.add(pos_of(*pipeline, cfg.path), full + ".pipeline: must name a [pipelines.NAME]");
    else
      check_pipeline_reference(cfg, *pipeline, full + ".pipeline", diags);
  }
  if (const toml::node* neg = t.get("neg_ttl"); neg && pipeline && !tiers)
    diags.add(pos_of(*neg, cfg.path),
              full + ".neg_ttl: the front shares the chain of pipeline '" +
                  (pipeline->is_string() ? pipeline->as_string()->get() : std::string("?")) +
                  "'; set neg_ttl in that [pipelines.NAME] section");
}

}  // namespace

void check_fronts(const Config& cfg, Diagnostics& diags) {
  for (const InstanceConfig& front : cfg.fronts)
    if (front.table) check_front(cfg, front, diags);
}

}  // namespace strata::config_detail
