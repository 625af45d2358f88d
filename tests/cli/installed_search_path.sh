#!/usr/bin/env bash
# Issue 12: the installed binary does not search the build tree for modules. Installs this
# build into a fresh prefix, then checks what `strata modules` searched (its last stderr line,
# "(searched: A:B:...)"): the installed binary searches its own prefix's lib/strata/modules and
# never the build tree's modules folder, and lists the installed modules; the build tree's
# binary still searches the build tree (make run, the tests).
# Usage: installed_search_path.sh BUILD_DIR CMAKE
set -euo pipefail
build=$(cd "$1" && pwd -P) cmake=$2

work=$(mktemp -d "${TMPDIR:-/tmp}/strata-installed-XXXXXX")
trap 'rm -rf "$work"' EXIT
unset STRATA_MODULES_PATH
# A TSan build links every binary to the build's libstrata_tsan_c11.so, whose build-tree RPATH
# the install strips; where to find libraries has nothing to do with where modules are found.
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

"$cmake" --install "$build" --prefix "$work/prefix" >"$work/install.log" ||
  { cat "$work/install.log"; echo "install failed (was the whole tree built?)"; exit 1; }
installed="$work/prefix/bin/strata"
[ -x "$installed" ] || { echo "no installed strata at $installed"; exit 1; }
completion="$work/prefix/share/bash-completion/completions/strata"
grep -q '^complete -F _strata strata$' "$completion" || { echo "FAIL: no bash completion at $completion"; exit 1; }
modules_dir=$(dirname "$(find "$work/prefix" -name memcached_l1.so | head -n1)")
[ -n "$modules_dir" ] || { echo "memcached_l1.so was not installed"; exit 1; }

searched() { "$1" modules 2>&1 >"$work/out" | sed -n 's/^(searched: \(.*\))$/\1/p'; }

path=$(searched "$installed")
echo "installed binary searched: $path"
case ":$path:" in
  *":$build/modules:"*) echo "FAIL: the installed binary searches the build tree"; exit 1 ;;
esac
case ":$path:" in
  *":$modules_dir:"*) ;;
  *) echo "FAIL: the installed binary does not search its prefix's $modules_dir"; exit 1 ;;
esac
grep -q '^memcached_l1 ' "$work/out" || { cat "$work/out"; echo "FAIL: memcached_l1 not listed"; exit 1; }

path=$(searched "$build/bin/strata")
echo "build-tree binary searched: $path"
case ":$path:" in
  *":$build/modules:"*) ;;
  *) echo "FAIL: the build tree's binary no longer searches $build/modules"; exit 1 ;;
esac
echo "ok"
