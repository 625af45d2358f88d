// CircuitBreaker: keeps a failing tier from being hammered. Closed lets everything through;
// after `failure_threshold` consecutive availability failures it opens and refuses calls for
// `open_ms`; then it lets `half_open_probes` probes through, which close it again or reopen it.
// Owned by each Tier (tier.hpp); the pipeline reads its state to pause its source.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

namespace strata {

struct BreakerSettings {
  int failure_threshold = 5;
  int64_t open_ms = 1000;
  int half_open_probes = 1;
};

class CircuitBreaker {  // thread-safe
 public:
  enum class State { Closed, Open, HalfOpen };
  using Clock = std::function<int64_t()>;  // milliseconds, monotonic
  // Called (under the breaker's lock, so keep it cheap) on every state change.
  using Listener = std::function<void(State from, State to)>;

  explicit CircuitBreaker(BreakerSettings s);
  // Tests inject a clock so the open interval needs no sleeping.
  CircuitBreaker(BreakerSettings s, Clock clock);

  // Closed: true. Open: false until open_ms passed, then HalfOpen. HalfOpen: true for at most
  // half_open_probes calls in flight (each must be followed by record_success/failure).
  bool allow();
  // HalfOpen: after half_open_probes successes -> Closed. Closed: resets the failure count.
  void record_success();
  // Closed: consecutive failures >= threshold -> Open. HalfOpen: -> Open again.
  void record_failure();

  State state() const;
  static const char* name(State);

  const BreakerSettings& settings() const { return settings_; }
  // Consecutive failures counted while Closed (for messages and tests).
  int consecutive_failures() const;
  // Open: milliseconds until the next probe is let through; 0 otherwise.
  int64_t retry_in_ms() const;
  uint64_t opens() const;  // times the breaker went to Open
  void set_listener(Listener listener);

 private:
  void transition(State to);  // mu_ held

  BreakerSettings settings_;
  Clock clock_;
  mutable std::mutex mu_;
  State state_ = State::Closed;
  int failures_ = 0;
  int64_t opened_at_ms_ = 0;
  int probes_in_flight_ = 0;
  int probe_successes_ = 0;
  uint64_t opens_ = 0;
  Listener listener_;
};

}  // namespace strata
