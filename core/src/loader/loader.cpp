#include "loader/loader.hpp"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <set>

#include "config/config.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

std::string abi(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Two paths name the same module file when they resolve to the same file.
std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

// The module's name for ABI sentences, read only when the struct is big enough to hold it.
std::string name_for_messages(const strata_module_descriptor* d, const std::string& path) {
  if (d->struct_size >= offsetof(strata_module_descriptor, name) + sizeof(d->name) && d->name &&
      *d->name)
    return d->name;
  return fs::path(path).stem().string();
}

// The descriptor as ABI 1.0 .. 1.2 modules built before the build signature know it: the
// smallest one the loader accepts. Everything after it is read only when struct_size covers it.
constexpr size_t kDescriptorSizeUnsigned = offsetof(strata_module_descriptor, build_signature);

// The module's build signature, or nullptr when it has none (older build, or not stamped).
const char* build_signature_of(const strata_module_descriptor* d) {
  if (d->struct_size < offsetof(strata_module_descriptor, build_signature) + sizeof(const char*))
    return nullptr;
  return d->build_signature;
}

// A C module's signature has no C++ standard library field: it matches a host with the same
// sanitizer field whatever the host's library.
bool signature_fits(const std::string& module, const std::string& host) {
  if (module == host) return true;
  return module.find(',') == std::string::npos && host.rfind(module + ",", 0) == 0;
}

// Structural checks of a descriptor whose ABI version already fits. Returns "" or what is wrong.
std::string descriptor_problem(const strata_module_descriptor* d) {
  if (d->struct_size < kDescriptorSizeUnsigned)
    return "struct_size is " + std::to_string(d->struct_size) + ", expected at least " +
           std::to_string(kDescriptorSizeUnsigned);
  if (!d->name || !*d->name) return "name is empty";
  if (!d->create) return "create hook is NULL";
  if (!d->destroy) return "destroy hook is NULL";
  if (d->option_count > 0 && !d->options)
    return "options is NULL but option_count is " + std::to_string(d->option_count);
  for (size_t i = 0; i < d->option_count; ++i) {
    if (d->options[i].struct_size < sizeof(strata_option_def))
      return "option " + std::to_string(i) + " has struct_size " +
             std::to_string(d->options[i].struct_size) + ", expected at least " +
             std::to_string(sizeof(strata_option_def));
    if (!d->options[i].name || !*d->options[i].name)
      return "option " + std::to_string(i) + " has no name";
  }
  if (d->kind != STRATA_KIND_SOURCE && d->kind != STRATA_KIND_TIER &&
      d->kind != STRATA_KIND_POLICY && d->kind != STRATA_KIND_FRONT)
    return "kind " + std::to_string(static_cast<int>(d->kind)) + " is unknown";
  if (!d->kind_hooks) return "kind_hooks is NULL";
  auto too_small = [](const char* what, size_t got, size_t want) {
    return std::string(what) + " hooks struct_size is " + std::to_string(got) +
           ", expected at least " + std::to_string(want);
  };
  switch (d->kind) {
    case STRATA_KIND_SOURCE: {
      auto* h = static_cast<const strata_source_hooks*>(d->kind_hooks);
      // The replay hooks were appended within 1.2: a source without them still loads.
      constexpr size_t kMin = offsetof(strata_source_hooks, replay);
      if (h->struct_size < kMin) return too_small("source", h->struct_size, kMin);
      if (!h->poll || !h->release_batch || !h->ack || !h->pause || !h->resume)
        return "source hooks poll, release_batch, ack, pause and resume must all be set";
      break;
    }
    case STRATA_KIND_TIER: {
      auto* h = static_cast<const strata_tier_hooks*>(d->kind_hooks);
      if (h->struct_size < sizeof *h) return too_small("tier", h->struct_size, sizeof *h);
      if (!h->execute) return "tier hook execute is NULL";
      break;
    }
    case STRATA_KIND_FRONT: {
      // A 1.2 module is the oldest front there is: its hooks are the 1.2 struct or larger.
      auto* h = static_cast<const strata_front_hooks*>(d->kind_hooks);
      if (h->struct_size < sizeof *h) return too_small("front", h->struct_size, sizeof *h);
      if (d->abi_minor < 2)
        return "kind 4 (front) needs ABI 1.2, the module declares " +
               abi(d->abi_major, d->abi_minor);
      break;
    }
    default: {
      auto* h = static_cast<const strata_policy_hooks*>(d->kind_hooks);
      if (h->struct_size < sizeof *h) return too_small("policy", h->struct_size, sizeof *h);
      if (!h->decide) return "policy hook decide is NULL";
      break;
    }
  }
  return "";
}

std::string hook_message(const strata_error& err, int rc) {
  std::string msg(err.message, strnlen(err.message, sizeof err.message));
  return msg.empty() ? "status " + std::to_string(rc) + " without a message" : msg;
}

}  // namespace

