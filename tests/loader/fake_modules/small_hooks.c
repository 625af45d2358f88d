/* A tier whose hooks struct is shorter than this host's. */
#include "fake_module.h"

static const strata_tier_hooks short_hooks = {8, 0, fake_execute, NULL, {NULL, NULL, NULL, NULL}};

FAKE_ENTRY(FAKE_DESCRIPTOR("small_hooks", STRATA_ABI_MAJOR, STRATA_ABI_MINOR, fake_create,
                           fake_start, &short_hooks))
