// Module loader: finds a module .so by name in a search path (or by path), dlopen()s it, checks
// the descriptor against the host's ABI, and creates instances. Refuses a misfit with one exact
// sentence per case (nginx's ngx_add_module is the model). Called by the runtime and the CLI.
#pragma once

#include <strata/strata.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace strata {

class ResolvedOptions;

struct LoadedModule {
  std::string path;  // the file that was loaded
  void* handle = nullptr;
  const strata_module_descriptor* desc = nullptr;
  const char* name() const { return desc->name; }
};

// "source", "tier", "policy", "front" (for messages and `strata modules`).
const char* kind_name(strata_module_kind kind);

// STRATA_BUILD_SIGNATURE as this host was built ("nosan,libstdc++"); see strata.h.
const char* host_build_signature();

// The host function table given to every module (log/metrics/clock/op_set_value).
const strata_host_api* host_api();

// Host-side storage for a GET result (op.host_result points to one). op_set_value() fills it.
struct OpResult {
  std::string value;
  bool has_value = false;
};

class ModuleLoader {
 public:
  // Search order: config modules_dir (if not empty), each entry of $STRATA_MODULES_PATH
  // (colon-separated), the build tree's module folder, the install prefix's module folder.
  static std::vector<std::string> default_search_path(const std::string& config_modules_dir);

  explicit ModuleLoader(std::vector<std::string> search_path);
  ~ModuleLoader();  // dlclose()s everything (after all instances are gone)
  ModuleLoader(const ModuleLoader&) = delete;
  ModuleLoader& operator=(const ModuleLoader&) = delete;

  const std::vector<std::string>& search_path() const { return search_path_; }

  // `name_or_path` containing '/' or ending in ".so" is a path; otherwise "NAME" is looked up
  // as NAME.so in each folder. Loading a name already loaded returns the same module.
  // Refusals (exact sentences, see loader.cpp):
  //   module "x" not found in: /a, /b, /c
  //   module file "/p/x.so" is not a loadable object: <dlerror>
  //   module file "/p/x.so" has no entry symbol "strata_module_entry"
  //   module "x" ABI version 2.0 is not binary compatible with host ABI 1.0
  //   module "x" needs ABI 1.3, newer than host ABI 1.0
  //   module "x" build signature "asan,libstdc++" is not binary compatible with host build
  //     signature "nosan,libstdc++"   (one line)
  //   module "x" is already loaded from "/p/x.so"
  //   module file "/p/x.so" has an invalid descriptor: <what>
  //   module file "/p/foo.so" declares module "bar", not "foo"   (looked up by name)
  Result<const LoadedModule*> load(const std::string& name_or_path);

  // Every loadable module in the search path (for `strata modules`), first one of a name
  // wins; files that fail to load are returned in `errors`.
  std::vector<const LoadedModule*> discover(std::vector<std::string>* errors);

 private:
  // `expected_name` is the NAME a file was found by ("" when loaded by path).
  Result<const LoadedModule*> load_file(const std::string& path, const std::string& expected_name);

  std::vector<std::string> search_path_;
  std::vector<std::unique_ptr<LoadedModule>> loaded_;
};

// A created module instance. Owns the instance pointer and its validated options (the values
// array must outlive the instance). Destroying it calls stop(drain=1) if started, then destroy.
class ModuleInstance {
 public:
  // create hook failure: module "x" create failed for tiers.l1: <module's message>
  // `chain`: what a front's front_chain() returns (must outlive the instance).
  static Result<std::unique_ptr<ModuleInstance>> create(const LoadedModule& module,
                                                        std::string instance_name,
                                                        std::string pipeline,
                                                        ResolvedOptions options,
                                                        strata_chain* chain = nullptr);
  ~ModuleInstance();

  // start hook failure: module "x" start failed for tiers.l1: <module's message>
  Result<void> start();
  void stop(bool drain);

  const strata_module_descriptor* desc() const { return module_->desc; }
  const LoadedModule& module() const { return *module_; }
  void* handle() const { return inst_; }
  const std::string& name() const;  // "tiers.l1"
  strata_instance_ctx* ctx() const { return ctx_.get(); }

  const strata_source_hooks* source() const;  // nullptr unless kind == source
  const strata_tier_hooks* tier() const;
  const strata_policy_hooks* policy() const;
  const strata_front_hooks* front() const;

 private:
  ModuleInstance() = default;
  const LoadedModule* module_ = nullptr;
  void* inst_ = nullptr;
  bool created_ = false;  // create() succeeded: destroy() is owed
  bool started_ = false;
  std::unique_ptr<strata_instance_ctx> ctx_;
  std::unique_ptr<ResolvedOptions> options_;
};

}  // namespace strata

// A tier chain as a front sees it (strata_host_api.chain_submit dispatches here). Implemented
// by the host's chain service (core/src/front/chain_service.hpp); opaque to modules.
struct strata_chain {
  virtual int submit(strata_chain_op* ops, size_t count, strata_chain_done_fn done,
                     void* user) noexcept = 0;

 protected:
  ~strata_chain() = default;
};

namespace strata {
// What strata_chain_op.host_private points to while an op holds a result (its result_value's
// bytes); chain_release() deletes it.
struct ChainResultStorage {
  std::string value;
};
}  // namespace strata

// Defined in the loader (host side); opaque to modules.
struct strata_instance_ctx {
  std::string instance;  // "tiers.l1"
  std::string pipeline;  // may be empty
  // strata_host_api.stored_position for a source: set by its pipeline before the source's
  // thread first polls; empty = nothing stored (-1).
  std::function<int64_t(const char* topic, int32_t partition)> stored_position;
  // strata_host_api.front_chain for a front: set before its create(), valid until its
  // destroy() returned; nullptr for other kinds.
  strata_chain* chain = nullptr;
};
