#!/bin/sh
# scripts/test.sh - install what is needed, build panmail twice (plain and
# with AddressSanitizer + UndefinedBehaviorSanitizer) and run the whole
# test suite in each build: unit tests, fuzz seed replay, integration
# tests through a real Postfix, then install and distcheck.
# The last line is "N passed, N failed, N skipped".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

"$top/scripts/install-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
"$top/scripts/postfix-setup.sh" || { echo "0 passed, 1 failed"; exit 1; }
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0

count () {                      # count STATUS NAME
    case $1 in
        0) passed=$((passed + 1)); echo "PASS: $2" ;;
        *) failed=$((failed + 1)); echo "FAIL: $2" ;;
    esac
}

# Add the automake results of build directory $1 to the counters.
count_suite () {
    log=$1/test-suite.log
    [ -f "$log" ] || { failed=$((failed + 1)); echo "FAIL: $1 ran no tests"; return; }
    p=$(sed -n 's/^# PASS: *//p' "$log"); f=$(sed -n 's/^# FAIL: *//p' "$log")
    e=$(sed -n 's/^# ERROR: *//p' "$log"); x=$(sed -n 's/^# XPASS: *//p' "$log")
    s=$(sed -n 's/^# SKIP: *//p' "$log")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0} + ${x:-0}))
    skipped=$((skipped + ${s:-0}))
    [ "${f:-0}${e:-0}" = 00 ] || cat "$log"
}

# build DIR CONFIGURE-ARGS...: configure, make and make check in DIR.
build () {
    dir=$1; shift
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$dir" && "$top/configure" "$@" >configure.out 2>&1) \
        || { tail -30 "$dir/configure.out"; return 1; }
    make -C "$dir" -j2 >"$dir/make.out" 2>&1 || { tail -40 "$dir/make.out"; return 1; }
    make -C "$dir" -j2 check >"$dir/check.out" 2>&1
    tail -15 "$dir/check.out"
    return 0
}

build "$top/_build" ; count $? "build (-Wall -Wextra -Werror)"
count_suite "$top/_build"

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
build "$top/_build-san" --enable-sanitizers ; count $? "build with ASan+UBSan"
count_suite "$top/_build-san"

"$top/tests/install.sh" "$top/_build" >"$top/_build/install.out" 2>&1
rc=$?; [ $rc = 0 ] || cat "$top/_build/install.out"; count $rc "make install DESTDIR + pkg-config client"

make -C "$top/_build" distcheck >"$top/_build/distcheck.out" 2>&1
rc=$?; [ $rc = 0 ] || tail -40 "$top/_build/distcheck.out"; count $rc "make distcheck"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
