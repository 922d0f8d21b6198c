#!/bin/sh
# scripts/test.sh - the test command (README, .ci/run).  Installs what is
# needed and sets up the test Postfix, then builds and tests panmail in
# two chains that run at the same time, one on each core:
#
#   plain  _build: configure, clang's static analyser over lib/
#          (tests/clang-analyze.sh; any finding fails) and make dist,
#          the release tarball.  Then scripts/package.sh builds the
#          Debian packages from that tarball.  This is the one plain
#          build, and the check of the tarball that make distcheck
#          would make: a VPATH build with -Werror and the shared
#          library, the unit tests, the fuzz replay and the source
#          checks (the man page, shellcheck, library layers, sizes,
#          formatting).  The packages are checked
#          with lintian, installed (installcheck's checks: the installed
#          files, only pan_ symbols exported, a pkg-config client), used
#          to send one message, and purged.
#   san    _build-san: ASan+UBSan with leak detection, static library (no
#          libtool wrapper around each tool), -O1 (as ASan's authors
#          advise; it compiles in two thirds of -O2's time, and -O2
#          -Werror is the package build's).  configure, make, make
#          check (unit tests, fuzz seed replay and, in parallel, the
#          integration tests through the real Postfix).
#
# Every phase is timed; the table at the end gives when each started
# and how long it took.  The last line is "N passed, N failed, N skipped";
# a skipped test is counted as failed too.
#
# Environment: PANMAIL_TEST_JOBS, the number of tests the sanitizer
# build runs at once (default 6: most of their time is spent waiting
# for gpg, gpg-agent and Postfix).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
jobs=${PANMAIL_TEST_JOBS:-6}

# cpu: set $cpu_s to the CPU seconds (user + system) that the children
# of this shell have used so far (the second line of "times"; not in a
# subshell, whose children are others).
cpu () {
    times > "$state/times.$$"
    cpu_s=$(awk 'NR == 2 {
        t = 0
        for (i = 1; i <= 2; i++) {
            v = $i; m = v; sub(/m.*/, "", m); sub(/^[0-9]*m/, "", v); sub(/s$/, "", v)
            t += m * 60 + v
        }
        printf "%.0f\n", t }' "$state/times.$$")
}

# phase NAME CMD...: run CMD, and note when it started, how long it took,
# the CPU time it used and whether it passed.
phase () {
    ph_name=$1
    shift
    ph_t0=$(date +%s)
    cpu; ph_c0=$cpu_s
    "$@"
    ph_rc=$?
    cpu
    printf '%s\t%s\t%s\t%s\t%s\n' "$ph_name" "$((ph_t0 - start))" \
        "$(($(date +%s) - ph_t0))" "$((cpu_s - ph_c0))" "$ph_rc" \
        >> "$state/phases"
    return $ph_rc
}

# configure_in DIR ARGS...: a fresh DIR, configured with ARGS.
configure_in () {
    cf_dir=$1
    shift
    rm -rf "$cf_dir" && mkdir -p "$cf_dir" &&
        (cd "$cf_dir" && "$top/configure" "$@" >configure.out 2>&1)
}

# quiet_make DIR OUT ARGS...: make ARGS in DIR, output to DIR/OUT.
quiet_make () {
    qm_dir=$1 qm_out=$2
    shift 2
    make -C "$qm_dir" "$@" >"$qm_dir/$qm_out" 2>&1
}

# The plain chain: the release tarball, and the Debian package built
# from it.
plain_chain () {
    b=$top/_build
    phase "plain: configure" configure_in "$b" --enable-werror || return
    # clang's static analyser over lib/, with the plain build's config.h.
    phase "plain: clang --analyze lib/" sh "$top/tests/clang-analyze.sh" \
        "$b" >"$b/analyze.out" 2>&1 &&
        echo ok > "$state/analyze" &
    phase "plain: make dist" quiet_make "$b" dist.out dist &&
        echo ok > "$state/dist"
    # The package builds from the tarball: it is the one plain build,
    # and the check of the tarball that "make distcheck" would make (a
    # VPATH build with -Werror, the unit tests, the fuzz replay and the
    # source checks; then, installed, installcheck's checks).  It starts
    # at once, and the integration tests run at a lower priority (nice
    # 5): they spend most of their time waiting, and fill the gaps the
    # package build leaves; at the same priority, six of them left it a
    # quarter of the CPU, and it ended minutes after them.
    set -- "$b"/panmail-*.tar.gz
    if [ -f "$state/dist" ] && [ -f "$1" ]; then
        DEB_BUILD_OPTIONS="noautodbgsym parallel=2"
        PANMAIL_CONFIGURE_FLAGS="--enable-werror --enable-source-checks"
        export DEB_BUILD_OPTIONS PANMAIL_CONFIGURE_FLAGS
        phase "plain: package (from the tarball)" sh "$top/scripts/package.sh" \
            --tarball "$1" "$top/_build-deb" >"$b/package.out" 2>&1 &&
            echo ok > "$state/package"
    fi
    wait
}

# The san chain: the tests start as soon as the tools (and t-smime, the
# driver of smime-lib.sh) are built; each other test program is built
# when its test is due (check_PROGRAMS= takes away make check's "build
# them all first"), in the time the integration tests spend waiting.
san_chain () {
    b=$top/_build-san
    phase "san: configure" configure_in "$b" --enable-werror \
        --enable-sanitizers --disable-shared --enable-integration-tests \
        --enable-test-hooks --disable-source-checks CFLAGS="-g -O1" &&
        phase "san: make" quiet_make "$b" make.out -j2 &&
        quiet_make "$b" make-t-smime.out tests/unit/t-smime &&
        echo ok > "$state/san-build"
    [ -f "$state/san-build" ] || return
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        phase "san: make check (-j$jobs, nice 5)" nice -n 5 make -C "$b" \
        -j"$jobs" check-TESTS check_PROGRAMS= >"$b/check.out" 2>&1
}

