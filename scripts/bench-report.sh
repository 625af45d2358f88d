#!/usr/bin/env bash
# `make bench-report`: draws one PNG per benchmark ratio from the JSON files the benchmarks
# write (bench/common/bench_report.hpp), one point per run in date order, the ratio's target as
# a dashed line and the machine's load average before each run as grey bars on the right axis.
# Usage: scripts/bench-report.sh [RESULTS_DIR] [OUT_DIR]   (defaults bench/results, docs/img)
# Needs jq and gnuplot (Debian jq, gnuplot-nox): installed on demand through
# `install-deps.sh --bench-report` unless BENCH_REPORT_NO_INSTALL=1.
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS=${1:-bench/results}
OUT=${2:-docs/img}

die() { echo "bench-report: $*" >&2; exit 1; }

if ! command -v jq >/dev/null || ! command -v gnuplot >/dev/null; then
  [ "${BENCH_REPORT_NO_INSTALL:-0}" = 1 ] && die "jq and gnuplot are needed (scripts/install-deps.sh --bench-report)"
  scripts/install-deps.sh --bench-report
fi
[ -d "$RESULTS" ] || die "$RESULTS: no such directory"
shopt -s nullglob
files=("$RESULTS"/*.json)
[ ${#files[@]} -gt 0 ] || die "$RESULTS: no .json files (run a benchmark with STRATA_BENCH_RESULTS=$RESULTS)"
mkdir -p "$OUT"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One line per measured ratio: bench, ratio, date, run id, value, target, load, commit.
for f in "${files[@]}"; do
  if ! err=$(jq -e 'type == "object" and .format == "strata-bench/1" and (.bench | type) == "string"
                    and (.ratios | type) == "array" and (.date | type) == "string"' "$f" 2>&1 >/dev/null); then
    die "$f: not a strata benchmark result (want an object with \"format\": \"strata-bench/1\")${err:+: $err}"
  fi
  jq -r '. as $d | .ratios[] | select((.value | type) == "number")
         | [$d.bench, (.name | tostring), $d.date, ($d.run_id | tostring), .value,
            (if (.target | type) == "number" then .target else "NaN" end),
            (if ($d.machine.load_before[0]? | type) == "number" then $d.machine.load_before[0] else "NaN" end),
            ($d.git_commit // "" | tostring)] | @tsv' "$f" >>"$work/all.tsv"
done
[ -s "$work/all.tsv" ] || die "$RESULTS: no ratio has a value in any file"

terminal="pngcairo size 900,420 font 'DejaVu Sans,10'"
gnuplot -e "set terminal pngcairo" 2>/dev/null || terminal="png size 900,420"

slug() { printf '%s' "$1" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9' '-' | tr -s '-' | sed 's/^-//; s/-$//'; }
gp_quote() { printf '%s' "$1" | sed "s/'/''/g"; }  # a gnuplot single-quoted string

cut -f1,2 "$work/all.tsv" | sort -u >"$work/groups"
made=0
while IFS=$'\t' read -r bench name; do
  png="$OUT/$(slug "$bench")-$(slug "$name").png"
  if grep -qxF "$png" "$work/made" 2>/dev/null; then
    die "$bench \"$name\": its chart name $png is taken by another ratio"
  fi
  echo "$png" >>"$work/made"
  # index, value, target, load, x label (MM-DD HH:MM and commit)
  awk -F'\t' -v b="$bench" -v n="$name" '$1 == b && $2 == n' "$work/all.tsv" | sort -t$'\t' -k3,3 -k4,4 |
    awk -F'\t' -v OFS='\t' '{ print NR, $5, $6, $7, substr($3, 6, 5) " " substr($3, 12, 5) "\\n" substr($8, 1, 7) }' \
      >"$work/data"
  target=$(cut -f3 "$work/data" | grep -v NaN | tail -1 || true)
  title="$bench: $name"
  [ -n "$target" ] && title="$title   (target: $target)"
  plot="'$work/data' using 1:2:xtic(5) with linespoints lw 2 pt 7 ps 1.2 lc rgb '#1f5fa8' title 'ratio'"
  [ -n "$target" ] && plot="$plot, $target with lines dt 2 lw 2 lc rgb '#c0392b' title 'target'"
  y2="unset y2tics; unset y2label"
  if grep -qv NaN <<<"$(cut -f4 "$work/data")"; then  # not `cut | grep -q`: SIGPIPE + pipefail
    plot="'$work/data' using 1:4 axes x1y2 with boxes fs solid 0.35 lc rgb '#b0b0b0' title 'load avg (1 min) before the run', $plot"
    y2="set y2tics; set y2label 'load average'; set y2range [0:*]"
  fi
  # Room above the highest point and the target, so neither sits on the frame.
  ymax=$(awk -F'\t' '{ for (i = 2; i <= 3; i++) if ($i != "NaN" && $i + 0 > m) m = $i + 0 }
                     END { print (m > 0 ? m * 1.15 : 1) }' "$work/data")
  gnuplot <<GP || die "gnuplot failed on $bench \"$name\""
set terminal $terminal
set output '$(gp_quote "$png")'
set datafile separator "\t"
set datafile missing "NaN"
set title '$(gp_quote "$title")' noenhanced
set ylabel 'ratio (same run)'
set ytics nomirror
$y2
set yrange [0:$ymax]
set xrange [0.5:$(wc -l <"$work/data").5]
set boxwidth 0.5
set grid ytics
set key outside top center horizontal maxrows 1 noenhanced
set xtics noenhanced font ',8'
plot $plot
GP
  echo "bench-report: $png ($(wc -l <"$work/data") runs)"
  made=$((made + 1))
done <"$work/groups"
echo "bench-report: $made charts in $OUT"
