#!/bin/sh
# Replay every fuzz target's seed corpus through its target (see
# fuzz/replay.c).  A crash or sanitizer report fails the test, and so
# does a corpus without a target or a target without seeds.  The seeds
# of a differential target NAME-gmime, built only where configure found
# GMime, are otherwise replayed through the target NAME (same input).
#
# Environment: top_srcdir, top_builddir and fuzz_targets (the list in
# Makefile.am), set by make check.
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
: "${fuzz_targets:?set by make check: the fuzz targets of Makefile.am}"
status=0
runs=
for dir in "$top_srcdir"/fuzz/corpus/*/; do
    name=$(basename "$dir")
    case " $fuzz_targets " in
        *" $name "*) runs="$runs $name:$name" ;;
        *" ${name%-gmime} "*) runs="$runs ${name%-gmime}:$name" ;;
        *) echo "fuzz/corpus/$name has no fuzz target in Makefile.am"; status=1 ;;
    esac
done
for target in $fuzz_targets; do
    case "$runs " in
        *" $target:$target "*) ;;
        *) echo "no seeds in fuzz/corpus/$target"; status=1 ;;
    esac
done
for run in $runs; do
    target=${run%%:*} corpus=${run#*:}
    files=$(find "$top_srcdir/fuzz/corpus/$corpus" -type f | sort)
    [ -n "$files" ] || { echo "no seeds in fuzz/corpus/$corpus"; status=1; continue; }
    # shellcheck disable=SC2086  # one argument per seed (no blanks in names)
    if "$top_builddir/fuzz/replay-$target" $files; then
        echo "replay-$target: $(echo "$files" | wc -l) seeds of $corpus ok"
    else
        echo "replay-$target: $corpus FAILED"; status=1
    fi
done
exit $status
