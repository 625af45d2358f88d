#include "cli/progress.hpp"

#include <toml++/toml.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/pipeline.hpp"
#include "runtime/runtime.hpp"

namespace strata::cli {
namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string quoted_label(const std::string& key, const std::string& value) {
  return key + "=\"" + value + "\"";
}

// The tier names of a front: its own `tiers = [...]`, or those of its `pipeline`.
std::vector<std::string> front_tiers(const Config& cfg, const InstanceConfig& ic) {
  std::vector<std::string> out;
  if (ic.table == nullptr) return out;
  if (const toml::array* a = ic.table->get_as<toml::array>("tiers")) {
    for (const toml::node& n : *a)
      if (auto s = n.value<std::string>()) out.push_back(*s);
  } else if (auto p = ic.table->get_as<std::string>("pipeline")) {
    if (const PipelineConfig* pc = cfg.find_pipeline(p->get())) out = pc->tiers;
  }
  return out;
}

// The pipeline's latest consumer lag: a count, "pending" (records may be unread, how many is
// not known: a partition not fetched yet), or "-" (unknown).
std::string lag_text(const Runtime& rt, const std::string& pipeline) {
  for (const auto& p : rt.pipelines()) {
    if (p->name() != pipeline) continue;
    const int64_t lag = p->stats().lag.load();
    if (lag >= 0) return std::to_string(lag);
    return lag == STRATA_LAG_PENDING ? "pending" : "-";
  }
  return "-";
}

}  // namespace

double Progress::delta(const std::string& name, const std::string& labels) {
  Series* s = MetricsRegistry::global().find(name, labels);
  double now = s ? s->value() : 0.0;
  double& before = counters_[name + "{" + labels + "}"];
  double d = now >= before ? now - before : now;  // a counter never goes down; if it did, restart
  before = now;
  return d;
}

std::string Progress::hit_ratio(const std::string& tier) {
  const std::string labels = quoted_label("tier", tier);
  double hits = delta("strata_tier_hits_total", labels);
  double misses = delta("strata_tier_misses_total", labels);
  if (hits + misses <= 0) return "-";
  return fixed(hits / (hits + misses), 2);
}

void Progress::tick(const Runtime& rt) {
  if (interval_ms_ <= 0) return;
  auto now = Clock::now();
  if (!started_) {
    // The first call sets the baseline: the first line covers one whole interval.
    started_ = true;
    last_ = now;
    for (const PipelineConfig& p : rt.config().pipelines) {
      const std::string l = quoted_label("pipeline", p.name);
      delta("strata_pipeline_records_total", l);
      delta("strata_pipeline_dead_letters_total", l);
      for (const std::string& t : p.tiers)
        delta("strata_pipeline_keys_written_total", l + "," + quoted_label("tier", "tiers." + t));
    }
    for (const InstanceConfig& f : rt.config().fronts)
      delta("strata_front_chain_ops_total", quoted_label("front", f.full_name()));
    std::map<std::string, bool> seen;
    for (const PipelineConfig& p : rt.config().pipelines)
      for (const std::string& t : p.tiers) seen["tiers." + t] = true;
    for (const InstanceConfig& t : rt.config().tiers) seen[t.full_name()] = true;
    for (const auto& [t, yes] : seen) hit_ratio(t);
    return;
  }
  double seconds = std::chrono::duration<double>(now - last_).count();
  if (seconds * 1000.0 < static_cast<double>(interval_ms_)) return;
  last_ = now;
  const Config& cfg = rt.config();
  // A tier's hit ratio is taken once per line (its counters are shared by every chain over it).
  std::map<std::string, std::string> ratios;
  auto ratio = [&](const std::string& tier) {
    auto it = ratios.find(tier);
    if (it == ratios.end()) it = ratios.emplace(tier, hit_ratio(tier)).first;
    return it->second;
  };
  for (const PipelineConfig& p : cfg.pipelines) {
    const std::string l = quoted_label("pipeline", p.name);
    std::string line =
        "progress records_per_s=" + fixed(delta("strata_pipeline_records_total", l) / seconds, 1);
    for (const std::string& t : p.tiers) {
      double keys =
          delta("strata_pipeline_keys_written_total", l + "," + quoted_label("tier", "tiers." + t));
      line += " keys_per_s." + t + "=" + fixed(keys / seconds, 1);
    }
    line += " lag=" + lag_text(rt, p.name);
    line += " dead_letters=" + fixed(delta("strata_pipeline_dead_letters_total", l), 0);
    for (const std::string& t : p.tiers) line += " hit_ratio." + t + "=" + ratio("tiers." + t);
    log::write(STRATA_LOG_INFO, {}, p.name, line);
  }
  for (const InstanceConfig& f : cfg.fronts) {
    double ops = delta("strata_front_chain_ops_total", quoted_label("front", f.full_name()));
    std::string line = "progress commands_per_s=" + fixed(ops / seconds, 1);
    for (const std::string& t : front_tiers(cfg, f))
      line += " hit_ratio." + t + "=" + ratio("tiers." + t);
    log::write(STRATA_LOG_INFO, f.full_name(), {}, line);
  }
}

}  // namespace strata::cli
