#!/bin/sh
# Replay every fuzz target's seed corpus through its target (see
# fuzz/replay.c).  A crash or sanitizer report fails the test.
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
status=0
for target in headers addrlist registry config audit pan mime smime-trustlist colons scan rfc2047 scan-allow; do
    dir="$top_srcdir/fuzz/corpus/$target"
    files=$(find "$dir" -type f | sort)
    [ -n "$files" ] || { echo "no seeds in $dir"; status=1; continue; }
    # shellcheck disable=SC2086
    if "$top_builddir/fuzz/replay-$target" $files; then
        echo "replay-$target: $(echo "$files" | wc -l) seeds ok"
    else
        echo "replay-$target: FAILED"; status=1
    fi
done
exit $status
