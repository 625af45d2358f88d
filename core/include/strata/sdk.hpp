// strata C++ module SDK (header-only).
//
// Turns a C++ class into a strata module with one macro, STRATA_MODULE(...). Module authors
// include only this header; it wraps the C ABI in strata.h, converts every exception thrown in
// module code into the ABI's error value, and gives typed access to validated options.
#pragma once

#include <strata/strata.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace strata {

// An error with an ABI status; anything else thrown maps to STRATA_ERR_INTERNAL.
class Error : public std::runtime_error {
 public:
  Error(strata_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  explicit Error(const std::string& message) : Error(STRATA_ERR_INVALID, message) {}
  strata_status status() const { return status_; }

 private:
  strata_status status_;
};

inline void copy_message(char* dst, size_t cap, std::string_view msg) {
  if (cap == 0) return;
  size_t n = msg.size() < cap - 1 ? msg.size() : cap - 1;
  std::memcpy(dst, msg.data(), n);
  dst[n] = '\0';
}

inline void set_error(strata_error* err, std::string_view msg) {
  if (err) copy_message(err->message, sizeof err->message, msg);
}

inline void set_op_error(strata_tier_op& op, strata_status status, std::string_view msg) {
  op.status = status;
  copy_message(op.error, sizeof op.error, msg);
}

// GET: reports the item's remaining TTL (ms; -1 = no expiry; 0 = unknown). A no-op when the
// host predates ABI 1.1 and its op has no room for it.
inline void set_result_ttl(strata_tier_op& op, int64_t ms) {
  if (op.struct_size >= offsetof(strata_tier_op, result_ttl_ms) + sizeof op.result_ttl_ms)
    op.result_ttl_ms = ms;
}

// ABI 1.2: the partition watermark guard of a SET/DELETE (guard_name empty = unguarded). Empty
// when the host predates 1.2.
inline std::string_view guard_name(const strata_tier_op& op) {
  if (op.struct_size < offsetof(strata_tier_op, guard_offset) + sizeof op.guard_offset ||
      op.guard_name.len == 0)
    return {};
  return {op.guard_name.data, op.guard_name.len};
}

// ---------------------------------------------------------------------------------------------
// Option schema builder: constexpr, so a module's table is static data.
//   static constexpr strata_option_def kOptions[] = {
//     strata::option("servers", STRATA_OPT_STRING_LIST, "127.0.0.1:11211", "memcached servers"),
//     strata::option("password", STRATA_OPT_STRING, "", "SASL password").secret(),
//     strata::option("timeout", STRATA_OPT_DURATION, "100ms", "I/O timeout").range(1, 60000),
//   };
struct OptionBuilder {
  strata_option_def def;
  constexpr OptionBuilder secret() const {
    OptionBuilder b = *this;
    b.def.flags |= STRATA_OPTF_SECRET;
    return b;
  }
  constexpr OptionBuilder reloadable() const {
    OptionBuilder b = *this;
    b.def.flags |= STRATA_OPTF_RELOADABLE;
    return b;
  }
  constexpr OptionBuilder min(double v) const {
    OptionBuilder b = *this;
    b.def.flags |= STRATA_OPTF_HAS_MIN;
    b.def.min = v;
    return b;
  }
  constexpr OptionBuilder max(double v) const {
    OptionBuilder b = *this;
    b.def.flags |= STRATA_OPTF_HAS_MAX;
    b.def.max = v;
    return b;
  }
  constexpr OptionBuilder range(double lo, double hi) const { return min(lo).max(hi); }
  constexpr OptionBuilder one_of(const char* const* values) const {
    OptionBuilder b = *this;
    b.def.enum_values = values;
    return b;
  }
  constexpr OptionBuilder required() const {
    OptionBuilder b = *this;
    b.def.default_value = nullptr;
    return b;
  }
  constexpr operator strata_option_def() const { return def; }
};

// `default_value` nullptr = required.
constexpr OptionBuilder option(const char* name, strata_option_type type,
                               const char* default_value, const char* description) {
  return OptionBuilder{strata_option_def{sizeof(strata_option_def), name, type, default_value, 0,
                                         0.0, 0.0, nullptr, description}};
}

// Typed, by-name view over the validated values handed to create().
class Options {
 public:
  Options(const strata_option_def* defs, size_t n, const strata_option_value* values)
      : defs_(defs), n_(n), values_(values) {}

