/* The entry symbol is there but returns no descriptor. */
#include "fake_module.h"

STRATA_EXPORT const strata_module_descriptor* strata_module_entry(void) { return NULL; }
