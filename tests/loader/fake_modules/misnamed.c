/* File misnamed.so declares module "other": found by name, it must be refused. */
#include "fake_module.h"

FAKE_ENTRY(FAKE_DESCRIPTOR("other", STRATA_ABI_MAJOR, STRATA_ABI_MINOR, fake_create, fake_start,
                           &fake_tier_hooks))
