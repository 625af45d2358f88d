/* A loadable tier whose option table has a default its own type refuses ("ten" for an int):
 * `strata modules` and `strata describe` must report it without any config using the module
 * (issue 12; before, only a config that left the option unset found it). */
#include "fake_module.h"

static const strata_option_def bad_default_options[] = {
    {sizeof(strata_option_def), "servers", STRATA_OPT_STRING, "127.0.0.1:1", 0, 0.0, 0.0, NULL,
     "a fine option"},
    {sizeof(strata_option_def), "retries", STRATA_OPT_INT, "ten", 0, 0.0, 0.0, NULL,
     "an int whose default is not one"},
};

STRATA_EXPORT const strata_module_descriptor* strata_module_entry(void) {
  static const strata_module_descriptor d = {
      sizeof(strata_module_descriptor), STRATA_ABI_MAJOR, STRATA_ABI_MINOR, "bad_default", "0.0.1",
      "a fake module whose option table has an invalid default", STRATA_KIND_TIER,
      bad_default_options, 2, fake_create, fake_start, fake_stop, fake_destroy, &fake_tier_hooks,
      {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}
#ifdef STRATA_BUILD_SIGNATURE /* the descriptor's build signature, once the ABI has one */
      ,
      STRATA_BUILD_SIGNATURE
#endif
  };
  return &d;
}
