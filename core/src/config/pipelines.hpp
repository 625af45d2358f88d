// [pipelines.*]: validated against pipeline_schema(), then checked for names that point
// nowhere (dangling source / tier / policy) and duplicate tiers. Called by parse_config.
#pragma once

#include "config/config.hpp"

namespace strata::config_detail {

// Appends one PipelineConfig per [pipelines.NAME] section to cfg.pipelines (file order).
// Needs cfg.sources / tiers / policies filled first.
void parse_pipelines(Config& cfg, const toml::node& node, Diagnostics& diags);

}  // namespace strata::config_detail
