/* Built with an incompatible build feature: the signature of a ThreadSanitizer build on libc++
 * (forced by the define, as a build with -fsanitize=thread -stdlib=libc++ would stamp it). The
 * loader must refuse it with one sentence naming both signatures. */
#define STRATA_BUILD_SIGNATURE "tsan,libc++"
#include "fake_module.h"

FAKE_ENTRY(FAKE_DESCRIPTOR("other_signature", STRATA_ABI_MAJOR, STRATA_ABI_MINOR, fake_create,
                           fake_start, &fake_tier_hooks))