# "test.sh --chain NAME STATE START" runs one chain in the background,
# noting its results in the directory STATE.
if [ "${1:-}" = --chain ]; then
    state=$3 start=$4
    "$2_chain"
    exit 0
fi
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
start=$(date +%s)

passed=0 failed=0 skipped=0

count () {                      # count STATUS NAME
    case $1 in
        0) passed=$((passed + 1)); echo "PASS: $2" ;;
        *) failed=$((failed + 1)); echo "FAIL: $2" ;;
    esac
}

# count_summary NAME FILE: add the automake test summary in FILE (a
# test-suite.log, or make's output that holds one) to the counters.
count_summary () {
    cs_f=$2
    if [ ! -f "$cs_f" ] || ! grep -q '^# TOTAL:' "$cs_f"; then
        failed=$((failed + 1)); echo "FAIL: $1 ran no tests"; return
    fi
    cs_p=$(sed -n 's/^# PASS: *//p' "$cs_f"); cs_f2=$(sed -n 's/^# FAIL: *//p' "$cs_f")
    cs_e=$(sed -n 's/^# ERROR: *//p' "$cs_f"); cs_x=$(sed -n 's/^# XPASS: *//p' "$cs_f")
    cs_s=$(sed -n 's/^# SKIP: *//p' "$cs_f"); cs_xf=$(sed -n 's/^# XFAIL: *//p' "$cs_f")
    passed=$((passed + cs_p))
    failed=$((failed + cs_f2 + cs_e + cs_x + cs_s + cs_xf))
    skipped=$((skipped + cs_s))
    echo "$1: $cs_p passed, $((cs_f2 + cs_e + cs_x + cs_s + cs_xf)) failed"
}

# report_suite NAME DIR: the results of make check in DIR, the logs of
# what failed.
report_suite () {
    echo "== $1"
    grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL): ' "$2/check.out" 2>/dev/null
    count_summary "$1" "$2/test-suite.log"
    grep -q '^# \(FAIL\|ERROR\|SKIP\|XPASS\|XFAIL\): *[1-9]' "$2/test-suite.log" 2>/dev/null &&
        cat "$2/test-suite.log"
    return 0
}

# ------------------------------------------------------------------ set-up
phase "install-deps" "$top/scripts/install-deps.sh" >"$state/deps.out" 2>&1 ||
    { cat "$state/deps.out"; echo "0 passed, 1 failed"; exit 1; }
phase "postfix-setup" "$top/scripts/postfix-setup.sh" >"$state/postfix.out" 2>&1 ||
    { cat "$state/postfix.out"; echo "0 passed, 1 failed"; exit 1; }
phase "autoreconf" autoreconf -fi >"$state/autoreconf.out" 2>&1 ||
    { cat "$state/autoreconf.out"; echo "0 passed, 1 failed"; exit 1; }

# ------------------------------------------------------------------ the two chains
sh "$0" --chain plain "$state" "$start" &
plain_pid=$!
sh "$0" --chain san "$state" "$start" &
san_pid=$!
wait "$san_pid"
wait "$plain_pid"

# ------------------------------------------------------------------ results
b=$top/_build
if [ -f "$b/config.status" ]; then
    echo "== make dist (the release tarball)"
    count "$([ -f "$state/dist" ] && echo 0 || echo 1)" "make dist"
    [ -f "$state/dist" ] || tail -40 "$b/dist.out"
    echo "== the Debian package, built from the tarball (-Werror: unit tests, fuzz replay, source checks)"
    deb=$top/_build-deb
    grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL): ' "$deb/build.log" 2>/dev/null
    count_summary "package build: make check" "$deb/build.log"
    grep -E '^(ok|FAIL): ' "$b/package.out" 2>/dev/null
    sed -n 's/^  \([EWIP]\): /lintian \1: /p' "$b/package.out" 2>/dev/null
    count "$(grep -q '^ok: installcheck of the packages' "$b/package.out" && echo 0 || echo 1)" \
        "installed packages: exported symbols, pkg-config client (tests/install.sh)"
    count "$([ -f "$state/package" ] && echo 0 || echo 1)" \
        "Debian package (build, lintian, install, send, purge)"
    [ -f "$state/package" ] || tail -60 "$b/package.out"
    echo "== clang --analyze over lib/ (tests/clang-analyze.sh)"
    cat "$b/analyze.out" 2>/dev/null
    count "$([ -f "$state/analyze" ] && echo 0 || echo 1)" \
        "clang static analyser over lib/: no finding"
else
    tail -40 "$b/configure.out" 2>/dev/null
    count 1 "configure (-Werror, shared library)"
fi

b=$top/_build-san
if [ -f "$state/san-build" ]; then
    count 0 "build with ASan+UBSan"
    report_suite "sanitizer build: make check" "$b"
else
    tail -40 "$b/configure.out" "$b/make.out" 2>/dev/null
    count 1 "build with ASan+UBSan"
fi

echo "== phases (seconds; the plain and san chains run at the same time;"
echo "   cpu: user + system time of the phase's processes)"
printf '  %-34s %6s %6s %6s  %s\n' phase start took cpu result
while IFS="$(printf '\t')" read -r name t0 took c rc; do
    if [ "$rc" = 0 ]; then rc=ok; else rc="failed ($rc)"; fi
    printf '  %-34s %6s %6s %6s  %s\n' "$name" "+$t0" "$took" "$c" "$rc"
done < "$state/phases"
cpu
echo "  total: $(($(date +%s) - start)) s, cpu $cpu_s s," \
    "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
