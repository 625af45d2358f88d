#!/usr/bin/env bash
# scripts/bench-report.sh on tests/bench_report/fixture: one PNG per ratio that has a value,
# none for a ratio that is null in every run, and a clear error (non-zero, the file named) for
# a file that is not a benchmark result.
# Usage: report_script_test.sh SOURCE_DIR WORK_DIR
set -uo pipefail
SRC=$1
WORK=$2
for tool in jq gnuplot; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/install-deps.sh --bench-report installs jq and gnuplot-nox)"
    exit 77
  fi
done
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"
export BENCH_REPORT_NO_INSTALL=1

out=$("$SRC/scripts/bench-report.sh" "$SRC/tests/bench_report/fixture" "$WORK/img" 2>&1) ||
  fail "the script failed on the fixture: $out"
echo "$out"
for png in bench-ingest-c-e.png bench-lua-c-lua-identity-key.png; do
  f="$WORK/img/$png"
  [ -s "$f" ] || fail "$png was not drawn"
  magic=$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')
  [ "$magic" = 89504e470d0a1a0a ] || fail "$png is not a PNG (starts with $magic)"
done
[ ! -e "$WORK/img/bench-ingest-c-a.png" ] || fail "a chart was drawn for c/a, which has no value in any run"
n=$(find "$WORK/img" -name '*.png' | wc -l)
[ "$n" -eq 2 ] || fail "expected 2 charts, found $n"
echo "$out" | grep -q "bench-ingest-c-e.png (3 runs)" || fail "c/e should have 3 runs: $out"

# Not a result: refused, naming the file; nothing half-drawn counts as success.
mkdir -p "$WORK/bad"
cp "$SRC/tests/bench_report/fixture/"*.json "$WORK/bad/"
printf '{"format": "strata-bench/1", "bench": "x", "ratios": [' >"$WORK/bad/truncated.json"
if out=$("$SRC/scripts/bench-report.sh" "$WORK/bad" "$WORK/img-bad" 2>&1); then
  fail "a truncated file was accepted: $out"
fi
echo "$out" | grep -q "truncated.json: not a strata benchmark result" || fail "unclear error: $out"

# Hostile fields are data, never gnuplot commands: a string target and a quote in a name.
mkdir -p "$WORK/hostile"
jq '.ratios[0].target = "system(\"touch '"$WORK"'/owned\")" | .ratios[0].name = "it'"'"'s c/e"' \
  "$SRC/tests/bench_report/fixture/bench_ingest-20261201T000000Z-1.json" >"$WORK/hostile/h.json"
out=$("$SRC/scripts/bench-report.sh" "$WORK/hostile" "$WORK/img-hostile" 2>&1) || fail "hostile file: $out"
[ ! -e "$WORK/owned" ] || fail "a field of the JSON ran as a gnuplot command"
[ -s "$WORK/img-hostile/bench-ingest-it-s-c-e.png" ] || fail "no chart for the quoted name: $out"

# An empty directory is an error, not zero charts.
mkdir -p "$WORK/empty"
if "$SRC/scripts/bench-report.sh" "$WORK/empty" "$WORK/img-empty" >/dev/null 2>&1; then
  fail "an empty results directory was accepted"
fi
echo "PASS"
