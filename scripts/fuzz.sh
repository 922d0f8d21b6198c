#!/bin/sh
# scripts/fuzz.sh [SECONDS] - build the libFuzzer targets with clang and
# run each for SECONDS (default 60) over a copy of its seed corpus.
# New crash inputs are left in _build-fuzz/; add the interesting ones to
# fuzz/corpus/NAME/ so that "make check" replays them forever.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
mkdir -p "$top/_build-fuzz"; cd "$top/_build-fuzz"
[ -f Makefile ] || "$top/configure" CC=clang --enable-fuzzing --disable-shared >/dev/null
# One target per seed corpus (tests/fuzz-replay.sh checks that they match
# the fuzz_targets of Makefile.am).
targets=$(cd "$top/fuzz/corpus" && ls)
# shellcheck disable=SC2046,SC2086  # one make goal per target (no blanks in names)
make -j2 $(printf 'fuzz/fuzz-%s ' $targets)
for t in $targets; do
    rm -rf "work-$t"; cp -r "$top/fuzz/corpus/$t" "work-$t"
    "./fuzz/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 "work-$t"
done
