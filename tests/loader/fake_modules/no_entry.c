/* A shared object that forgot STRATA_MODULE: no strata_module_entry symbol. */
#include "fake_module.h"

STRATA_EXPORT const strata_module_descriptor* strata_module_entry_typo(void) { return NULL; }
