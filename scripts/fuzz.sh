#!/bin/sh
# scripts/fuzz.sh - build the libFuzzer targets with clang (in
# _build-fuzz: configure --enable-fuzzing, the convenience library built
# once, instrumented, and linked by every target) and run them.
#
#   scripts/fuzz.sh [SECONDS]
#       run each target for SECONDS (default 60) over a copy of its seed
#       corpus; new inputs stay in _build-fuzz/work-NAME.
#
#   scripts/fuzz.sh campaign [-r RUNS] [-b SECONDS] [NAME...]
#       run each target (default: all), one at a time under nice -n 19,
#       until RUNS executions (default 10000000) or SECONDS (default 600)
#       have passed, then merge what added coverage, minimised by
#       libFuzzer's -merge=1, into fuzz/corpus/NAME/ (which "make check"
#       replays).  Prints one line per target: executions, cov, ft, the
#       seconds it ran and the corpus files added; the lines are also
#       in _build-fuzz/campaign.txt.  A crash stops that target (its
#       reproducer is in _build-fuzz/crash-NAME/) and the script fails
#       at the end; its inputs are not merged.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

build () {
    [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
    mkdir -p "$top/_build-fuzz"; cd "$top/_build-fuzz"
    [ -f Makefile ] || "$top/configure" CC=clang --enable-fuzzing \
        --disable-shared --disable-source-checks >/dev/null
    # shellcheck disable=SC2046,SC2086  # one make goal per target (no blanks in names)
    make -j2 $(printf 'fuzz/fuzz-%s ' $targets)
}

# The number after "WORD: " in the last line of FILE that has one.
last_stat () {
    sed -n "s/^\\(.* \\)\\{0,1\\}$1: *\\([0-9][0-9]*\\).*/\\2/p" "$2" | tail -n 1
}

campaign_one () {
    t=$1
    work=work-$t; crashdir=crash-$t
    rm -rf "$work" "$crashdir"; mkdir -p "$work" "$crashdir"
    before=$(find "$top/fuzz/corpus/$t" -type f | wc -l)
    start=$(date +%s)
    rc=0
    nice -n 19 "./fuzz/fuzz-$t" -runs="$runs" -max_total_time="$budget" \
        -print_final_stats=1 -artifact_prefix="$crashdir/" \
        "$work" "$top/fuzz/corpus/$t" >"log-$t" 2>&1 || rc=$?
    secs=$(( $(date +%s) - start ))
    execs=$(last_stat stat::number_of_executed_units "log-$t")
    cov=$(last_stat cov "log-$t"); ft=$(last_stat ft "log-$t")
    if [ "$rc" -ne 0 ]; then
        line="$t: CRASH (exit $rc) after ${execs:-?} executions, see _build-fuzz/log-$t and $crashdir/"
        status=1
    else
        nice -n 19 "./fuzz/fuzz-$t" -merge=1 "$top/fuzz/corpus/$t" "$work" \
            >"merge-$t" 2>&1
        after=$(find "$top/fuzz/corpus/$t" -type f | wc -l)
        line="$t: ${execs:-?} executions in ${secs}s, cov ${cov:-?} ft ${ft:-?}, corpus $before -> $after files"
    fi
    echo "$line"; echo "$line" >>campaign.txt
}

if [ "${1:-}" = campaign ]; then
    shift
    runs=10000000; budget=600
    while getopts r:b: opt; do
        case $opt in
            r) runs=$OPTARG ;;
            b) budget=$OPTARG ;;
            *) echo "usage: $0 campaign [-r RUNS] [-b SECONDS] [NAME...]" >&2; exit 2 ;;
        esac
    done
    shift $((OPTIND - 1))
    targets=${*:-$(cd "$top/fuzz/corpus" && ls)}
    build
    status=0
    echo "campaign $(date -u +%Y-%m-%dT%H:%MZ): runs $runs, budget ${budget}s" >>campaign.txt
    for t in $targets; do
        campaign_one "$t"
    done
    exit $status
fi

secs=${1:-60}
# One target per seed corpus (tests/fuzz-replay.sh checks that they match
# the fuzz_targets of Makefile.am).
targets=$(cd "$top/fuzz/corpus" && ls)
build
for t in $targets; do
    rm -rf "work-$t"; cp -r "$top/fuzz/corpus/$t" "work-$t"
    "./fuzz/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 "work-$t"
done
