// strata C++ module SDK (header-only).
//
// Turns a C++ class into a strata module with one macro, STRATA_MODULE(...). Module authors
// include only this header; it wraps the C ABI in strata.h, converts every exception thrown in
// module code into the ABI's error value, gives typed access to validated options, and answers
// a tier's ops one by one (TierModule's get/set/add/del) unless the module batches them itself.
#pragma once

#include <strata/strata.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <strata/error.hpp>
#include <strata/ops.hpp>
#include <strata/options.hpp>

namespace strata {

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
// Base classes. A module class derives from one, has a constructor (Host, const Options&), and
// throws strata::Error (or anything) on failure. The base keeps the host: host() works from the
// constructor on.

class ModuleBase;
namespace detail {
// The host of the module being constructed (set by detail::create around `new T`), so that
// ModuleBase's default constructor can keep it without every module passing it on.
struct HostSlot {
  const strata_host_api* api = nullptr;
  strata_instance_ctx* ctx = nullptr;
};
inline thread_local HostSlot constructing;
}  // namespace detail

class ModuleBase {
 public:
  ModuleBase() : api_(detail::constructing.api), ctx_(detail::constructing.ctx) {}
  virtual ~ModuleBase() = default;
  virtual void start() {}
  virtual void stop(bool /*drain*/) {}
  // The host this instance was created by (log, metrics, clocks, op results).
  Host host() const {
    if (!api_) throw Error(STRATA_ERR_INTERNAL, "module was not created through STRATA_MODULE");
    return Host(api_, ctx_);
  }

 private:
  const strata_host_api* api_;
  strata_instance_ctx* ctx_;
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
  // ABI 1.2, appended (strata_source_hooks.replay / replay_left): a one-shot replay. The
  // default refuses it, so `strata replay` says the source cannot replay.
  virtual void replay(const strata_source_replay& spec) {
    (void)spec;
    throw Error(STRATA_ERR_INVALID, "this source does not support replay");
  }
  virtual int64_t replay_left() { return -1; }
  virtual void replay_extend() {
    throw Error(STRATA_ERR_INVALID, "this source does not support replay");
  }
};

// A tier. Two ways to write one:
//  - per op: override get/set/add/del (and execute_other for the rich kinds); the default
//    execute() answers every op of a batch through them, one at a time, catching per op (a
//    strata::Error sets its status on that op only, anything else STRATA_ERR_INTERNAL), and
//    fills result_flags and result_ttl_ms from the Item get() returns;
//  - batched: override execute() itself (pipelining, multi-get) and set every op's status.
// execute() may run on several threads at once: guard the tier's state.
class TierModule : public ModuleBase {
 public:
  static constexpr strata_module_kind kKind = STRATA_KIND_TIER;
  static constexpr uint32_t kTierFlags = 0;  // hide in the derived class

  // GET: the stored item (value, flags as stored, remaining ttl_ms), or nullopt for a miss.
  virtual std::optional<Item> get(std::string_view key) { return unsupported("GET", key); }
  // SET: store `item` (value + flags + the op's ttl_ms) whatever is there.
  virtual void set(std::string_view key, Item item) {
    (void)item;
    unsupported("SET", key);
  }
  // ADD: store only if absent; false = the key exists (STRATA_NOT_STORED).
  virtual bool add(std::string_view key, Item item) {
    (void)item;
    unsupported("ADD", key);
    return false;
  }
  // DELETE: false = there was nothing to delete (STRATA_NOT_FOUND).
  virtual bool del(std::string_view key) {
    unsupported("DELETE", key);
    return false;
  }
  // Any other kind (WATERMARK_GET, the STRATA_TIER_RICH kinds): set op.status yourself.
  virtual void execute_other(strata_tier_op& op) {
    set_op_error(op, STRATA_ERR_INVALID, "this tier does not support this op kind");
  }

  // Set every op's status. Throw only when the whole batch failed.
  virtual void execute(strata_tier_op* ops, size_t count) {
    for (size_t i = 0; i < count; ++i) execute_one(ops[i]);
  }
  // Throw strata::Error when unhealthy.
  virtual void health() {}

 protected:
  // One op through get/set/add/del, its status always set.
  void execute_one(strata_tier_op& op) noexcept {
    try {
      answer(op);
    } catch (const Error& e) {
      set_op_error(op, e.status() == STRATA_OK ? STRATA_ERR_INTERNAL : e.status(), e.what());
    } catch (const std::exception& e) {
      set_op_error(op, STRATA_ERR_INTERNAL, e.what());
    } catch (...) {
      set_op_error(op, STRATA_ERR_INTERNAL, "unknown exception");
    }
  }