  const strata_option_value& raw(std::string_view name) const {
    for (size_t i = 0; i < n_; ++i)
      if (name == defs_[i].name) return values_[i];
    throw Error(STRATA_ERR_INTERNAL, "option '" + std::string(name) + "' is not in the schema");
  }
  bool is_set(std::string_view name) const { return raw(name).is_set != 0; }
  std::string str(std::string_view name) const {
    const char* s = raw(name).s;
    return s ? std::string(s) : std::string();
  }
  int64_t integer(std::string_view name) const { return raw(name).i; }
  bool boolean(std::string_view name) const { return raw(name).i != 0; }
  double number(std::string_view name) const { return raw(name).d; }
  int64_t duration_ms(std::string_view name) const { return raw(name).i; }
  int64_t size_bytes(std::string_view name) const { return raw(name).i; }
  std::vector<std::string> list(std::string_view name) const {
    const auto& v = raw(name);
    std::vector<std::string> out;
    for (size_t i = 0; i < v.list_len; ++i) out.emplace_back(v.list[i]);
    return out;
  }
  std::vector<std::pair<std::string, std::string>> table(std::string_view name) const {
    const auto& v = raw(name);
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i < v.table_len; ++i) out.emplace_back(v.table[i].key, v.table[i].value);
    return out;
  }

 private:
  const strata_option_def* defs_;
  size_t n_;
  const strata_option_value* values_;
};

// A metric handle; cheap to copy; a default-constructed one ignores updates.
class Metric {
 public:
  Metric() = default;
  Metric(const strata_host_api* api, strata_metric* m) : api_(api), m_(m) {}
  void add(double d = 1.0) const {
    if (m_) api_->metric_add(m_, d);
  }
  void set(double v) const {
    if (m_) api_->metric_set(m_, v);
  }
  void observe(double v) const {
    if (m_) api_->metric_observe(m_, v);
  }

 private:
  const strata_host_api* api_ = nullptr;
  strata_metric* m_ = nullptr;
};

// The host as a module sees it.
class Host {
  // The host table covers the function pointer at `offset` (a member added by a later minor).
  bool has(size_t offset) const { return api_->struct_size >= offset + sizeof(void*); }

