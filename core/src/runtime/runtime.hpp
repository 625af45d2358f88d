// The runtime: turns a parsed Config into loaded modules, validated and created instances,
// tiers behind breakers, tier chains and pipelines, and owns them in a safe destruction order.
// Used by the CLI (`run`, `check`, `cache`) and by the embeddable strata::Cache.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chain/tier.hpp"
#include "chain/tier_chain.hpp"
#include "common/result.hpp"
#include "config/config.hpp"
#include "deadletter/dead_letter.hpp"
#include "front/chain_service.hpp"
#include "loader/loader.hpp"
#include "pipeline/pipeline.hpp"

namespace strata {

class Runtime {
 public:
  enum class Mode {
    Check,  // load, validate, create every instance, compile scripts; start nothing
    Run,    // everything, ready to start
    Cache,  // tiers only: the read/write chain for `strata cache` and embedding
    Replay  // as Run, without fronts, each pipeline in replay mode (`strata replay`)
  };

  // Every problem goes to `diags` (FILE:LINE:COL where a position is known); returns nullptr
  // when there was any. `modules_dir` (the command line's --modules-dir) is searched first.
  static std::unique_ptr<Runtime> build(std::shared_ptr<const Config> cfg, Mode mode,
                                        Diagnostics& diags, const std::string& modules_dir = "");
  // parse_config(path) then build(): what every command and the embedding API start with.
  static std::unique_ptr<Runtime> load(const std::string& path, Mode mode, Diagnostics& diags,
                                       const std::string& modules_dir = "");
  // Where modules are looked for (module_path.cpp): `first_dir` (--modules-dir), then the
  // configuration's `modules_dir`, then ModuleLoader::default_search_path's folders, except
  // that the build tree's modules folder is searched only by a binary inside the build tree;
  // an installed binary searches its own prefix's lib/strata/modules (found from the
  // executable, so a relocated prefix works) and the compiled-in install folder instead.
  // Every command uses this.
  static std::vector<std::string> module_search_path(const std::string& first_dir,
                                                     const std::string& config_modules_dir);
  ~Runtime();

  // Starts tiers and policies (and sources), then the fronts' chain services and the fronts,
  // then (Run) the pipelines.
  Result<void> start();
  // Fronts first (stop_fronts), then pipelines (they finish their batch and ack), then
  // instances in reverse start order; `on_instance` (if set) is told each one's name ("sources.
  // events") before its stop(), so that a shutdown watchdog can name the one that hangs.
  void stop(const std::function<void(const std::string&)>& on_instance = {});
  // Stops every front (its stop() closes listeners and fails or finishes what is in flight),
  // then shuts their chain services down: a submit still queued is answered "shutting down".
  // Idempotent; stop() calls it first.
  void stop_fronts();

  // The chain of one pipeline's tiers; "" = the only pipeline (error if several).
  Result<TierChain*> chain(const std::string& pipeline);

  const std::vector<std::unique_ptr<Pipeline>>& pipelines() const { return pipelines_; }
  // A front instance by its full name ("fronts.mc"), or nullptr.
  ModuleInstance* front(const std::string& full_name) const;
  std::pair<bool, std::string> health() const;
  // True when every pipeline has had no record for idle_ms and knows of no lag.
  bool idle(int64_t idle_ms) const;
  std::string summary() const;
  const Config& config() const { return *cfg_ptr_; }
  std::shared_ptr<const Config> shared_config() const { return cfg_ptr_; }

 private:
  Runtime(std::shared_ptr<const Config> cfg, Mode mode);
  bool build_instances(Diagnostics& diags);
  bool build_pipelines(Diagnostics& diags);
  // [fronts.NAME] (fronts.cpp): a chain per front (its own over `tiers`, or its pipeline's),
  // the chain service, then the instance.
  bool build_fronts(Diagnostics& diags);
  bool build_front(const InstanceConfig& ic, Diagnostics& diags);
  Result<void> start_fronts();
  void front_health(std::ostream& out) const;
  ModuleInstance* instance(const std::string& full_name);

  std::shared_ptr<const Config> cfg_ptr_;
  const Config& cfg_;
  Mode mode_;
  // Declared in construction order; destroyed in reverse: pipelines before the chains and
  // tiers they use, instances before the loader that dlclose()s their code.
  std::unique_ptr<ModuleLoader> loader_;
  std::map<std::string, std::unique_ptr<ModuleInstance>> instances_;  // "tiers.l1" -> instance
  std::vector<std::string> start_order_;
  std::map<std::string, std::unique_ptr<Tier>> tiers_;        // "tiers.l1" -> tier
  std::map<std::string, std::unique_ptr<TierChain>> chains_;  // pipeline -> chain
  std::vector<std::unique_ptr<DeadLetterSink>> dead_letters_;
  std::vector<std::unique_ptr<Pipeline>> pipelines_;
  // Fronts: their own chains, then the services that run their ops, then the instances (which
  // use a service from create() until destroy(), so they go first).
  std::vector<std::unique_ptr<TierChain>> front_chains_;
  std::vector<std::unique_ptr<ChainService>> chain_services_;
  std::vector<std::unique_ptr<ModuleInstance>> fronts_;
  bool started_ = false;
  bool fronts_stopped_ = false;
};

}  // namespace strata
