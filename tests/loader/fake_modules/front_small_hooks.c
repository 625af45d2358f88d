/* A front whose hooks struct is shorter than strata_front_hooks. */
#include "fake_module.h"

static const strata_front_hooks short_hooks = {4, {NULL, NULL, NULL, NULL}};

STRATA_EXPORT const strata_module_descriptor* strata_module_entry(void) {
  static const strata_module_descriptor d = {
      sizeof(strata_module_descriptor), STRATA_ABI_MAJOR, STRATA_ABI_MINOR, "front_small_hooks",
      "0.0.1", "a fake front for tests", STRATA_KIND_FRONT, NULL, 0, fake_create, fake_start,
      fake_stop, fake_destroy, &short_hooks, {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}, STRATA_BUILD_SIGNATURE};
  return &d;
}