const char* host_build_signature() { return STRATA_BUILD_SIGNATURE; }

std::vector<std::string> ModuleLoader::default_search_path(const std::string& config_modules_dir) {
  std::vector<std::string> path;
  auto add = [&path](const std::string& dir) {
    if (!dir.empty() && std::find(path.begin(), path.end(), dir) == path.end()) path.push_back(dir);
  };
  add(config_modules_dir);
  if (const char* env = std::getenv("STRATA_MODULES_PATH")) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t colon = list.find(':', start);
      if (colon == std::string::npos) colon = list.size();
      add(list.substr(start, colon - start));  // empty entries ("a::b", trailing ':') skipped
      start = colon + 1;
    }
  }
  add(STRATA_BUILD_MODULES_DIR);
  add(STRATA_INSTALL_MODULES_DIR);
  return path;
}

ModuleLoader::ModuleLoader(std::vector<std::string> search_path)
    : search_path_(std::move(search_path)) {}

ModuleLoader::~ModuleLoader() {
  for (auto it = loaded_.rbegin(); it != loaded_.rend(); ++it) ::dlclose((*it)->handle);
}

Result<const LoadedModule*> ModuleLoader::load(const std::string& name_or_path) {
  if (name_or_path.find('/') != std::string::npos || ends_with(name_or_path, ".so"))
    return load_file(name_or_path, "");
  for (const auto& m : loaded_)
    if (name_or_path == m->name()) return m.get();
  for (const auto& dir : search_path_) {
    std::string candidate = dir + "/" + name_or_path + ".so";
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return load_file(candidate, name_or_path);
  }
  return fail(
      "module " + in_quotes(name_or_path) + " not found in: " +
      (search_path_.empty() ? std::string("(empty search path)") : join(search_path_, ", ")));
}

Result<const LoadedModule*> ModuleLoader::load_file(const std::string& path,
                                                    const std::string& expected_name) {
  std::string real = canonical(path);
  for (const auto& m : loaded_)
    if (canonical(m->path) == real) return m.get();

  // Without a '/', dlopen() would search the system library path instead of the folder.
  std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  ::dlerror();
  void* handle = ::dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return fail("module file " + in_quotes(path) +
                " is not a loadable object: " + (why ? why : "unknown error"));
  }
  for (const auto& m : loaded_) {
    if (m->handle == handle) {  // the same file under another name (hard link)
      ::dlclose(handle);
      return m.get();
    }
  }
  auto refuse = [handle](std::string message) -> Result<const LoadedModule*> {
    ::dlclose(handle);
    return fail(std::move(message));
  };

  ::dlerror();
  void* sym = ::dlsym(handle, STRATA_MODULE_ENTRY_SYMBOL);
  if (!sym)
    return refuse("module file " + in_quotes(path) + " has no entry symbol \"" +
                  STRATA_MODULE_ENTRY_SYMBOL + "\"");
  auto entry = reinterpret_cast<strata_module_entry_fn>(sym);
  const strata_module_descriptor* d = entry();
  if (!d)
    return refuse("module file " + in_quotes(path) +
                  " has an invalid descriptor: " + STRATA_MODULE_ENTRY_SYMBOL + "() returned NULL");

  // Version first: a different major may lay out everything after abi_minor differently.
  std::string name = name_for_messages(d, path);
  if (d->abi_major != STRATA_ABI_MAJOR)
    return refuse("module " + in_quotes(name) + " ABI version " + abi(d->abi_major, d->abi_minor) +
                  " is not binary compatible with host ABI " +
                  abi(STRATA_ABI_MAJOR, STRATA_ABI_MINOR));
  if (d->abi_minor > STRATA_ABI_MINOR)
    return refuse("module " + in_quotes(name) + " needs ABI " + abi(d->abi_major, d->abi_minor) +
                  ", newer than host ABI " + abi(STRATA_ABI_MAJOR, STRATA_ABI_MINOR));
  if (std::string problem = descriptor_problem(d); !problem.empty())
    return refuse("module file " + in_quotes(path) + " has an invalid descriptor: " + problem);
  if (const char* sig = build_signature_of(d); sig && !signature_fits(sig, host_build_signature()))
    return refuse("module " + in_quotes(name) + " build signature " + in_quotes(sig) +
                  " is not binary compatible with host build signature " +
                  in_quotes(host_build_signature()));
  if (!expected_name.empty() && expected_name != d->name)
    return refuse("module file " + in_quotes(path) + " declares module " + in_quotes(d->name) +
                  ", not " + in_quotes(expected_name));
  for (const auto& m : loaded_)
    if (std::strcmp(m->name(), d->name) == 0)
      return refuse("module " + in_quotes(d->name) + " is already loaded from " +
                    in_quotes(m->path));

  auto mod = std::make_unique<LoadedModule>();
  mod->path = path;
  mod->handle = handle;
  mod->desc = d;
  loaded_.push_back(std::move(mod));
  return loaded_.back().get();
}