 public:
  Host(const strata_host_api* api, strata_instance_ctx* ctx) : api_(api), ctx_(ctx) {}
  void log(strata_log_level level, const std::string& msg) const {
    api_->log(ctx_, level, msg.c_str());
  }
  void debug(const std::string& m) const { log(STRATA_LOG_DEBUG, m); }
  void info(const std::string& m) const { log(STRATA_LOG_INFO, m); }
  void warn(const std::string& m) const { log(STRATA_LOG_WARN, m); }
  void error(const std::string& m) const { log(STRATA_LOG_ERROR, m); }
  Metric counter(const char* name, const char* help, const char* labels = nullptr) const {
    return Metric(api_, api_->metric(ctx_, STRATA_METRIC_COUNTER, name, help, labels));
  }
  Metric gauge(const char* name, const char* help, const char* labels = nullptr) const {
    return Metric(api_, api_->metric(ctx_, STRATA_METRIC_GAUGE, name, help, labels));
  }
  Metric histogram(const char* name, const char* help, const char* labels = nullptr) const {
    return Metric(api_, api_->metric(ctx_, STRATA_METRIC_HISTOGRAM, name, help, labels));
  }
  int64_t now_unix_ms() const { return api_->now_unix_ms(); }
  uint64_t monotonic_ns() const { return api_->monotonic_ns(); }
  // Hands a GET result to the host (copied).
  void set_value(strata_tier_op& op, const char* data, size_t len) const {
    api_->op_set_value(&op, data, len);
  }
  std::string instance_name() const { return api_->instance_name(ctx_); }
  // Sources: the next offset stored with the data for a newly assigned partition (the
  // pipeline's watermark), or -1 (nothing stored, no watermark guard, or a host before 1.2).
  int64_t stored_position(const char* topic, int32_t partition) const {
    if (api_->struct_size < offsetof(strata_host_api, stored_position) + sizeof(void*) ||
        !api_->stored_position)
      return -1;
    return api_->stored_position(ctx_, topic, partition);
  }
  // Fronts (ABI 1.2): the tier chain this instance is configured with (`tiers = [...]` or
  // `pipeline = "..."`), owned by the host, valid from the constructor until the module is
  // destroyed. nullptr for other kinds or a host before 1.2.
  strata_chain* front_chain() const {
    if (!has(offsetof(strata_host_api, front_chain)) || !api_->front_chain) return nullptr;
    return api_->front_chain(ctx_);
  }
  // Runs `count` ops through `chain`; done(user, ops, count) is called exactly once, on a host
  // thread or on this thread before submit() returns. `ops` and the bytes their inputs point
  // to stay the caller's and must live, unchanged, until done. Returns STRATA_OK, or an error
  // (done is then never called): the chain is shutting down, count is 0, or the host has no
  // chain service (before 1.2). Every op must start with struct_size = sizeof(strata_chain_op)
  // (chain_op() below does that).
  strata_status submit(strata_chain* chain, strata_chain_op* ops, size_t count,
                       strata_chain_done_fn done, void* user) const {
    if (!has(offsetof(strata_host_api, chain_submit)) || !api_->chain_submit || !chain)
      return STRATA_ERR_UNAVAILABLE;
    return static_cast<strata_status>(api_->chain_submit(chain, ops, count, done, user));
  }
  // Frees the results (result_value) of a completed submit; the ops may be reused after it.
  void release(strata_chain_op* ops, size_t count) const {
    if (has(offsetof(strata_host_api, chain_release)) && api_->chain_release)
      api_->chain_release(ops, count);
  }
  const strata_host_api* api() const { return api_; }
  strata_instance_ctx* ctx() const { return ctx_; }

 private:
  const strata_host_api* api_;
  strata_instance_ctx* ctx_;
};

// ---------------------------------------------------------------------------------------------
// Fronts: building chain ops and reading their results.

// A zeroed op of `kind` on `key` (the bytes are not copied: they must outlive the submit).
inline strata_chain_op chain_op(strata_chain_op_kind kind, std::string_view key,
                                std::string_view value = {}, int64_t ttl_ms = 0,
                                uint32_t flags = 0, uint64_t cas = 0) {
  strata_chain_op op;
  std::memset(&op, 0, sizeof op);
  op.struct_size = sizeof op;
  op.kind = kind;
  op.key = strata_bytes{key.data(), key.size()};
  op.value = strata_bytes{value.data(), value.size()};
  op.ttl_ms = ttl_ms;
  op.flags = flags;
  op.cas = cas;
  return op;
}

inline std::string_view result_value(const strata_chain_op& op) {
  return op.result_value.data ? std::string_view(op.result_value.data, op.result_value.len)
                              : std::string_view();
}

inline std::string_view result_error(const strata_chain_op& op) {
  return std::string_view(op.error, strnlen(op.error, sizeof op.error));
}

// ---------------------------------------------------------------------------------------------
// Base classes. A module class derives from one, has a constructor (Host, const Options&), and
// throws strata::Error (or anything) on failure.

class ModuleBase {
 public:
  virtual ~ModuleBase() = default;
  virtual void start() {}
  virtual void stop(bool /*drain*/) {}
};