 private:
  [[noreturn]] static std::nullopt_t unsupported(const char* kind, std::string_view) {
    throw Error(STRATA_ERR_INVALID, std::string("this tier does not support ") + kind);
  }
  void answer(strata_tier_op& op) {
    const std::string_view key = op_key(op);
    switch (op.kind) {
      case STRATA_TIER_GET: {
        std::optional<Item> item = get(key);
        if (!item) {
          op.status = STRATA_NOT_FOUND;
          return;
        }
        host().set_value(op, item->value.data(), item->value.size());
        op.result_flags = item->flags;
        set_result_ttl(op, item->ttl_ms);
        op.status = STRATA_OK;
        return;
      }
      case STRATA_TIER_SET:
        set(key, item_of(op));
        op.status = STRATA_OK;
        return;
      case STRATA_TIER_ADD:
        op.status = add(key, item_of(op)) ? STRATA_OK : STRATA_NOT_STORED;
        return;
      case STRATA_TIER_DELETE:
        op.status = del(key) ? STRATA_OK : STRATA_NOT_FOUND;
        return;
      default:
        execute_other(op);
    }
  }
};

class PolicyModule : public ModuleBase {
 public:
  static constexpr strata_module_kind kKind = STRATA_KIND_POLICY;
  static constexpr uint32_t kPolicyFlags = 0;  // strata_policy_flags; a subclass may shadow it
  // Fill decisions[0..in.tier_count); the host has preset each to STRATA_ACTION_SKIP.
  virtual void decide(const strata_policy_input& in, strata_policy_decision* decisions) = 0;

  // Helpers for decide(): what to do on one tier.
  static strata_policy_decision skip() { return {STRATA_ACTION_SKIP, STRATA_TTL_DEFAULT}; }
  static strata_policy_decision write(int64_t ttl_ms) { return {STRATA_ACTION_SET, ttl_ms}; }
  static strata_policy_decision remove() { return {STRATA_ACTION_DELETE, STRATA_TTL_DEFAULT}; }
  static bool durable(const strata_policy_tier& t) {
    return (t.tier_flags & STRATA_TIER_DURABLE) != 0;
  }
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
  static int replay(void* inst, const strata_source_replay* spec, strata_error* err) {
    return guarded(err, [&] {
      if constexpr (std::is_base_of_v<SourceModule, T>) self(inst)->replay(*spec);
    });
  }
  static int replay_extend(void* inst, strata_error* err) {
    return guarded(err, [&] {
      if constexpr (std::is_base_of_v<SourceModule, T>) self(inst)->replay_extend();
    });
  }
  static int64_t replay_left(void* inst) {
    if constexpr (std::is_base_of_v<SourceModule, T>) {
      try {
        return self(inst)->replay_left();
      } catch (...) {
        return -1;
      }
    }
    return -1;
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
                                          {nullptr, nullptr, nullptr, nullptr},
                                          Tr::replay, Tr::replay_left, Tr::replay_extend};
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

// A module's option table as STRATA_MODULE was given it: an array, or nothing (no options).
struct OptionTable {
  const strata_option_def* defs;
  size_t count;
};
template <size_t N>
constexpr OptionTable option_table(const strata_option_def (&defs)[N]) {
  return {defs, N};
}
constexpr OptionTable option_table() { return {nullptr, 0}; }
constexpr OptionTable option_table(std::nullptr_t) { return {nullptr, 0}; }

// `Table::get()` returns the module's OptionTable (a type, so it can be a template argument).
template <typename T, typename Table>
int create(const strata_host_api* host, strata_instance_ctx* ctx, const strata_option_value* v,
           size_t n, void** out, strata_error* err) {
  return guarded(err, [&] {
    constexpr OptionTable table = Table::get();
    if (n != table.count) throw Error(STRATA_ERR_INVALID, "option count does not match the schema");
    Options opts(table.defs, table.count, v);
    struct Restore {
      ~Restore() { constructing = {}; }
    } restore;
    constructing = {host, ctx};
    T* obj = new T(Host(host, ctx), opts);
    *out = static_cast<ModuleBase*>(obj);
  });
}

}  // namespace detail
}  // namespace strata

// Declares the module's entry symbol. OPTIONS, when given, must be a namespace-scope
// `static constexpr strata_option_def NAME[]` (or `inline constexpr`); a module without options
// leaves it out: STRATA_MODULE(MyTier, "my_tier", "1.0", "what it is").
// The descriptor carries this build's STRATA_BUILD_SIGNATURE (strata.h).
#define STRATA_MODULE(CLASS, NAME, VERSION, DESCRIPTION, ...)                                  \
  struct strata_module_options_ {                                                              \
    static constexpr strata::detail::OptionTable get() {                                       \
      return strata::detail::option_table(__VA_ARGS__);                                        \
    }                                                                                          \
  };                                                                                           \
  extern "C" STRATA_EXPORT const strata_module_descriptor* strata_module_entry(void) {        \
    using strata_T_ = CLASS;                                                                   \
    constexpr strata::detail::OptionTable strata_table_ = strata_module_options_::get();      \
    static const strata_module_descriptor d = {                                                \
        sizeof(strata_module_descriptor),                                                      \
        STRATA_ABI_MAJOR,                                                                      \
        STRATA_ABI_MINOR,                                                                      \
        NAME,                                                                                  \
        VERSION,                                                                               \
        DESCRIPTION,                                                                           \
        strata_T_::kKind,                                                                      \
        strata_table_.defs,                                                                    \
        strata_table_.count,                                                                   \
        strata::detail::create<strata_T_, strata_module_options_>,                             \
        strata::detail::Trampolines<strata_T_>::start,                                         \
        strata::detail::Trampolines<strata_T_>::stop,                                          \
        strata::detail::Trampolines<strata_T_>::destroy,                                       \
        strata::detail::kind_hooks<strata_T_>(),                                               \
        {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},              \
        STRATA_BUILD_SIGNATURE};                                                               \
    return &d;                                                                                 \
  }
