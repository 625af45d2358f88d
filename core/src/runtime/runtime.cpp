#include "runtime/runtime.hpp"

#include <toml++/toml.h>

#include <sstream>

#include "common/clock.hpp"
#include "common/log.hpp"

namespace strata {
namespace {

strata_module_kind expected_kind(const std::string& category) {
  if (category == "sources") return STRATA_KIND_SOURCE;
  if (category == "tiers") return STRATA_KIND_TIER;
  if (category == "fronts") return STRATA_KIND_FRONT;
  return STRATA_KIND_POLICY;
}

const char* kDefaultPolicyModule = "write_through";
const char* kDefaultPolicyInstance = "policies.(default)";

}  // namespace

Runtime::Runtime(std::shared_ptr<const Config> cfg, Mode mode)
    : cfg_ptr_(std::move(cfg)), cfg_(*cfg_ptr_), mode_(mode) {}

Runtime::~Runtime() {
  stop();
  fronts_.clear();  // destroy() before their chain services go
  chain_services_.clear();
  front_chains_.clear();
  pipelines_.clear();
  dead_letters_.clear();
  chains_.clear();
  tiers_.clear();
  // Instances in reverse start order (pipelines' sources first), then the loader.
  for (auto it = start_order_.rbegin(); it != start_order_.rend(); ++it) instances_.erase(*it);
  instances_.clear();
  loader_.reset();
}

std::unique_ptr<Runtime> Runtime::build(std::shared_ptr<const Config> cfg, Mode mode,
                                        Diagnostics& diags, const std::string& modules_dir) {
  std::unique_ptr<Runtime> rt(new Runtime(std::move(cfg), mode));
  rt->loader_ =
      std::make_unique<ModuleLoader>(module_search_path(modules_dir, rt->cfg_.modules_dir));
  // Both steps run even when the first failed, so one check reports every error at once.
  bool ok = rt->build_instances(diags);
  ok = rt->build_pipelines(diags) && ok;
  ok = rt->build_fronts(diags) && ok;
  return ok ? std::move(rt) : nullptr;
}

std::unique_ptr<Runtime> Runtime::load(const std::string& path, Mode mode, Diagnostics& diags,
                                       const std::string& modules_dir) {
  auto cfg = parse_config(path, diags);
  if (!cfg) return nullptr;
  auto rt = build(std::make_shared<const Config>(std::move(*cfg)), mode, diags, modules_dir);
  return diags.empty() ? std::move(rt) : nullptr;
}

ModuleInstance* Runtime::instance(const std::string& full_name) {
  auto it = instances_.find(full_name);
  return it == instances_.end() ? nullptr : it->second.get();
}

bool Runtime::build_instances(Diagnostics& diags) {
  size_t before = diags.size();
  // Tiers and policies first (sources start last so nothing is consumed before the writers
  // are ready).
  std::vector<const InstanceConfig*> all;
  for (auto& i : cfg_.tiers) all.push_back(&i);
  for (auto& i : cfg_.policies) all.push_back(&i);
  if (mode_ != Mode::Cache)
    for (auto& i : cfg_.sources) all.push_back(&i);

  for (const InstanceConfig* ic : all) {
    if (ic->module.empty()) continue;  // no usable `module` key: parse_config said so
    auto loaded = loader_->load(ic->module);
    if (!loaded) {
      diags.add(ic->module_pos, ic->full_name() + ": " + loaded.error());
      continue;
    }
    const LoadedModule* mod = loaded.value();
    if (mod->desc->kind != expected_kind(ic->category)) {
      diags.add(ic->module_pos, ic->full_name() + ": module \"" + ic->module + "\" is a " +
                                    kind_name(mod->desc->kind) + ", not a " +
                                    kind_name(expected_kind(ic->category)));
      continue;
    }
    auto opts = validate_instance(cfg_, *ic, mod->desc->options, mod->desc->option_count, diags);
    std::optional<ResolvedOptions> host_opts;
    if (ic->category == "tiers") host_opts = tier_host_options(cfg_, *ic, diags);
    if (!opts || (ic->category == "tiers" && !host_opts)) continue;
    // Nothing is created once anything is wrong, in the file (parse_config's errors, e.g. an
    // unset ${VAR}) or here: a module handed a value that was already refused reports a second,
    // bogus error for the same problem.
    if (!diags.empty()) continue;
    auto inst = ModuleInstance::create(*mod, ic->full_name(), "", std::move(*opts));
    if (!inst) {
      diags.add(ic->pos, inst.error());
      continue;
    }
    ModuleInstance* raw = inst.value().get();
    instances_[ic->full_name()] = std::move(inst.value());
    start_order_.push_back(ic->full_name());
    if (ic->category == "tiers") {
      if (!raw->tier()) {
        diags.add(ic->module_pos, ic->full_name() + ": module has no tier hooks");
        continue;
      }
      BreakerSettings bs;
      bs.failure_threshold = static_cast<int>(host_opts->integer("breaker_failures"));
      bs.open_ms = host_opts->integer("breaker_open");
      bs.half_open_probes = static_cast<int>(host_opts->integer("breaker_probes"));
      tiers_[ic->full_name()] = std::make_unique<Tier>(*raw, bs);
    }
  }

  // The built-in default policy, for pipelines that name none.
  bool need_default = false;
  for (auto& p : cfg_.pipelines) need_default |= p.policy.empty();
  if (need_default && mode_ != Mode::Cache && diags.empty()) {
    auto loaded = loader_->load(kDefaultPolicyModule);
    if (!loaded) {
      diags.add({cfg_.path, 0, 0}, std::string("default policy: ") + loaded.error());
    } else {
      toml::table empty;
      auto opts =
          validate_table(empty, cfg_.path, kDefaultPolicyInstance, loaded.value()->desc->options,
                         loaded.value()->desc->option_count, {}, diags);
      if (opts) {
        auto inst =
            ModuleInstance::create(*loaded.value(), kDefaultPolicyInstance, "", std::move(*opts));
        if (!inst)
          diags.add({cfg_.path, 0, 0}, inst.error());
        else {
          instances_[kDefaultPolicyInstance] = std::move(inst.value());
          start_order_.push_back(kDefaultPolicyInstance);
        }
      }
    }
  }
  return diags.size() == before;
}

namespace {

// A checked script_config value (config/pipelines.cpp: no dates, integers within 2^53) as
// init() receives it.
lua::ConfigValue to_config_value(const toml::node& node) {
  lua::ConfigValue v;
  if (const toml::table* t = node.as_table()) {
    v.kind = lua::ConfigValue::Kind::Table;
    for (auto&& [k, child] : *t)
      v.fields.emplace_back(std::string(k.str()), to_config_value(child));
  } else if (const toml::array* a = node.as_array()) {
    v.kind = lua::ConfigValue::Kind::Array;
    for (const toml::node& child : *a) v.items.push_back(to_config_value(child));
  } else if (const auto* s = node.as_string()) {
    v.str = s->get();
  } else if (const auto* i = node.as_integer()) {
    v.kind = lua::ConfigValue::Kind::Number;
    v.number = static_cast<double>(i->get());
  } else if (const auto* f = node.as_floating_point()) {
    v.kind = lua::ConfigValue::Kind::Number;
    v.number = f->get();
  } else if (const auto* b = node.as_boolean()) {
    v.kind = lua::ConfigValue::Kind::Boolean;
    v.boolean = b->get();
  }
  return v;
}

}  // namespace

bool Runtime::build_pipelines(Diagnostics& diags) {
  size_t before = diags.size();
  for (const PipelineConfig& pc : cfg_.pipelines) {
    lua::ScriptSettings script;
    script.path = pc.script;
    script.allow = pc.options.list("lua_allow");
    script.instruction_budget = pc.options.integer("lua_budget");
    script.memory_limit_bytes = pc.options.integer("lua_memory");
    script.instance = "pipelines." + pc.name;
    script.config = {{"pipeline", pc.name}};
    if (pc.script_config) {
      for (auto&& [k, v] : *pc.script_config)
        script.config.emplace_back(std::string(k.str()), to_config_value(v));
    }
    // Compile the script now, in check and run alike: a broken script must fail the build (and
    // so a SIGHUP reload) before anything running is stopped.
    std::unique_ptr<lua::KeyHooks> compiled;
    if (mode_ != Mode::Cache && !script.path.empty()) {
      auto hooks = lua::KeyHooks::load(script);
      if (!hooks)
        diags.add(pc.pos, "pipelines." + pc.name + ": " + hooks.error());
      else
        compiled = std::move(*hooks);
    }

    std::vector<Tier*> tiers;
    for (auto& t : pc.tiers) {
      auto it = tiers_.find("tiers." + t);
      if (it != tiers_.end()) tiers.push_back(it->second.get());
    }
    if (tiers.size() != pc.tiers.size()) continue;  // already reported
    if (compiled) {
      std::string why = Pipeline::tags_unsupported(*compiled, tiers, pc.options.str("order"));
      if (!why.empty()) diags.add(pc.pos, "pipelines." + pc.name + ": " + why);
    }
    ChainSettings cs;
    cs.neg_ttl_ms = pc.options.integer("neg_ttl");
    chains_[pc.name] = std::make_unique<TierChain>(tiers, cs);
    if (mode_ != Mode::Run && mode_ != Mode::Replay) continue;

    DeadLetterSink* sink = nullptr;
    DeadLetterSettings dls;
    dls.pipeline = pc.name;
    dls.file = pc.options.str("dead_letter_file");
    if (!dls.file.empty() && dls.file[0] != '/') dls.file = cfg_.dir + "/" + dls.file;
    dls.kafka_topic = pc.options.str("dead_letter_topic");
    dls.kafka_servers = pc.options.str("dead_letter_kafka");  // checked with the config
    if (!diags.empty()) continue;  // the build fails: open no dead-letter file for it
    if (!dls.file.empty() || !dls.kafka_topic.empty()) {
      auto opened = DeadLetterSink::open(dls);
      if (!opened) {
        diags.add(pc.pos, "pipelines." + pc.name + ": " + opened.error());
        continue;
      }
      sink = opened.value().get();
      dead_letters_.push_back(std::move(opened.value()));
    }

    PipelineSettings ps;
    ps.name = pc.name;
    ps.script = script;
    ps.key_template = pc.key_template;
    ps.retry_backoff_ms = pc.options.integer("retry_backoff");
    ps.retry_backoff_max_ms = pc.options.integer("retry_backoff_max");
    ps.order = pc.options.str("order");
    ps.overlap_l1 = pc.options.integer("overlap_l1") != 0;
    ps.overlap_hooks = pc.options.integer("overlap_hooks") != 0;
    ps.replay = mode_ == Mode::Replay;
    ModuleInstance* source = instance("sources." + pc.source);
    ModuleInstance* policy =
        instance(pc.policy.empty() ? std::string(kDefaultPolicyInstance) : "policies." + pc.policy);
    if (!source || !policy) continue;  // reported by the config / instance step
    pipelines_.push_back(std::make_unique<Pipeline>(ps, source, tiers, policy, sink));
  }
  return diags.size() == before;
}

Result<void> Runtime::start() {
  if (mode_ == Mode::Check) return {};
  for (auto& name : start_order_) {
    auto r = instances_[name]->start();
    if (!r) return r;
  }
  // Fronts once their tiers are connected, and before any record is consumed: a front that
  // cannot listen fails the start with nothing consumed.
  if (auto r = start_fronts(); !r) return r;
  for (auto& p : pipelines_) {
    auto r = p->start();
    if (!r) return r;
  }
  started_ = true;
  return {};
}

void Runtime::stop(const std::function<void(const std::string&)>& on_instance) {
  stop_fronts();
  for (auto& p : pipelines_) p->stop();
  for (auto& d : dead_letters_) d->flush();
  if (!started_) return;
  started_ = false;
  for (auto it = start_order_.rbegin(); it != start_order_.rend(); ++it) {
    auto i = instances_.find(*it);
    if (i == instances_.end()) continue;
    if (on_instance) on_instance(*it);
    i->second->stop(true);
  }
}

Result<TierChain*> Runtime::chain(const std::string& pipeline) {
  if (pipeline.empty()) {
    if (chains_.size() == 1) return chains_.begin()->second.get();
    if (chains_.empty()) return fail("the configuration defines no pipeline");
    std::string names;
    for (auto& [n, c] : chains_) names += (names.empty() ? "" : ", ") + n;
    return fail("the configuration defines several pipelines; choose one with --pipeline (" +
                names + ")");
  }
  auto it = chains_.find(pipeline);
  if (it == chains_.end()) return fail("no pipeline named '" + pipeline + "'");
  return it->second.get();
}

std::pair<bool, std::string> Runtime::health() const {
  bool ok = true;
  std::ostringstream out;
  std::string not_ready;  // /readyz: every durable breaker closed and every pipeline consuming
  for (auto& [name, tier] : tiers_) {
    auto st = tier->breaker().state();
    out << name << " breaker=" << CircuitBreaker::name(st) << "\n";
    if (tier->durable() && st == CircuitBreaker::State::Open) ok = false;
    if (tier->durable() && st != CircuitBreaker::State::Closed)
      not_ready += "not ready: " + name + " breaker=" + CircuitBreaker::name(st) + "\n";
  }
  for (auto& p : pipelines_) {
    out << "pipeline " << p->name() << (p->stats().paused ? " paused" : " running") << "\n";
    if (p->stats().paused) not_ready += "not ready: pipeline " + p->name() + " paused\n";
  }
  front_health(out);
  return {ok, (ok ? "ok\n" : "unhealthy\n") + out.str() + not_ready};
}

bool Runtime::idle(int64_t idle_ms) const {
  int64_t now = clock::mono_ms();
  for (auto& p : pipelines_) {
    const auto& s = p->stats();
    if (now - s.last_record_mono_ms.load() < idle_ms) return false;
    const int64_t lag = s.lag.load();
    if (lag > 0 || lag == STRATA_LAG_PENDING) return false;  // pending: records may be unread
    // Lag unknown (no partition assigned yet): idle only once something was consumed.
    if (lag < 0 && s.records.load() == 0) return false;
  }
  return true;
}

std::string Runtime::summary() const {
  std::ostringstream out;
  for (auto& p : pipelines_) {
    const auto& s = p->stats();
    out << "pipeline " << p->name() << ": records=" << s.records << " keys_l2=" << s.keys_written
        << " keys_l1=" << s.l1_written << " invalidations=" << s.invalidations
        << " dead_letters=" << s.dead_letters << " skipped=" << s.skipped
        << " stale_replays=" << s.stale_skipped << " coalesced=" << s.coalesced
        << " l1_refused=" << s.l1_refused << " cross_partition_writes=" << s.spread_keys
        << " durable_retries=" << s.durable_retries << " l1_errors=" << s.volatile_errors << "\n";
  }
  return out.str();
}

}  // namespace strata
