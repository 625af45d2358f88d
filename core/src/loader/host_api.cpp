// The host function table handed to every module's create(). Plain C callbacks: nothing may
// throw across them, so every C++ failure becomes a log line or a NULL handle.
#include <exception>
#include <string>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "loader/loader.hpp"
#include "metrics/metrics.hpp"

namespace strata {
namespace {

void host_log(strata_instance_ctx* ctx, strata_log_level level, const char* message) {
  std::string_view instance = ctx ? std::string_view(ctx->instance) : std::string_view();
  std::string_view pipeline = ctx ? std::string_view(ctx->pipeline) : std::string_view();
  log::write(level, instance, pipeline, message ? message : "");
}

// module_instance="<ctx->instance>" goes first, then the module's own labels, unless the
// module already set `module_instance` itself. Not `instance`: Prometheus sets that label on
// every scraped series to the target (host:port), so a series carrying its own would have it
// renamed to exported_instance (or, with honor_labels, replace the target's).
std::string series_labels(const strata_instance_ctx* ctx, const char* labels) {
  std::string given = labels ? labels : "";
  if (!ctx || ctx->instance.empty()) return given;
  if (given.rfind("module_instance=", 0) == 0 ||
      given.find(",module_instance=") != std::string::npos)
    return given;
  std::string out = "module_instance=\"" + escape_label_value(ctx->instance) + "\"";
  if (!given.empty()) out += "," + given;
  return out;
}

strata_metric* host_metric(strata_instance_ctx* ctx, strata_metric_type type, const char* name,
                           const char* help, const char* labels) {
  MetricType t;
  switch (type) {
    case STRATA_METRIC_COUNTER:
      t = MetricType::Counter;
      break;
    case STRATA_METRIC_GAUGE:
      t = MetricType::Gauge;
      break;
    case STRATA_METRIC_HISTOGRAM:
      t = MetricType::Histogram;
      break;
    default:
      host_log(ctx, STRATA_LOG_WARN,
               ("metric \"" + std::string(name ? name : "") + "\" has unknown type " +
                std::to_string(type) + "; updates are ignored")
                   .c_str());
      return nullptr;
  }
  if (!name || !*name) return nullptr;
  try {
    Series* s =
        MetricsRegistry::global().get(t, name, help ? help : "", series_labels(ctx, labels));
    return reinterpret_cast<strata_metric*>(s);
  } catch (const std::exception& e) {
    host_log(ctx, STRATA_LOG_WARN, (std::string(e.what()) + "; updates are ignored").c_str());
    return nullptr;
  }
}

Series* series(strata_metric* m) { return reinterpret_cast<Series*>(m); }

void host_metric_add(strata_metric* m, double delta) {
  if (m) series(m)->add(delta);
}
void host_metric_set(strata_metric* m, double value) {
  if (m) series(m)->set(value);
}
void host_metric_observe(strata_metric* m, double value) {
  if (m) series(m)->observe(value);
}

int64_t host_now_unix_ms() { return clock::unix_ms(); }

uint64_t host_monotonic_ns() { return clock::mono_ns(); }

void host_op_set_value(strata_tier_op* op, const char* data, size_t len) {
  if (!op || !op->host_result) return;
  auto* result = static_cast<OpResult*>(op->host_result);
  try {
    if (data)
      result->value.assign(data, len);
    else
      result->value.clear();
    result->has_value = true;
  } catch (...) {
    // Out of memory: leave the result empty; the caller sees has_value == false.
  }
}

const char* host_instance_name(strata_instance_ctx* ctx) {
  return ctx ? ctx->instance.c_str() : "";
}

int64_t host_stored_position(strata_instance_ctx* ctx, const char* topic, int32_t partition) {
  if (!ctx || !ctx->stored_position || !topic) return -1;
  try {
    return ctx->stored_position(topic, partition);
  } catch (const std::exception& e) {
    log::write(STRATA_LOG_WARN, ctx->instance, ctx->pipeline,
               std::string("stored position lookup failed: ") + e.what());
    return -1;
  }
}

strata_chain* host_front_chain(strata_instance_ctx* ctx) { return ctx ? ctx->chain : nullptr; }

int host_chain_submit(strata_chain* chain, strata_chain_op* ops, size_t count,
                      strata_chain_done_fn done, void* user) {
  if (!chain || !ops || count == 0 || !done) return STRATA_ERR_INVALID;
  return chain->submit(ops, count, done, user);
}

void host_chain_release(strata_chain_op* ops, size_t count) {
  if (!ops) return;
  for (size_t i = 0; i < count; ++i) {
    delete static_cast<ChainResultStorage*>(ops[i].host_private);
    ops[i].host_private = nullptr;
    ops[i].result_value = strata_bytes{nullptr, 0};
  }
}

const strata_host_api kHostApi = {
    sizeof(strata_host_api),
    STRATA_ABI_MAJOR,
    STRATA_ABI_MINOR,
    host_log,
    host_metric,
    host_metric_add,
    host_metric_set,
    host_metric_observe,
    host_now_unix_ms,
    host_monotonic_ns,
    host_op_set_value,
    host_instance_name,
    host_stored_position,
    host_front_chain,
    host_chain_submit,
    host_chain_release,
};

}  // namespace

const strata_host_api* host_api() { return &kHostApi; }

const char* kind_name(strata_module_kind kind) {
  switch (kind) {
    case STRATA_KIND_SOURCE:
      return "source";
    case STRATA_KIND_TIER:
      return "tier";
    case STRATA_KIND_POLICY:
      return "policy";
    case STRATA_KIND_FRONT:
      return "front";
  }
  return "unknown";
}

}  // namespace strata
