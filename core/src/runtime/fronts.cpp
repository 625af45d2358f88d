// The runtime's fronts: each [fronts.NAME] gets a tier chain (a chain of its own over `tiers`,
// or the chain of the pipeline it names), a ChainService that runs its ops, and then its module
// instance, which reaches the service through strata_host_api.front_chain. Fronts start after
// the tiers and stop before everything else.
#include <ostream>

#include "common/log.hpp"
#include "runtime/runtime.hpp"

namespace strata {

bool Runtime::build_fronts(Diagnostics& diags) {
  // `strata cache` reads through a pipeline's chain; `strata replay` serves nothing
  if (mode_ == Mode::Cache || mode_ == Mode::Replay) return true;
  size_t before = diags.size();
  for (const InstanceConfig& ic : cfg_.fronts) build_front(ic, diags);
  return diags.size() == before;
}

bool Runtime::build_front(const InstanceConfig& ic, Diagnostics& diags) {
  if (ic.module.empty()) return false;  // no usable `module` key: parse_config said so
  auto loaded = loader_->load(ic.module);
  if (!loaded) {
    diags.add(ic.module_pos, ic.full_name() + ": " + loaded.error());
    return false;
  }
  const LoadedModule* mod = loaded.value();
  if (mod->desc->kind != STRATA_KIND_FRONT) {
    diags.add(ic.module_pos, ic.full_name() + ": module \"" + ic.module + "\" is a " +
                                 kind_name(mod->desc->kind) + ", not a front");
    return false;
  }
  auto opts = validate_instance(cfg_, ic, mod->desc->options, mod->desc->option_count, diags);
  auto host = tier_host_options(cfg_, ic, diags);
  if (!opts || !host || !diags.empty()) return false;  // as build_instances: nothing created

  TierChain* chain = nullptr;
  if (std::string pipeline = host->str("pipeline"); !pipeline.empty()) {
    auto it = chains_.find(pipeline);
    if (it == chains_.end()) return false;  // the pipeline failed to build: reported there
    chain = it->second.get();
  } else {
    std::vector<Tier*> tiers;
    for (const std::string& t : host->list("tiers")) {
      auto it = tiers_.find("tiers." + t);
      if (it == tiers_.end()) return false;  // reported by parse_config or build_instances
      tiers.push_back(it->second.get());
    }
    ChainSettings cs;
    cs.neg_ttl_ms = host->integer("neg_ttl");
    front_chains_.push_back(std::make_unique<TierChain>(std::move(tiers), cs));
    chain = front_chains_.back().get();
  }
  chain_services_.push_back(std::make_unique<ChainService>(
      ic.full_name(), *chain, static_cast<int>(host->integer("chain_threads")),
      host->integer("inline_reads") != 0));
  ChainService* service = chain_services_.back().get();
  auto inst = ModuleInstance::create(*mod, ic.full_name(), "", std::move(*opts), service);
  if (!inst) {
    diags.add(ic.pos, inst.error());
    return false;
  }
  if (!inst.value()->front()) {
    diags.add(ic.module_pos, ic.full_name() + ": module has no front hooks");
    return false;
  }
  fronts_.push_back(std::move(inst.value()));
  return true;
}

Result<void> Runtime::start_fronts() {
  for (auto& service : chain_services_) service->start();
  for (auto& front : fronts_) {
    auto r = front->start();
    if (!r) return r;
    log::write(STRATA_LOG_INFO, front->name(), {}, "front started");
  }
  return {};
}

void Runtime::stop_fronts() {
  if (fronts_stopped_) return;
  fronts_stopped_ = true;
  // Reverse start order; each stop() is bounded by the front (ABI) and by the shutdown
  // watchdog of `strata run`. The services keep running meanwhile: a front may wait for its
  // in-flight ops in stop().
  for (auto it = fronts_.rbegin(); it != fronts_.rend(); ++it) (*it)->stop(true);
  for (auto& service : chain_services_) service->shutdown();
}

ModuleInstance* Runtime::front(const std::string& full_name) const {
  for (const auto& f : fronts_)
    if (f->name() == full_name) return f.get();
  return nullptr;
}

void Runtime::front_health(std::ostream& out) const {
  for (size_t i = 0; i < fronts_.size() && i < chain_services_.size(); ++i)
    out << "front " << fronts_[i]->name() << (fronts_stopped_ ? " stopped" : " running")
        << " queued=" << chain_services_[i]->queued() << "\n";
}

}  // namespace strata
