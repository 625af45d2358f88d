// The host's clocks in milliseconds (and the monotonic one in nanoseconds, for the module ABI's
// monotonic_ns). One copy for the pipeline, the runtime, the breaker, the host API and the CLI:
// steady time for timeouts and intervals, system time only for what is shown or stored.
#pragma once

#include <chrono>
#include <cstdint>

namespace strata::clock {

// Monotonic (steady_clock): never jumps; for deadlines, intervals and backoff.
inline int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline uint64_t mono_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Wall clock (system_clock): milliseconds since the Unix epoch.
inline int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace strata::clock
