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
make -j2 fuzz/fuzz-headers fuzz/fuzz-addrlist fuzz/fuzz-registry fuzz/fuzz-config fuzz/fuzz-audit fuzz/fuzz-pan fuzz/fuzz-mime fuzz/fuzz-smime-trustlist fuzz/fuzz-colons fuzz/fuzz-scan fuzz/fuzz-rfc2047
for t in headers addrlist registry config audit pan mime smime-trustlist colons scan rfc2047; do
    rm -rf "work-$t"; cp -r "$top/fuzz/corpus/$t" "work-$t"
    ./fuzz/fuzz-$t -max_total_time="$secs" -print_final_stats=1 "work-$t"
done
