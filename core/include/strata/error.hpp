// strata C++ SDK: the exception module code throws to fail with an ABI status (header-only).
#pragma once

#include <strata/strata.h>

#include <stdexcept>
#include <string>

namespace strata {

// An error with an ABI status; anything else thrown maps to STRATA_ERR_INTERNAL.
// Error(message) alone is STRATA_ERR_UNAVAILABLE: "this failed, it may work later", the failure
// a tier author means by default. The pipeline retries it with backoff and the tier's circuit
// breaker counts it. Give the status for a failure that is about the op itself, not the tier:
// STRATA_ERR_BAD_KEY or STRATA_ERR_TOO_LARGE (the record goes to the dead letters, not retried,
// not counted by the breaker), STRATA_ERR_INVALID (a bad argument or option; not counted).
class Error : public std::runtime_error {
 public:
  Error(strata_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  explicit Error(const std::string& message) : Error(STRATA_ERR_UNAVAILABLE, message) {}
  strata_status status() const { return status_; }

 private:
  strata_status status_;
};

}  // namespace strata
