#!/usr/bin/env bash
# `make bench`: runs every benchmark program of the build, one after the other, at their
# default sizes. With STRATA_BENCH_RESULTS=DIR (`make bench` sets bench/results) each one also
# writes DIR/BENCH-RUN_ID.json; all of this sweep share one run id (STRATA_BENCH_RUN_ID).
set -euo pipefail
BUILD=${1:-build}
export STRATA_BENCH_RUN_ID=${STRATA_BENCH_RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)-$$}
status=0
for b in bench/tiers/bench_tiers bench/lua/bench_lua bench/ingest/bench_ingest \
         bench/front/bench_front bench/tiers/bench_cluster; do
  if [ -x "$BUILD/$b" ]; then
    echo "== $b"
    "$BUILD/$b" || { echo "bench: $b failed (exit $?)" >&2; status=1; }
  fi
done
exit $status
