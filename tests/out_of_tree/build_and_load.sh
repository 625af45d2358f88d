#!/usr/bin/env bash
# The third-party path end to end: `cmake --install` this build into a fresh prefix, build the
# example module out of tree with find_package(strata), then load it with the real loader.
# Usage: build_and_load.sh BUILD_DIR EXAMPLE_SRC LOAD_TEST CMAKE GENERATOR
set -euo pipefail
build=$1 example=$2 load_test=$3 cmake=$4 generator=$5

work=$(mktemp -d "${TMPDIR:-/tmp}/strata-oot-XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== install $build -> $work/prefix"
# Installs everything the build declares: build all targets first (ctest after a full build).
"$cmake" --install "$build" --prefix "$work/prefix" >"$work/install.log" ||
  { cat "$work/install.log"; echo "install failed (was the whole tree built?)"; exit 1; }
config=$(find "$work/prefix" -name strataConfig.cmake | head -n1)
[ -n "$config" ] || { echo "strataConfig.cmake was not installed"; exit 1; }
[ -f "$work/prefix/include/strata/strata.h" ] || { echo "strata.h was not installed"; exit 1; }

echo "== configure and build $example against the prefix"
# No sanitizer flags: the module is built as a third party would; an ASan host can load it.
"$cmake" -S "$example" -B "$work/build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror"
"$cmake" --build "$work/build"
module=$(find "$work/build" -name prefix_router.so | head -n1)
[ -n "$module" ] || { echo "prefix_router.so was not built"; exit 1; }
"$cmake" --install "$work/build" --prefix "$work/prefix" >/dev/null

echo "== load $module"
installed_modules=$(dirname "$(find "$work/prefix" -name prefix_router.so | head -n1)")
STRATA_OOT_MODULE="$module" STRATA_OOT_INSTALLED_MODULES="$installed_modules" "$load_test"
