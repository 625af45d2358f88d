/* start() fails (a server that is down); destroy() must still be called, stop() not. */
#include "fake_module.h"

static int failing_start(void* inst, strata_error* err) {
  (void)inst;
  ++fake_started;
  snprintf(err->message, sizeof err->message, "connect 127.0.0.1:1: Connection refused");
  return STRATA_ERR_UNAVAILABLE;
}

FAKE_ENTRY(FAKE_DESCRIPTOR("start_fails", STRATA_ABI_MAJOR, STRATA_ABI_MINOR, fake_create,
                           failing_start, &fake_tier_hooks))
