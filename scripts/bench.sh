#!/usr/bin/env bash
# `make bench`: runs every benchmark program of the build, one after the other.
set -euo pipefail
BUILD=${1:-build}
for b in bench/tiers/bench_tiers bench/lua/bench_lua bench/ingest/bench_ingest bench/front/bench_front; do
  if [ -x "$BUILD/$b" ]; then
    echo "== $b"
    "$BUILD/$b"
  fi
done