class SourceModule : public ModuleBase {
 public:
  static constexpr strata_module_kind kKind = STRATA_KIND_SOURCE;
  virtual void poll(size_t max_records, int timeout_ms, strata_record_batch& out) = 0;
  virtual void release(strata_record_batch& batch) = 0;
  virtual void ack(const strata_position* positions, size_t count) = 0;
  virtual void pause() {}
  virtual void resume() {}
  virtual int64_t lag() { return -1; }
};

class TierModule : public ModuleBase {
 public:
  static constexpr strata_module_kind kKind = STRATA_KIND_TIER;
  static constexpr uint32_t kTierFlags = 0;  // hide in the derived class
  // Set every op's status. Throw only when the whole batch failed.
  virtual void execute(strata_tier_op* ops, size_t count) = 0;
  // Throw strata::Error when unhealthy.
  virtual void health() {}
};

class PolicyModule : public ModuleBase {
 public:
  static constexpr strata_module_kind kKind = STRATA_KIND_POLICY;
  static constexpr uint32_t kPolicyFlags = 0;  // strata_policy_flags; a subclass may shadow it
  virtual void decide(const strata_policy_input& in, strata_policy_decision* decisions) = 0;
};

// A front serves a network protocol over the tier chain host().front_chain() returns. It owns
// its threads: spawn them in start(), stop and join them in stop() (bounded: the host waits),
// and submit ops from any of them with host().submit(). No other hooks.
class FrontModule : public ModuleBase {
 public:
  static constexpr strata_module_kind kKind = STRATA_KIND_FRONT;
};

namespace detail {

template <typename F>
int guarded(strata_error* err, F&& f) noexcept {
  try {
    f();
    return STRATA_OK;
  } catch (const Error& e) {
    set_error(err, e.what());
    return e.status() == STRATA_OK ? STRATA_ERR_INTERNAL : e.status();
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return STRATA_ERR_INTERNAL;
  } catch (...) {
    set_error(err, "unknown exception");
    return STRATA_ERR_INTERNAL;
  }
}

template <typename T>
struct Trampolines {
  static T* self(void* p) { return static_cast<T*>(static_cast<ModuleBase*>(p)); }

  static int start(void* inst, strata_error* err) {
    return guarded(err, [&] { self(inst)->start(); });
  }
  static void stop(void* inst, int drain) {
    strata_error ignored;
    guarded(&ignored, [&] { self(inst)->stop(drain != 0); });
  }
  static void destroy(void* inst) {
    try {
      delete static_cast<ModuleBase*>(inst);
    } catch (...) {
    }
  }

  // source
  static int poll(void* inst, size_t max, int timeout_ms, strata_record_batch* out,
                  strata_error* err) {
    return guarded(err, [&] {
      if constexpr (std::is_base_of_v<SourceModule, T>) self(inst)->poll(max, timeout_ms, *out);
    });
  }
  static void release(void* inst, strata_record_batch* b) {
    strata_error ignored;
    guarded(&ignored, [&] {
      if constexpr (std::is_base_of_v<SourceModule, T>) self(inst)->release(*b);
    });
  }
  static int ack(void* inst, const strata_position* p, size_t n, strata_error* err) {
    return guarded(err, [&] {
      if constexpr (std::is_base_of_v<SourceModule, T>) self(inst)->ack(p, n);
    });
  }
  static void pause(void* inst) {
    strata_error ignored;
    guarded(&ignored, [&] {
      if constexpr (std::is_base_of_v<SourceModule, T>) self(inst)->pause();
    });
  }
  static void resume(void* inst) {
    strata_error ignored;
    guarded(&ignored, [&] {
      if constexpr (std::is_base_of_v<SourceModule, T>) self(inst)->resume();
    });
  }
  static int64_t lag(void* inst) {
    if constexpr (std::is_base_of_v<SourceModule, T>) {
      try {
        return self(inst)->lag();
      } catch (...) {
        return -1;
      }
    }
    return -1;
  }

