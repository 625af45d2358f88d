// cli_probe: a do-nothing policy module that tests/cli builds twice from this one source with
// different PROBE_DESCRIPTION / PROBE_OPTION_HELP values, to show that `strata describe` prints
// whatever the module's schema says (nothing about a module is hard-coded in the host).
#include <strata/sdk.hpp>

#ifndef PROBE_DESCRIPTION
#error "PROBE_DESCRIPTION must be defined"
#endif
#ifndef PROBE_OPTION_HELP
#error "PROBE_OPTION_HELP must be defined"
#endif

namespace {

constexpr const char* kColours[] = {"red", "green", nullptr};

constexpr strata_option_def kOptions[] = {
    strata::option("probe_level", STRATA_OPT_INT, "7", PROBE_OPTION_HELP).range(1, 99),
    strata::option("probe_colour", STRATA_OPT_ENUM, "green", "a colour").one_of(kColours),
    strata::option("probe_token", STRATA_OPT_STRING, "tok-DEFAULT-must-not-print",
                   "a secret with a default")
        .secret(),
};

class Probe : public strata::PolicyModule {
 public:
  Probe(strata::Host, const strata::Options&) {}
  void decide(const strata_policy_input& in, strata_policy_decision* decisions) override {
    for (size_t i = 0; i < in.tier_count; ++i) decisions[i] = {STRATA_ACTION_SET, 0};
  }
};

}  // namespace

STRATA_MODULE(Probe, "cli_probe", "3.1.4", PROBE_DESCRIPTION, kOptions)
