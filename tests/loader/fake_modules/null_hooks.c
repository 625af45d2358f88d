/* A tier without its hooks table. */
#include "fake_module.h"

FAKE_ENTRY(FAKE_DESCRIPTOR("null_hooks", STRATA_ABI_MAJOR, STRATA_ABI_MINOR, fake_create,
                           fake_start, NULL))
