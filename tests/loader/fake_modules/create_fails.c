/* create() refuses with its own message. */
#include "fake_module.h"

static int failing_create(const strata_host_api* host, strata_instance_ctx* ctx,
                          const strata_option_value* values, size_t value_count, void** out,
                          strata_error* err) {
  (void)host, (void)ctx, (void)values, (void)value_count, (void)out;
  ++fake_created;
  snprintf(err->message, sizeof err->message, "servers: cannot parse \"host:port:x\"");
  return STRATA_ERR_INVALID;
}

FAKE_ENTRY(FAKE_DESCRIPTOR("create_fails", STRATA_ABI_MAJOR, STRATA_ABI_MINOR, failing_create,
                           fake_start, &fake_tier_hooks))
