#include "chain/breaker.hpp"

#include <algorithm>

#include "common/clock.hpp"

namespace strata {

namespace {
BreakerSettings sane(BreakerSettings s) {
  s.failure_threshold = std::max(1, s.failure_threshold);
  s.open_ms = std::max<int64_t>(0, s.open_ms);
  s.half_open_probes = std::max(1, s.half_open_probes);
  return s;
}
}  // namespace

CircuitBreaker::CircuitBreaker(BreakerSettings s) : CircuitBreaker(s, clock::mono_ms) {}

CircuitBreaker::CircuitBreaker(BreakerSettings s, Clock clock)
    : settings_(sane(s)), clock_(std::move(clock)) {}

bool CircuitBreaker::allow() {
  std::lock_guard lock(mu_);
  switch (state_) {
    case State::Closed:
      return true;
    case State::Open:
      if (clock_() - opened_at_ms_ < settings_.open_ms) return false;
      transition(State::HalfOpen);
      [[fallthrough]];
    case State::HalfOpen:
      // Only a few probes at a time: a tier that is still down sees a trickle, not a flood.
      if (probes_in_flight_ >= settings_.half_open_probes) return false;
      ++probes_in_flight_;
      return true;
  }
  return false;
}

void CircuitBreaker::record_success() {
  std::lock_guard lock(mu_);
  switch (state_) {
    case State::Closed:
      failures_ = 0;
      break;
    case State::HalfOpen:
      if (probes_in_flight_ > 0) --probes_in_flight_;
      if (++probe_successes_ >= settings_.half_open_probes) transition(State::Closed);
      break;
    case State::Open:
      break;  // a call let through before the breaker opened; its success proves little
  }
}

void CircuitBreaker::record_failure() {
  std::lock_guard lock(mu_);
  switch (state_) {
    case State::Closed:
      if (++failures_ >= settings_.failure_threshold) transition(State::Open);
      break;
    case State::HalfOpen:
      transition(State::Open);
      break;
    case State::Open:
      break;
  }
}

void CircuitBreaker::transition(State to) {
  State from = state_;
  state_ = to;
  switch (to) {
    case State::Open:
      opened_at_ms_ = clock_();
      ++opens_;
      break;
    case State::HalfOpen:
      probes_in_flight_ = 0;
      probe_successes_ = 0;
      break;
    case State::Closed:
      failures_ = 0;
      break;
  }
  if (listener_) listener_(from, to);
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

const char* CircuitBreaker::name(State s) {
  switch (s) {
    case State::Closed:
      return "closed";
    case State::Open:
      return "open";
    case State::HalfOpen:
      return "half-open";
  }
  return "unknown";
}

int CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

int64_t CircuitBreaker::retry_in_ms() const {
  std::lock_guard lock(mu_);
  if (state_ != State::Open) return 0;
  return std::max<int64_t>(0, settings_.open_ms - (clock_() - opened_at_ms_));
}

uint64_t CircuitBreaker::opens() const {
  std::lock_guard lock(mu_);
  return opens_;
}

void CircuitBreaker::set_listener(Listener listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

}  // namespace strata
