/* Built against a newer ABI minor than the host knows. */
#include "fake_module.h"

FAKE_ENTRY(FAKE_DESCRIPTOR("abi_minor", STRATA_ABI_MAJOR, STRATA_ABI_MINOR + 3, fake_create,
                           fake_start, &fake_tier_hooks))
