#!/usr/bin/env bash
# `make run`: the quickstart end to end. Starts memcached and redis-server on free loopback
# ports, generates a sample of user-activity events, runs strata with the embedded mock Kafka
# seeded with them until everything is consumed, then prints a summary and reads a few keys
# back through the tier chain. Exits non-zero if any step fails.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
STRATA="$BUILD/bin/strata"
CONFIG="$ROOT/examples/quickstart.toml"
EVENTS=${STRATA_QUICKSTART_EVENTS:-5000}
WORK=$(mktemp -d /tmp/strata-quickstart.XXXXXX)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || { echo "$p"; return; }
  done
}
wait_port() {
  for _ in $(seq 1 100); do port_in_use "$1" && return 0; sleep 0.1; done
  echo "quickstart: nothing listens on port $1" >&2
  return 1
}

MC_PORT=$(free_port)
RD_PORT=$(free_port)
memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 -u "$(id -un)" &
PIDS+=($!)
redis-server --port "$RD_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --loglevel warning >/dev/null &
PIDS+=($!)
wait_port "$MC_PORT"
wait_port "$RD_PORT"
echo "quickstart: memcached on 127.0.0.1:$MC_PORT, redis-server on 127.0.0.1:$RD_PORT"

"$ROOT/scripts/gen-sample.sh" "$EVENTS" >"$WORK/events.tsv"
echo "quickstart: $(wc -l <"$WORK/events.tsv") sample events in $WORK/events.tsv"

export STRATA_MODULES_PATH="$BUILD/modules"
export STRATA_MEMCACHED="127.0.0.1:$MC_PORT"
export STRATA_REDIS="127.0.0.1:$RD_PORT"
export STRATA_SEED_FILE="$WORK/events.tsv"
export STRATA_DEAD_LETTERS="$WORK/dead-letters.jsonl"

"$STRATA" check -c "$CONFIG"
echo "quickstart: running the pipeline until it is idle"
"$STRATA" run -c "$CONFIG" --exit-when-idle 2s 2> "$WORK/strata.log" | tee "$WORK/summary.txt" \
  || { cat "$WORK/strata.log" >&2; exit 1; }
grep -E "WARN|ERROR" "$WORK/strata.log" | grep -v "dead letter" | tail -5 || true

echo
echo "== summary"
cat "$WORK/summary.txt"
values=$(redis-cli -p "$RD_PORT" --scan | grep -v -e 'strata-ver' -e '^strata:wm:' | wc -l)
marks=$(redis-cli -p "$RD_PORT" --scan --pattern 'strata:wm:*' | wc -l)
echo "keys in redis (L2):      $values (plus $marks partition watermarks, see docs/redis_l2.md)"
items=$(exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"; printf 'stats\r\nquit\r\n' >&3; tr -d '\r' <&3 | awk '/STAT curr_items/ {print $3}')
echo "items in memcached (L1): $items"
refused=$(sed -nE 's/.* l1_refused=([0-9]+).*/\1/p' "$WORK/summary.txt" | head -1)
echo "refused by L1:           ${refused:-0} (key or value does not fit memcached; kept in Redis, not dead letters)"
dead=$(wc -l <"$STRATA_DEAD_LETTERS" 2>/dev/null || echo 0)
echo "dead letters:            $dead (in $STRATA_DEAD_LETTERS)"
if [ "$dead" -gt 0 ]; then
  echo "  by reason:"
  sed -E 's/.*"reason":"([^"]*)".*/\1/' "$STRATA_DEAD_LETTERS" | sed -E 's/at character [0-9]+/.../' \
    | sort | uniq -c | sed 's/^/  /'
fi

echo
echo "== reads through the tier chain (strata cache get)"
for u in u0001 u0002 u0003; do
  "$STRATA" cache get -c "$CONFIG" "user:$u:last" 2>"$WORK/tier.txt" | head -c 200 | sed 's/^/  /'
  echo "  $(cat "$WORK/tier.txt")"
done
echo "after dropping user:u0001:last from memcached, the next read comes from Redis and refills L1:"
(exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"; printf 'delete user:u0001:last\r\nquit\r\n' >&3; cat <&3 >/dev/null)
for _ in 1 2; do
  "$STRATA" cache get -c "$CONFIG" "user:u0001:last" 2>"$WORK/tier.txt" >/dev/null
  echo "  user:u0001:last $(cat "$WORK/tier.txt")"
done
echo "quickstart: done"
