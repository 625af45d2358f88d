#!/usr/bin/env bash
# The third-party path end to end: install only the SDK component of this build into a fresh
# prefix (headers, CMake package, test kit: no modules, no binary), build the example modules
# out of tree with find_package(strata), run their unit tests (the test kit), and load
# prefix_router with the real loader.
# Usage: build_and_load.sh BUILD_DIR EXAMPLES_DIR LOAD_TEST CMAKE GENERATOR
set -euo pipefail
build=$1 examples=$2 load_test=$3 cmake=$4 generator=$5

work=$(mktemp -d "${TMPDIR:-/tmp}/strata-oot-XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== install the sdk component of $build -> $work/prefix"
"$cmake" --install "$build" --component sdk --prefix "$work/prefix" >"$work/install.log" ||
  { cat "$work/install.log"; echo "install failed (was the sdk target built?)"; exit 1; }
config=$(find "$work/prefix" -name strataConfig.cmake | head -n1)
[ -n "$config" ] || { echo "strataConfig.cmake was not installed"; exit 1; }
for f in include/strata/strata.h include/strata/sdk.hpp include/strata/testing.hpp; do
  [ -f "$work/prefix/$f" ] || { echo "$f was not installed"; exit 1; }
done
[ -n "$(find "$work/prefix" -name 'libstrata_testing.so')" ] || { echo "test kit not installed"; exit 1; }
if [ -n "$(find "$work/prefix" -name 'redis_l2.so' -o -name strata -type f)" ]; then
  echo "the sdk component installed modules or the binary"; exit 1
fi

# Each example as a third party builds it: no flags given. strata_add_module gives the warnings
# and the host's sanitizer flags (the build signature must match); no build type given, so the
# package's default (RelWithDebInfo) applies.
for example in custom_module lru_tier; do
  echo "== configure, build and test $example against the prefix"
  "$cmake" -S "$examples/$example" -B "$work/$example" -G "$generator" \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_FLAGS="-Werror"
  grep -q '^CMAKE_BUILD_TYPE:STRING=RelWithDebInfo$' "$work/$example/CMakeCache.txt" ||
    { echo "$example: the default build type is not RelWithDebInfo"; exit 1; }
  "$cmake" --build "$work/$example"
  "$(dirname "$cmake")/ctest" --test-dir "$work/$example" --output-on-failure
done

echo "== install the modules component next to it (the built-in modules)"
"$cmake" --install "$build" --component modules --prefix "$work/prefix" >>"$work/install.log"

module=$(find "$work/custom_module" -name prefix_router.so | head -n1)
[ -n "$module" ] || { echo "prefix_router.so was not built"; exit 1; }
"$cmake" --install "$work/custom_module" --prefix "$work/prefix" >/dev/null

echo "== load $module"
installed_modules=$(dirname "$(find "$work/prefix" -name prefix_router.so | head -n1)")
STRATA_OOT_MODULE="$module" STRATA_OOT_INSTALLED_MODULES="$installed_modules" "$load_test"
