#!/usr/bin/env bash
# `make bench`: runs every benchmark program of the build, one after the other, at their
# default sizes; BENCH_QUICK=1 at short ones (a minute or two in all, for a shared machine).
# With STRATA_BENCH_RESULTS=DIR (`make bench` sets bench/results) each one also writes
# DIR/BENCH-RUN_ID.json; all of this sweep share one run id (STRATA_BENCH_RUN_ID).
set -euo pipefail
BUILD=${1:-build}
export STRATA_BENCH_RUN_ID=${STRATA_BENCH_RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)-$$}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  runs=("tiers/bench_tiers 5000 100"
        "lua/bench_lua --benchmark_filter=CppBaseline|IdentityKey|JsonKeys|IngestKey --benchmark_min_time=0.2"
        "ingest/bench_ingest 50000 32 20000 1000"
        "front/bench_front --connections 50 --seconds 3"
        "tiers/bench_cluster 1 4")
else
  runs=(tiers/bench_tiers lua/bench_lua ingest/bench_ingest front/bench_front tiers/bench_cluster)
fi
status=0
for run in "${runs[@]}"; do
  read -r -a cmd <<<"$run"
  b="$BUILD/bench/${cmd[0]}"
  [ -x "$b" ] || { echo "== $b: not built, skipped"; continue; }
  echo "== $b ${cmd[*]:1}"
  "$b" "${cmd[@]:1}" || { echo "bench: $b failed (exit $?)" >&2; status=1; }
done
exit $status
