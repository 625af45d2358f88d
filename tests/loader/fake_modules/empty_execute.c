/* A tier whose execute answers nothing (issue 12): every op must come back an error that names
 * the module, never a hit with an empty value. */
#include "fake_module.h"

static int empty_execute(void* inst, strata_tier_op* ops, size_t count, strata_error* err) {
  (void)inst, (void)ops, (void)count, (void)err;
  return STRATA_OK;
}

static const strata_tier_hooks empty_hooks = {
    sizeof(strata_tier_hooks), 0, empty_execute, NULL, {NULL, NULL, NULL, NULL}};

FAKE_ENTRY(FAKE_DESCRIPTOR("empty_execute", STRATA_ABI_MAJOR, STRATA_ABI_MINOR, fake_create,
                           fake_start, &empty_hooks))
