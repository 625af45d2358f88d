#!/usr/bin/env bash
# Installs the Debian packages strata needs to build, test and run the quickstart, skipping
# what is already installed. Uses sudo when not root. Called by `make deps` (and so by
# `make run`, `make test` and .ci/run).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libmemcached-dev libhiredis-dev libluajit-5.1-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  memcached redis-server redis-tools kcat libmemcached-tools
  python3-memcache nutcracker
  lua-cjson lua-mpack
  nlohmann-json3-dev
  libsystemd-dev
  prometheus
  libcli11-dev
)
# `install-deps.sh --fuzz` (run by `make fuzz`) adds the libFuzzer toolchain: clang and the
# compiler-rt archives with -fsanitize=fuzzer. `make test` does not need them.
FUZZ_PACKAGES=(clang libclang-rt-14-dev)
# `install-deps.sh --bench-report` (run by `make bench-report` when a tool is missing, and by
# .ci/run so that the report's test runs in CI) adds jq and gnuplot: the charts of
# docs/performance.md. `make test` does not need them (that test is skipped without them).
REPORT_PACKAGES=(jq gnuplot-nox)
case "${1:-}" in
  --fuzz) PACKAGES+=("${FUZZ_PACKAGES[@]}") ;;
  --bench-report) PACKAGES+=("${REPORT_PACKAGES[@]}") ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}"
# Debian's redis-server and prometheus packages may start system services; tests start their
# own servers (and need only prometheus' promtool).
for service in redis-server prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    $SUDO systemctl stop "$service" || true
  fi
done
