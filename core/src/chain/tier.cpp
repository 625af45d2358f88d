#include "chain/tier.hpp"

#include <chrono>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <string_view>

#include "common/log.hpp"
#include "metrics/metrics.hpp"

namespace strata {

namespace {

// A module built for an older minor steps through an ops array with that minor's size of
// strata_tier_op: 1.0 ended at host_result (result_ttl_ms came in 1.1), 1.1 at result_ttl_ms
// (the guard came in 1.2). Such a module gets a packed copy of exactly what it knows.
constexpr size_t kOpSize_1_0 = offsetof(strata_tier_op, result_ttl_ms);
constexpr size_t kOpSize_1_1 = offsetof(strata_tier_op, guard_name);
static_assert(kOpSize_1_0 % alignof(strata_tier_op) == 0, "1.0 ops would be misaligned");
static_assert(kOpSize_1_1 % alignof(strata_tier_op) == 0, "1.1 ops would be misaligned");

// Failures that say the tier is unusable (as opposed to "this key is bad").
bool is_availability_failure(int status) {
  return status == STRATA_ERR_UNAVAILABLE || status == STRATA_ERR_INTERNAL;
}

constexpr CircuitBreaker::State kBreakerStates[] = {
    CircuitBreaker::State::Closed, CircuitBreaker::State::Open, CircuitBreaker::State::HalfOpen};

// The `state` label value: Prometheus label values in snake case (CircuitBreaker::name says
// "half-open" for people).
const char* breaker_label(CircuitBreaker::State s) {
  return s == CircuitBreaker::State::HalfOpen ? "half_open" : CircuitBreaker::name(s);
}

}  // namespace

const char* op_kind_name(strata_tier_op_kind kind) {
  switch (kind) {
    case STRATA_TIER_GET:
      return "GET";
    case STRATA_TIER_SET:
      return "SET";
    case STRATA_TIER_ADD:
      return "ADD";
    case STRATA_TIER_DELETE:
      return "DELETE";
    case STRATA_TIER_WATERMARK_GET:
      return "WATERMARK_GET";
    case STRATA_TIER_REPLACE:
      return "REPLACE";
    case STRATA_TIER_APPEND:
      return "APPEND";
    case STRATA_TIER_PREPEND:
      return "PREPEND";
    case STRATA_TIER_INCR:
      return "INCR";
    case STRATA_TIER_DECR:
      return "DECR";
    case STRATA_TIER_TOUCH:
      return "TOUCH";
    case STRATA_TIER_CAS:
      return "CAS";
    case STRATA_TIER_FLUSH:
      return "FLUSH";
    case STRATA_TIER_TAG:
      return "TAG";
    case STRATA_TIER_INVALIDATE_TAG:
      return "INVALIDATE_TAG";
    case STRATA_TIER_SCAN:
      return "SCAN";
  }
  return "?";
}

Tier::Tier(ModuleInstance& instance, BreakerSettings breaker)
    : instance_(instance), hooks_(instance.tier()), breaker_(breaker) {
  const strata_module_descriptor* d = instance.desc();
  if (d && d->abi_major == 1 && d->abi_minor == 0) op_size_ = kOpSize_1_0;
  if (d && d->abi_major == 1 && d->abi_minor == 1) op_size_ = kOpSize_1_1;
  auto& reg = MetricsRegistry::global();
  const std::string labels = "tier=\"" + instance.name() + "\"";
  hits_ = reg.counter("strata_tier_hits_total", "GETs that found an item (incl. negative entries)",
                      labels);
  misses_ = reg.counter("strata_tier_misses_total", "GETs that found no item", labels);
  errors_ = reg.counter("strata_tier_errors_total",
                        "Operations that failed, incl. those refused by the breaker", labels);
  refills_ = reg.counter("strata_tier_refills_total",
                         "Read-path refills (ADD) that the tier stored", labels);
  latency_ =
      reg.histogram("strata_tier_latency_seconds", "Time of one batch in the tier module", labels);
  // One series per state, 1 for the current one (the kube-state-metrics convention): an alert
  // or a panel matches state="open" instead of knowing what a number stands for.
  for (size_t i = 0; i < std::size(kBreakerStates); ++i)
    breaker_state_[i] =
        reg.gauge("strata_tier_breaker_state",
                  "Circuit breaker: 1 for the state the breaker is in, 0 for the others",
                  labels + ",state=\"" + breaker_label(kBreakerStates[i]) + "\"");
  breaker_opens_ =
      reg.counter("strata_tier_breaker_opens_total", "Times the circuit breaker opened", labels);
  show_breaker_state(CircuitBreaker::State::Closed);
  breaker_.set_listener([this](CircuitBreaker::State from, CircuitBreaker::State to) {
    on_breaker_change(from, to);
  });
}

const std::string& Tier::name() const { return instance_.name(); }

uint32_t Tier::flags() const {
  uint32_t f = hooks_ ? hooks_->tier_flags : 0;
  // A module older than 1.2 cannot see the guard fields nor knows the rich op kinds, whatever
  // bits it set.
  if (op_size_ != sizeof(strata_tier_op))
    f &= ~uint32_t(STRATA_TIER_WATERMARK | STRATA_TIER_RICH | STRATA_TIER_FLUSHABLE |
                   STRATA_TIER_TAGS | STRATA_TIER_SCANNABLE);
  return f;
}

bool Tier::refuse_unsupported(std::vector<strata_tier_op>& ops) {
  const uint32_t f = flags();
  const strata_tier_op* rich = nullptr;
  for (const auto& op : ops) {
    if (!(f & STRATA_TIER_RICH) && op.kind >= STRATA_TIER_REPLACE && op.kind <= STRATA_TIER_CAS)
      rich = &op;
    if (!(f & STRATA_TIER_FLUSHABLE) && op.kind == STRATA_TIER_FLUSH) rich = &op;
    if (!(f & STRATA_TIER_TAGS) &&
        (op.kind == STRATA_TIER_TAG || op.kind == STRATA_TIER_INVALIDATE_TAG))
      rich = &op;
    if (!(f & STRATA_TIER_SCANNABLE) && op.kind == STRATA_TIER_SCAN) rich = &op;
  }
  if (!rich) return false;
  // Never sent: a module that does not declare STRATA_TIER_RICH / _FLUSHABLE / _SCANNABLE (or
  // predates 1.2) does not know these kinds. The chain checks first; this is the last line.
  const std::string msg =
      name() + ": does not support " + op_kind_name(rich->kind) + "; nothing was sent";
  for (auto& op : ops) set_op_error(op, STRATA_ERR_INVALID, msg);
  errors_->add(static_cast<double>(ops.size()));
  return true;
}

void Tier::show_breaker_state(CircuitBreaker::State current) {
  for (size_t i = 0; i < std::size(kBreakerStates); ++i)
    breaker_state_[i]->set(kBreakerStates[i] == current ? 1 : 0);
}

void Tier::on_breaker_change(CircuitBreaker::State from, CircuitBreaker::State to) {
  show_breaker_state(to);
  if (to == CircuitBreaker::State::Open) {
    breaker_opens_->add(1);
    if (from == CircuitBreaker::State::Closed) {
      log::write(STRATA_LOG_WARN, name(), {},
                 "circuit breaker opened after " +
                     std::to_string(breaker_.settings().failure_threshold) +
                     " consecutive failures; next probe in " +
                     std::to_string(breaker_.settings().open_ms) + " ms");
    } else {
      log::write(STRATA_LOG_WARN, name(), {}, "circuit breaker probe failed; open again");
    }
  } else if (to == CircuitBreaker::State::Closed) {
    log::write(STRATA_LOG_INFO, name(), {}, "circuit breaker closed; tier is back");
  }
}

int Tier::execute_packed(std::vector<strata_tier_op>& ops, strata_error* err) {
  const size_t size = op_size_;
  std::vector<unsigned char> packed(ops.size() * size);  // new[]: aligned for the op
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i].struct_size = size;
    std::memcpy(packed.data() + i * size, &ops[i], size);
  }
  int rc = hooks_->execute(instance_.handle(), reinterpret_cast<strata_tier_op*>(packed.data()),
                           ops.size(), err);
  for (size_t i = 0; i < ops.size(); ++i) {
    std::memcpy(&ops[i], packed.data() + i * size, size);
    ops[i].struct_size = sizeof(strata_tier_op);
  }
  return rc;
}

