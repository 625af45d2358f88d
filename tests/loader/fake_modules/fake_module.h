/* Shared parts of the loader's fake modules: a do-nothing tier whose lifecycle hooks count
 * their calls. Each fake .so includes this once, so each has its own counters, read by the
 * test through the exported fake_counts(). Every fake is one small C file, one failure each
 * (Envoy's dynamic-module tests are the model). */
#ifndef STRATA_TESTS_FAKE_MODULE_H
#define STRATA_TESTS_FAKE_MODULE_H

#include <strata/strata.h>
#include <stdio.h>
#include <string.h>

/* Not every fake uses every helper. */
#define FAKE_UNUSED __attribute__((unused))

static int fake_created, fake_started, fake_stopped, fake_destroyed;
static int fake_last_drain = -1;

/* counts[0..4] = create, start, stop, destroy calls, last drain flag */
STRATA_EXPORT void fake_counts(int* counts) {
  counts[0] = fake_created;
  counts[1] = fake_started;
  counts[2] = fake_stopped;
  counts[3] = fake_destroyed;
  counts[4] = fake_last_drain;
}

FAKE_UNUSED static int fake_create(const strata_host_api* host, strata_instance_ctx* ctx,
                       const strata_option_value* values, size_t value_count, void** out,
                       strata_error* err) {
  (void)host, (void)ctx, (void)values, (void)value_count, (void)err;
  ++fake_created;
  *out = &fake_created;
  return STRATA_OK;
}
FAKE_UNUSED static int fake_start(void* inst, strata_error* err) {
  (void)inst, (void)err;
  ++fake_started;
  return STRATA_OK;
}
FAKE_UNUSED static void fake_stop(void* inst, int drain) {
  (void)inst;
  ++fake_stopped;
  fake_last_drain = drain;
}
FAKE_UNUSED static void fake_destroy(void* inst) {
  (void)inst;
  ++fake_destroyed;
}
FAKE_UNUSED static int fake_execute(void* inst, strata_tier_op* ops, size_t count, strata_error* err) {
  (void)inst, (void)err;
  for (size_t i = 0; i < count; ++i) ops[i].status = STRATA_NOT_FOUND;
  return STRATA_OK;
}

FAKE_UNUSED static const strata_tier_hooks fake_tier_hooks = {
    sizeof(strata_tier_hooks), 0, fake_execute, NULL, {NULL, NULL, NULL, NULL}};

/* A complete descriptor; each fake changes one thing. */
#define FAKE_DESCRIPTOR(NAME, MAJOR, MINOR, CREATE, START, HOOKS)                             \
  {sizeof(strata_module_descriptor), MAJOR, MINOR, NAME, "0.0.1", "a fake module for tests", \
   STRATA_KIND_TIER, NULL, 0, CREATE, START, fake_stop, fake_destroy, HOOKS,                  \
   {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}, STRATA_BUILD_SIGNATURE}

#define FAKE_ENTRY(DESCRIPTOR)                                                               \
  STRATA_EXPORT const strata_module_descriptor* strata_module_entry(void) {                 \
    static const strata_module_descriptor d = DESCRIPTOR;                                    \
    return &d;                                                                               \
  }

#endif
