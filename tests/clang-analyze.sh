#!/bin/sh
# tests/clang-analyze.sh BUILDDIR - clang's static analyser over every
# lib/*.c, with the build's config.h; any finding fails (the analyser's
# warnings are errors: -analyzer-werror).  scripts/test.sh runs it in
# its plain chain; scripts/analyze.sh runs the whole scan-build, gcc
# -fanalyzer, cppcheck and valgrind.
#
# Environment: CLANG (default clang-14), JOBS (default 2), MAX_NODES
# (default 40000: the analyser's budget of exploded-graph nodes per
# top-level function; 225000 is its own default, see HACKING).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: clang-analyze.sh BUILDDIR}" && pwd)
[ -f "$build/config.h" ] || { echo "clang-analyze: no config.h in $build" >&2; exit 2; }
CLANG=${CLANG:-clang-14}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$out"
# The flags of lib/ in Makefile.am (AM_CPPFLAGS), without optimisation.
# shellcheck disable=SC2016  # the default home is a C string literal
find "$top/lib" -maxdepth 1 -name '*.c' -print0 | sort -z > "$out/files"
if xargs -0 -P "${JOBS:-2}" -n 4 "$CLANG" --analyze < "$out/files" \
        -Xclang -analyzer-werror \
        -Xclang -analyzer-config -Xclang max-nodes="${MAX_NODES:-40000}" \
        -std=c11 -DHAVE_CONFIG_H \
        -DGPGRT_ENABLE_ES_MACROS=1 -DPAN_DEFAULT_HOME='"/var/lib/panmail"' \
        -I"$build" -I"$top/lib" -I"$top" >"$out/log" 2>&1; then
    echo "clang-analyze: $(tr -cd '\0' < "$out/files" | wc -c) files of lib/, no finding"
else
    grep -E 'error:|warning:' "$out/log" || cat "$out/log"
    exit 1
fi
