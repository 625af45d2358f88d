// [pipelines.*]: validated against pipeline_schema(), then checked for names that point
// nowhere (dangling source / tier / policy) and duplicate tiers. Called by parse_config.
#pragma once

#include "config/config.hpp"

namespace strata::config_detail {

// Appends one PipelineConfig per [pipelines.NAME] section to cfg.pipelines (file order).
// Needs cfg.sources / tiers / policies filled first.
void parse_pipelines(Config& cfg, const toml::node& node, Diagnostics& diags);
// Each non-empty `script` must name a readable regular file; one that does not is reported at
// the `script` value and cleared, so nothing later reports it again (e.g. a folder as "defines
// no key(record) function").
void check_script_paths(Config& cfg, Diagnostics& diags);

}  // namespace strata::config_detail