std::vector<const LoadedModule*> ModuleLoader::discover(std::vector<std::string>* errors) {
  std::vector<const LoadedModule*> found;
  std::set<std::string> seen_stems;  // a file name seen in an earlier folder shadows later ones
  for (const auto& dir : search_path_) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;  // e.g. no build tree in an installed system
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::error_code fec;
      if (entry.path().extension() == ".so" && entry.is_regular_file(fec))
        files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      if (!seen_stems.insert(fs::path(file).stem().string()).second) continue;
      auto r = load(file);
      if (!r) {
        if (errors) errors->push_back(r.error());
        continue;
      }
      if (std::find(found.begin(), found.end(), r.value()) == found.end())
        found.push_back(r.value());
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<ModuleInstance>> ModuleInstance::create(const LoadedModule& module,
                                                               std::string instance_name,
                                                               std::string pipeline,
                                                               ResolvedOptions options,
                                                               strata_chain* chain) {
  const strata_module_descriptor* d = module.desc;
  std::unique_ptr<ModuleInstance> inst(new ModuleInstance());
  inst->module_ = &module;
  inst->ctx_ = std::make_unique<strata_instance_ctx>();
  inst->ctx_->instance = std::move(instance_name);
  inst->ctx_->pipeline = std::move(pipeline);
  inst->ctx_->chain = d->kind == STRATA_KIND_FRONT ? chain : nullptr;
  inst->options_ = std::make_unique<ResolvedOptions>(std::move(options));
  std::string prefix =
      "module " + in_quotes(d->name) + " create failed for " + inst->ctx_->instance;
  // The module indexes values[i] for every option it declares: never hand it a short array.
  if (inst->options_->size() != d->option_count)
    return fail(prefix + ": the host resolved " + std::to_string(inst->options_->size()) +
                " option values, the module declares " + std::to_string(d->option_count));
  strata_error err{};
  void* handle = nullptr;
  int rc = d->create(host_api(), inst->ctx_.get(), inst->options_->values(), inst->options_->size(),
                     &handle, &err);
  if (rc != STRATA_OK) return fail(prefix + ": " + hook_message(err, rc));
  inst->inst_ = handle;
  inst->created_ = true;
  return inst;
}

ModuleInstance::~ModuleInstance() {
  if (!created_) return;  // never destroy after a failed create
  if (started_) stop(true);
  module_->desc->destroy(inst_);
}

Result<void> ModuleInstance::start() {
  if (started_) return {};
  const strata_module_descriptor* d = module_->desc;
  if (d->start) {
    strata_error err{};
    int rc = d->start(inst_, &err);
    if (rc != STRATA_OK)
      return fail("module " + in_quotes(d->name) + " start failed for " + name() + ": " +
                  hook_message(err, rc));
  }
  started_ = true;
  return {};
}

void ModuleInstance::stop(bool drain) {
  if (!started_) return;
  started_ = false;
  if (module_->desc->stop) module_->desc->stop(inst_, drain ? 1 : 0);
}

const std::string& ModuleInstance::name() const { return ctx_->instance; }

const strata_source_hooks* ModuleInstance::source() const {
  return desc()->kind == STRATA_KIND_SOURCE
             ? static_cast<const strata_source_hooks*>(desc()->kind_hooks)
             : nullptr;
}

const strata_tier_hooks* ModuleInstance::tier() const {
  return desc()->kind == STRATA_KIND_TIER
             ? static_cast<const strata_tier_hooks*>(desc()->kind_hooks)
             : nullptr;
}

const strata_front_hooks* ModuleInstance::front() const {
  return desc()->kind == STRATA_KIND_FRONT
             ? static_cast<const strata_front_hooks*>(desc()->kind_hooks)
             : nullptr;
}

const strata_policy_hooks* ModuleInstance::policy() const {
  return desc()->kind == STRATA_KIND_POLICY
             ? static_cast<const strata_policy_hooks*>(desc()->kind_hooks)
             : nullptr;
}

}  // namespace strata
