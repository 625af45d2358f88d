/* The module that fits: counts its lifecycle, registers a metric through the host table,
 * logs, and answers GET with "value-of:<key>" through op_set_value(). */
#include "fake_module.h"

static const strata_host_api* g_host;

static int good_create(const strata_host_api* host, strata_instance_ctx* ctx,
                       const strata_option_value* values, size_t value_count, void** out,
                       strata_error* err) {
  g_host = host;
  strata_metric* m = host->metric(ctx, STRATA_METRIC_COUNTER, "strata_fake_created_total",
                                  "Fake module instances created.", "kind=\"fake\"");
  host->metric_add(m, 1);
  char line[128];
  snprintf(line, sizeof line, "created %s", host->instance_name(ctx));
  host->log(ctx, STRATA_LOG_INFO, line);
  return fake_create(host, ctx, values, value_count, out, err);
}

static int good_execute(void* inst, strata_tier_op* ops, size_t count, strata_error* err) {
  (void)inst, (void)err;
  for (size_t i = 0; i < count; ++i) {
    char buf[300];
    int n = snprintf(buf, sizeof buf, "value-of:%.*s", (int)ops[i].key.len, ops[i].key.data);
    g_host->op_set_value(&ops[i], buf, (size_t)n);
    ops[i].status = STRATA_OK;
  }
  return STRATA_OK;
}

static const strata_tier_hooks good_hooks = {
    sizeof(strata_tier_hooks), STRATA_TIER_DURABLE, good_execute, NULL, {NULL, NULL, NULL, NULL}};

FAKE_ENTRY(FAKE_DESCRIPTOR("good", STRATA_ABI_MAJOR, STRATA_ABI_MINOR, good_create, fake_start,
                           &good_hooks))
