/* Compiled into two files (dup_a.so, dup_b.so) that both declare module "dup". */
#include "fake_module.h"

FAKE_ENTRY(FAKE_DESCRIPTOR("dup", STRATA_ABI_MAJOR, STRATA_ABI_MINOR, fake_create, fake_start,
                           &fake_tier_hooks))
