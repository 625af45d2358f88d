#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR TARGET SECONDS [extra libFuzzer flags, e.g. -runs=10000000]
# Runs one fuzz target (called by `make fuzz`) on a working corpus in BUILD_DIR/corpus/TARGET,
# seeded from fuzz/corpus/TARGET (read, never written), and prints what it did. Crash inputs go
# to BUILD_DIR/artifacts/TARGET/; the exit status is non-zero when the target found one.
set -uo pipefail
build=$1 target=$2 seconds=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
work="$build/corpus/$target" artifacts="$build/artifacts/$target"
mkdir -p "$work" "$artifacts"

flags=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/")
case "$target" in
  # 64 KiB: big enough for a parse that grows quadratically to run into -timeout.
  config_fuzz) flags+=(-max_len=65536 -dict="$here/config_fuzz.dict") ;;
  # The parser's limits are set small by the target (64-byte lines, 100-byte values); the
  # split run re-scans its buffer per piece, so long inputs cost quadratically.
  front_protocol_fuzz) flags+=(-max_len=512) ;;
  # The Lua states live across inputs and collect garbage when they like: to LeakSanitizer that
  # looks like a leak per input, and its scans took 40% of the time. A smaller ASan quarantine
  # stops the page faults of fresh memory for every string a hook builds (10k -> 17k exec/s).
  lua_boundary_fuzz)
    flags+=(-max_len=4096 -detect_leaks=0)
    export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=32}" ;;
  # Two Lua states live across inputs (see lua_boundary_fuzz); documents up to 4 KiB.
  json_fuzz)
    flags+=(-max_len=4096 -detect_leaks=0)
    export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=32}" ;;
esac

log="$build/fuzz-$target.log"
echo "fuzz: $target for ${seconds}s (log: $log)"
start=$SECONDS
nice "$build/fuzz/$target" "${flags[@]}" "$@" "$work" "$here/corpus/$target" >"$log" 2>&1
rc=$?
elapsed=$((SECONDS - start))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
files=$(find "$work" -type f | wc -l)
bytes=$(du -sk "$work" | cut -f1)
echo "fuzz: $target: ${execs:-?} executions, ${rate:-?} exec/s, ${elapsed}s, corpus $files files" \
     "(${bytes} KiB), peak RSS ${rss:-?} MiB, exit $rc"
if [ "$rc" -ne 0 ]; then
  grep -E "ERROR|invariant broken|SUMMARY|Test unit written" "$log" | head -20
  exit "$rc"
fi
