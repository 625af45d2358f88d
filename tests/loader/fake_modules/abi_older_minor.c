/* Built against ABI 1.0, older than the host's minor: must load. */
#include "fake_module.h"

FAKE_ENTRY(FAKE_DESCRIPTOR("abi_older_minor", STRATA_ABI_MAJOR, 0, fake_create, fake_start,
                           &fake_tier_hooks))
