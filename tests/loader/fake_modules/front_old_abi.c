/* A front that claims ABI 1.1, before the front kind existed. */
#include "fake_module.h"

static const strata_front_hooks front_hooks = {sizeof(strata_front_hooks),
                                               {NULL, NULL, NULL, NULL}};

STRATA_EXPORT const strata_module_descriptor* strata_module_entry(void) {
  static const strata_module_descriptor d = {
      sizeof(strata_module_descriptor), STRATA_ABI_MAJOR, 1, "front_old_abi", "0.0.1",
      "a fake front for tests", STRATA_KIND_FRONT, NULL, 0, fake_create, fake_start, fake_stop,
      fake_destroy, &front_hooks, {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}, STRATA_BUILD_SIGNATURE};
  return &d;
}