  // tier
  static int execute(void* inst, strata_tier_op* ops, size_t n, strata_error* err) {
    int rc = guarded(err, [&] {
      if constexpr (std::is_base_of_v<TierModule, T>) self(inst)->execute(ops, n);
    });
    if (rc != STRATA_OK)
      for (size_t i = 0; i < n; ++i) set_op_error(ops[i], static_cast<strata_status>(rc),
                                                  err ? err->message : "batch failed");
    return rc;
  }
  static int health(void* inst, strata_error* err) {
    return guarded(err, [&] {
      if constexpr (std::is_base_of_v<TierModule, T>) self(inst)->health();
    });
  }

  // policy
  static int decide(void* inst, const strata_policy_input* in, strata_policy_decision* d,
                    strata_error* err) {
    return guarded(err, [&] {
      if constexpr (std::is_base_of_v<PolicyModule, T>) self(inst)->decide(*in, d);
    });
  }
};

template <typename T>
const void* kind_hooks() {
  using Tr = Trampolines<T>;
  if constexpr (std::is_base_of_v<SourceModule, T>) {
    static const strata_source_hooks h = {sizeof(strata_source_hooks), Tr::poll, Tr::release,
                                          Tr::ack, Tr::pause, Tr::resume, Tr::lag,
                                          {nullptr, nullptr, nullptr, nullptr}};
    return &h;
  } else if constexpr (std::is_base_of_v<TierModule, T>) {
    static const strata_tier_hooks h = {sizeof(strata_tier_hooks), T::kTierFlags, Tr::execute,
                                        Tr::health, {nullptr, nullptr, nullptr, nullptr}};
    return &h;
  } else if constexpr (std::is_base_of_v<FrontModule, T>) {
    static const strata_front_hooks h = {sizeof(strata_front_hooks),
                                         {nullptr, nullptr, nullptr, nullptr}};
    return &h;
  } else {
    static_assert(std::is_base_of_v<PolicyModule, T>, "derive from a strata::*Module class");
    static const strata_policy_hooks h = {sizeof(strata_policy_hooks), Tr::decide,
                                          {nullptr, nullptr, nullptr, nullptr}, T::kPolicyFlags};
    return &h;
  }
}

template <typename T, const strata_option_def* Defs, size_t N>
int create(const strata_host_api* host, strata_instance_ctx* ctx, const strata_option_value* v,
           size_t n, void** out, strata_error* err) {
  return guarded(err, [&] {
    if (n != N) throw Error(STRATA_ERR_INVALID, "option count does not match the schema");
    Options opts(Defs, N, v);
    T* obj = new T(Host(host, ctx), opts);
    *out = static_cast<ModuleBase*>(obj);
  });
}

}  // namespace detail
}  // namespace strata

// Declares the module's entry symbol. OPTIONS must be a namespace-scope
// `static constexpr strata_option_def NAME[]` (or `inline constexpr`).
#define STRATA_MODULE(CLASS, NAME, VERSION, DESCRIPTION, OPTIONS)                              \
  extern "C" STRATA_EXPORT const strata_module_descriptor* strata_module_entry(void) {        \
    using strata_T_ = CLASS;                                                                   \
    constexpr size_t strata_n_ = sizeof(OPTIONS) / sizeof(OPTIONS[0]);                        \
    static const strata_module_descriptor d = {                                                \
        sizeof(strata_module_descriptor),                                                      \
        STRATA_ABI_MAJOR,                                                                      \
        STRATA_ABI_MINOR,                                                                      \
        NAME,                                                                                  \
        VERSION,                                                                               \
        DESCRIPTION,                                                                           \
        strata_T_::kKind,                                                                      \
        OPTIONS,                                                                               \
        strata_n_,                                                                             \
        strata::detail::create<strata_T_, OPTIONS, strata_n_>,                                 \
        strata::detail::Trampolines<strata_T_>::start,                                         \
        strata::detail::Trampolines<strata_T_>::stop,                                          \
        strata::detail::Trampolines<strata_T_>::destroy,                                       \
        strata::detail::kind_hooks<strata_T_>(),                                               \
        {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr}};             \
    return &d;                                                                                 \
  }
