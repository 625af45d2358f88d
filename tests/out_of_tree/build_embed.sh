#!/usr/bin/env bash
# An application embedding strata, as its author builds it: install the sdk and modules
# components of this build into PREFIX (no binary), configure examples/embed on its own with
# find_package(strata) and target_link_libraries(... strata::embed), build it in OUT.
# Usage: build_embed.sh BUILD_DIR EXAMPLES_DIR CMAKE GENERATOR PREFIX OUT
set -euo pipefail
build=$1 examples=$2 cmake=$3 generator=$4 prefix=$5 out=$6

echo "== install the sdk and modules components of $build -> $prefix"
for component in sdk modules; do
  "$cmake" --install "$build" --component "$component" --prefix "$prefix" >"$out.install.log" ||
    { cat "$out.install.log"; echo "install of $component failed"; exit 1; }
done
lib=$(find "$prefix" -name 'libstrata_embed.so' | head -n1)
[ -n "$lib" ] || { echo "libstrata_embed.so was not installed"; exit 1; }
[ -f "$prefix/include/strata/cache.hpp" ] || { echo "strata/cache.hpp was not installed"; exit 1; }
# Only strata::Cache is exported: the runtime's internals stay inside the library.
# (Outputs are captured before grep reads them: under pipefail, `cmd | grep -q` fails whenever
# grep exits at its first match before cmd has written everything, cmd dying of SIGPIPE.)
symbols=$(nm -DC --defined-only "$lib")
extra=$(grep -E ' T strata::' <<<"$symbols" | grep -v 'strata::Cache::' || true)
if [ -n "$extra" ]; then
  echo "libstrata_embed.so exports more than strata::Cache:"
  head <<<"$extra"
  exit 1
fi

echo "== configure and build examples/embed against $prefix"
"$cmake" -S "$examples/embed" -B "$out" -G "$generator" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_FLAGS="-Werror"
"$cmake" --build "$out"
[ -x "$out/strata_embed_example" ] || { echo "no strata_embed_example built"; exit 1; }
libs=$(ldd "$out/strata_embed_example")
grep -q "$prefix.*libstrata_embed.so" <<<"$libs" ||
  { echo "$libs"; echo "not linked against the installed library"; exit 1; }
echo "== built $out/strata_embed_example"
