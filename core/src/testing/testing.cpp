// strata::testing (core/include/strata/testing.hpp): the host's own loader, option validator
// and tier wrapper, packaged for module authors' unit tests.
#include <strata/testing.hpp>

#include <chrono>
#include <climits>
#include <sstream>
#include <stdexcept>
#include <toml++/toml.h>

#include "chain/tier.hpp"
#include "config/config.hpp"
#include "loader/loader.hpp"

namespace strata::testing {

struct ModuleState {
  ModuleLoader loader{{}};
  const LoadedModule* module = nullptr;
};

struct InstanceState {
  std::shared_ptr<ModuleState> module;  // outlives the instance (dlclose last)
  std::unique_ptr<ModuleInstance> instance;
  std::unique_ptr<Tier> tier;  // tiers only
  ~InstanceState() {
    tier.reset();
    instance.reset();  // stop(drain) and destroy before the module may be unloaded
  }
};

namespace {

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

// The kit runs a tier without a circuit breaker in the way: a test that makes a tier fail ten
// times wants ten answers from the module, not STRATA_ERR_BREAKER_OPEN.
BreakerSettings no_breaker() {
  BreakerSettings s;
  s.failure_threshold = INT_MAX;
  return s;
}

Result result_of(const strata_tier_op& op, const strata::OpResult& stored) {
  Result r;
  r.status = op.status;
  if (stored.has_value) r.value = stored.value;
  r.flags = op.result_flags;
  r.ttl_ms = op.result_ttl_ms;
  if (op.status != STRATA_OK && op.status != STRATA_NOT_FOUND) r.error = std::string(op_error(op));
  return r;
}

}  // namespace

const char* status_name(strata_status status) {
  switch (status) {
    case STRATA_OK: return "STRATA_OK";
    case STRATA_NOT_FOUND: return "STRATA_NOT_FOUND";
    case STRATA_NOT_STORED: return "STRATA_NOT_STORED";
    case STRATA_ERR_BAD_KEY: return "STRATA_ERR_BAD_KEY";
    case STRATA_ERR_TOO_LARGE: return "STRATA_ERR_TOO_LARGE";
    case STRATA_ERR_UNAVAILABLE: return "STRATA_ERR_UNAVAILABLE";
    case STRATA_ERR_INVALID: return "STRATA_ERR_INVALID";
    case STRATA_ERR_INTERNAL: return "STRATA_ERR_INTERNAL";
    case STRATA_ERR_BREAKER_OPEN: return "STRATA_ERR_BREAKER_OPEN";
    case STRATA_UNANSWERED: return "STRATA_UNANSWERED";
  }
  return "(not a strata_status)";
}

std::ostream& operator<<(std::ostream& out, const Result& r) {
  out << status_name(r.status);
  if (r.status == STRATA_OK && !r.value.empty()) out << " value=\"" << r.value << "\"";
  if (r.flags) out << " flags=" << r.flags;
  if (!r.error.empty()) out << " error=\"" << r.error << "\"";
  return out;
}

std::string to_toml(const OptionMap& options) {
  std::string out;
  for (const auto& [name, value] : options) {
    std::string line = name + " = " + value;
    try {
      (void)toml::parse(line);
    } catch (const toml::parse_error&) {
      std::ostringstream quoted;
      quoted << toml::value<std::string>(value);
      line = name + " = " + quoted.str();
    }
    out += line + "\n";
  }
  return out;
}

// ---- Module ----------------------------------------------------------------------------------

Module::Module(const std::string& path) : state_(std::make_shared<ModuleState>()) {
  auto loaded = state_->loader.load(path);
  if (!loaded) fail(loaded.error());
  state_->module = loaded.value();
}

Module::~Module() = default;

const strata_module_descriptor& Module::descriptor() const { return *state_->module->desc; }

std::shared_ptr<InstanceState> Module::create(std::string_view toml_text,
                                              const std::string& instance,
                                              strata_module_kind kind) {
  const strata_module_descriptor* d = state_->module->desc;
  if (d->kind != kind)
    fail("module \"" + std::string(d->name) + "\" is a " + kind_name(d->kind) + ", not a " +
         kind_name(kind));
  toml::table table;
  try {
    table = toml::parse(toml_text, std::string_view("test.toml"));
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "test.toml:" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    fail(msg.str());
  }
  Diagnostics diags;
  auto opts = validate_table(table, "test.toml", instance, d->options, d->option_count,
                             {"module"}, diags);
  if (!opts || !diags.empty()) fail(diags.str());
  auto created = ModuleInstance::create(*state_->module, instance, "test", std::move(*opts));
  if (!created) fail(created.error());
  auto s = std::make_shared<InstanceState>();
  s->module = state_;
  s->instance = std::move(created.value());
  if (auto started = s->instance->start(); !started) fail(started.error());
  if (kind == STRATA_KIND_TIER) s->tier = std::make_unique<Tier>(*s->instance, no_breaker());
  return s;
}

TierInstance Module::tier(std::string_view toml_text, const std::string& instance) {
  return TierInstance(create(toml_text, instance, STRATA_KIND_TIER));
}
TierInstance Module::tier(const OptionMap& options, const std::string& instance) {
  return tier(to_toml(options), instance);
}
PolicyInstance Module::policy(std::string_view toml_text, const std::string& instance) {
  return PolicyInstance(create(toml_text, instance, STRATA_KIND_POLICY));
}
PolicyInstance Module::policy(const OptionMap& options, const std::string& instance) {
  return policy(to_toml(options), instance);
}

SourceInstance Module::source(std::string_view toml_text, const std::string& instance) {
  return SourceInstance(create(toml_text, instance, STRATA_KIND_SOURCE));
}

std::string Module::create_error(std::string_view toml_text) {
  try {
    const strata_module_kind kind = state_->module->desc->kind;
    const char* instance = kind == STRATA_KIND_POLICY   ? "policies.test"
                           : kind == STRATA_KIND_SOURCE ? "sources.test"
                                                        : "tiers.test";
    (void)create(toml_text, instance, kind);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

// ---- TierInstance ----------------------------------------------------------------------------

std::vector<Result> TierInstance::run(const std::vector<Op>& ops) {
  std::vector<strata_tier_op> raw;
  raw.reserve(ops.size());
  for (const Op& op : ops)
    raw.push_back(make_op(op.kind, op.key, op.value, op.ttl_ms, op.version, op.flags));
  std::vector<strata::OpResult> stored;
  state_->tier->execute(raw, stored);
  std::vector<Result> out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) out.push_back(result_of(raw[i], stored[i]));
  return out;
}

Result TierInstance::get(std::string_view key) {
  return run({Op::get(std::string(key))})[0];
}
Result TierInstance::set(std::string_view key, std::string_view value, int64_t ttl_ms,
                         uint32_t flags) {
  return run({Op::set(std::string(key), std::string(value), ttl_ms, flags)})[0];
}
Result TierInstance::add(std::string_view key, std::string_view value, int64_t ttl_ms,
                         uint32_t flags) {
  return run({Op::add(std::string(key), std::string(value), ttl_ms, flags)})[0];
}
Result TierInstance::del(std::string_view key) {
  return run({Op::del(std::string(key))})[0];
}
bool TierInstance::healthy() { return state_->tier->health(); }
uint32_t TierInstance::tier_flags() const { return state_->tier->flags(); }

// ---- PolicyInstance --------------------------------------------------------------------------

std::vector<strata_policy_decision> PolicyInstance::decide(std::string_view key,
                                                           std::string_view value,
                                                           int64_t hook_ttl_ms) {
  return decide(key, value, hook_ttl_ms,
                {{"tiers.l1", 0}, {"tiers.l2", STRATA_TIER_DURABLE | STRATA_TIER_VERSIONED}});
}

std::vector<strata_policy_decision> PolicyInstance::decide(
    std::string_view key, std::string_view value, int64_t hook_ttl_ms,
    const std::vector<strata_policy_tier>& tiers) {
  strata_record rec{};
  rec.struct_size = sizeof rec;
  rec.topic = "test";
  rec.key = {key.data(), key.size()};
  rec.value = {value.data(), value.size()};
  rec.timestamp_ms = -1;
  strata_policy_input in{};
  in.struct_size = sizeof in;
  in.record = &rec;
  in.key = {key.data(), key.size()};
  in.value = {value.data(), value.size()};
  in.hook_ttl_ms = hook_ttl_ms;
  in.tiers = tiers.data();
  in.tier_count = tiers.size();
  // As the pipeline does (write_plan.cpp): every decision starts as SKIP.
  std::vector<strata_policy_decision> out(tiers.size(), strata_policy_decision{});
  strata_error err{};
  const ModuleInstance& inst = *state_->instance;
  int rc = inst.policy()->decide(inst.handle(), &in, out.data(), &err);
  if (rc != STRATA_OK)
    fail(inst.name() + ": decide failed (" + status_name(static_cast<strata_status>(rc)) +
         "): " + std::string(err.message, strnlen(err.message, sizeof err.message)));
  return out;
}

// ---- SourceInstance --------------------------------------------------------------------------

namespace {

std::string bytes(strata_bytes b) { return b.data ? std::string(b.data, b.len) : std::string(); }

Record copy_record(const strata_record& r) {
  Record out;
  out.topic = r.topic ? r.topic : "";
  out.partition = r.partition;
  out.offset = r.offset;
  out.key = bytes(r.key);
  out.value = bytes(r.value);
  out.null_key = r.key.data == nullptr;
  out.tombstone = r.value.data == nullptr;
  out.timestamp_ms = r.timestamp_ms;
  for (size_t i = 0; i < r.header_count; ++i)
    out.headers.emplace_back(bytes(r.headers[i].key), bytes(r.headers[i].value));
  return out;
}

std::string message_of(const strata_error& err) {
  return std::string(err.message, strnlen(err.message, sizeof err.message));
}

}  // namespace

std::vector<Record> SourceInstance::poll(size_t max_records, int timeout_ms) {
  const ModuleInstance& inst = *state_->instance;
  strata_record_batch batch{};
  strata_error err{};
  int rc = inst.source()->poll(inst.handle(), max_records, timeout_ms, &batch, &err);
  if (rc != STRATA_OK)
    fail(inst.name() + ": poll failed (" + status_name(static_cast<strata_status>(rc)) +
         "): " + message_of(err));
  std::vector<Record> out;
  out.reserve(batch.count);
  for (size_t i = 0; i < batch.count; ++i) out.push_back(copy_record(batch.records[i]));
  inst.source()->release_batch(inst.handle(), &batch);
  return out;
}

std::vector<Record> SourceInstance::poll_until(size_t count, int timeout_ms) {
  std::vector<Record> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    for (auto& r : poll(count - out.size(), 50)) out.push_back(std::move(r));
  }
  return out;
}

void SourceInstance::ack(const std::string& topic, int32_t partition, int64_t next_offset) {
  const ModuleInstance& inst = *state_->instance;
  const strata_position pos{topic.c_str(), partition, next_offset};
  strata_error err{};
  int rc = inst.source()->ack(inst.handle(), &pos, 1, &err);
  if (rc != STRATA_OK)
    fail(inst.name() + ": ack failed (" + status_name(static_cast<strata_status>(rc)) +
         "): " + message_of(err));
}

void SourceInstance::pause() {
  state_->instance->source()->pause(state_->instance->handle());
}
void SourceInstance::resume() {
  state_->instance->source()->resume(state_->instance->handle());
}
int64_t SourceInstance::lag() {
  const strata_source_hooks* h = state_->instance->source();
  return h->lag ? h->lag(state_->instance->handle()) : -1;
}

}  // namespace strata::testing
