/* Built against a future, incompatible ABI major. */
#include "fake_module.h"

FAKE_ENTRY(FAKE_DESCRIPTOR("abi_major", STRATA_ABI_MAJOR + 1, 0, fake_create, fake_start,
                           &fake_tier_hooks))
