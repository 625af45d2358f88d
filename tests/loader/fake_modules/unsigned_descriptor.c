/* A 1.2 module built before the build signature: its descriptor ends at `reserved` (struct_size
 * says so). Must keep loading, unchecked. */
#include "fake_module.h"

STRATA_EXPORT const strata_module_descriptor* strata_module_entry(void) {
  static strata_module_descriptor d = FAKE_DESCRIPTOR("unsigned_descriptor", STRATA_ABI_MAJOR,
                                                      STRATA_ABI_MINOR, fake_create, fake_start,
                                                      &fake_tier_hooks);
  d.struct_size = offsetof(strata_module_descriptor, build_signature);
  d.build_signature = "garbage a 1.2 module never wrote";  /* past struct_size: never read */
  return &d;
}