void Tier::fail_unanswered(strata_tier_op& op) const {
  const bool unset = op.status == STRATA_UNANSWERED;
  const std::string status = std::to_string(static_cast<int>(op.status));
  const std::string what = unset ? "left its status unset"
                                 : "set the status " + status + ", which is not a strata_status";
  set_op_error(op, STRATA_ERR_INTERNAL,
               name() + ": module \"" + instance_.desc()->name + "\" did not answer this " +
                   op_kind_name(op.kind) + " (execute " + what + ")");
}

void Tier::refuse(std::vector<strata_tier_op>& ops) {
  const std::string msg = name() +
                          ": circuit breaker open after repeated failures; next probe in " +
                          std::to_string(breaker_.retry_in_ms()) + " ms";
  for (auto& op : ops) set_op_error(op, STRATA_ERR_BREAKER_OPEN, msg);
  errors_->add(static_cast<double>(ops.size()));
}

bool Tier::execute(std::vector<strata_tier_op>& ops, std::vector<OpResult>& results) {
  results.assign(ops.size(), OpResult{});
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i].struct_size = sizeof(strata_tier_op);
    ops[i].status = STRATA_UNANSWERED;  // not OK: an op the module forgets must not be a hit
    ops[i].result_flags = 0;
    ops[i].error[0] = '\0';
    ops[i].host_result = &results[i];
    ops[i].result_ttl_ms = 0;
  }
  if (ops.empty()) return true;
  if (!hooks_ || !hooks_->execute) {
    for (auto& op : ops) set_op_error(op, STRATA_ERR_INTERNAL, name() + ": not a tier module");
    errors_->add(static_cast<double>(ops.size()));
    return false;
  }
  if (refuse_unsupported(ops)) return false;
  if (!breaker_.allow()) {
    refuse(ops);
    return false;
  }

  if (!durable()) bump_marks(ops);
  strata_error err{};
  auto t0 = std::chrono::steady_clock::now();
  int rc = op_size_ != sizeof(strata_tier_op)
               ? execute_packed(ops, &err)
               : hooks_->execute(instance_.handle(), ops.data(), ops.size(), &err);
  latency_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  if (rc != STRATA_OK) {
    // The ABI says every op carries the error then; make sure of it and name the tier.
    const std::string msg = name() + ": " + (err.message[0] ? err.message : "batch failed");
    for (auto& op : ops) set_op_error(op, static_cast<strata_status>(rc), msg);
    errors_->add(static_cast<double>(ops.size()));
    breaker_.record_failure();
    return false;
  }

  bool unavailable = false;
  double hits = 0, misses = 0, errors = 0;
  for (auto& op : ops) {
    if (op.status == STRATA_UNANSWERED || static_cast<int>(op.status) < 0 ||
        static_cast<int>(op.status) > STRATA_ERR_BREAKER_OPEN)
      fail_unanswered(op);
    if (op.kind == STRATA_TIER_GET) {
      if (op.status == STRATA_OK) ++hits;
      if (op.status == STRATA_NOT_FOUND) ++misses;
    }
    if (op.status >= STRATA_ERR_BAD_KEY) ++errors;
    if (is_availability_failure(op.status)) unavailable = true;
  }
  if (hits) hits_->add(hits);
  if (misses) misses_->add(misses);
  if (errors) errors_->add(errors);
  if (unavailable) {
    breaker_.record_failure();
  } else {
    breaker_.record_success();
  }
  return true;
}

bool Tier::health() {
  if (!hooks_ || !hooks_->health) return true;
  strata_error err{};
  int rc = hooks_->health(instance_.handle(), &err);
  if (rc != STRATA_OK) {
    log::write(STRATA_LOG_DEBUG, name(), {}, std::string("health check failed: ") + err.message);
  }
  return rc == STRATA_OK;
}

void Tier::count_refill() { refills_->add(1); }

size_t Tier::mark_slot(std::string_view key) {
  return std::hash<std::string_view>{}(key) % kMarkSlots;
}

// Before the module runs the deletes: a refill that checks its mark after its ADD landed sees
// any delete that reached the server before that ADD.
void Tier::bump_marks(const std::vector<strata_tier_op>& ops) {
  for (const auto& op : ops) {
    if (op.kind == STRATA_TIER_DELETE)
      marks_[mark_slot({op.key.data, op.key.len})].fetch_add(1, std::memory_order_seq_cst);
    else if (op.kind == STRATA_TIER_FLUSH)
      flush_mark_.fetch_add(1, std::memory_order_seq_cst);
  }
}

}  // namespace strata
