#!/bin/sh
# scripts/analyze.sh [PART...] - the static analysers and valgrind over
# the tree, each in a build directory of its own under _build-analyze/.
# Every part fails on any finding; the script fails if a part did.
#
#   scan-build  clang's static analyser (scan-build-14 --status-bugs)
#               over lib/ and cmd/; the reports are in
#               _build-analyze/scan-build/report/
#   fanalyzer   gcc-12 -fanalyzer over lib/ and cmd/, with -Werror
#   cppcheck    cppcheck --enable=warning,portability over lib/, cmd/
#               and fuzz/
#   valgrind    valgrind memcheck over one full send (pansend, with a
#               throwaway home, a key made here and a fake sendmail that
#               keeps the ciphertext) and one "panaudit verify": no
#               error and no definite leak
#
# No PART: all four.  "--valgrind" is the same as "valgrind".  Each part
# prints how long it took.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/_build-analyze
parts=${*:-scan-build fanalyzer cppcheck valgrind}

[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1)
mkdir -p "$out"

# Configure a fresh build directory DIR (relative to $out) with ARGS.
fresh () {
    dir=$1; shift
    rm -rf "${out:?}/$dir"; mkdir -p "$out/$dir"; cd "$out/$dir"
    "$@" --disable-source-checks -q >configure.log 2>&1 ||
        { cat configure.log; return 1; }
}

part_scan_build () {
    fresh scan-build scan-build-14 "$top/configure"
    scan-build-14 --status-bugs -o report make -j2 >make.log 2>&1 ||
        { grep -E 'warning:|bugs? found' make.log; return 1; }
    grep -E 'No bugs found' make.log
}

part_fanalyzer () {
    fresh fanalyzer "$top/configure" CC=gcc-12 CFLAGS='-g -O2 -fanalyzer' \
        --enable-werror
    make -j2 -k >make.log 2>&1 ||
        { grep -E 'warning:|error:' make.log; return 1; }
    if grep -E 'warning:' make.log; then return 1; fi
    echo "no -fanalyzer findings"
}

part_cppcheck () {
    fresh cppcheck "$top/configure"
    cppcheck -q -j2 --enable=warning,portability --std=c11 --inline-suppr \
        --error-exitcode=1 -I "$top/lib" -I . \
        "$top/lib" "$top/cmd" "$top/fuzz"
    echo "no cppcheck findings"
}

part_valgrind () {
    fresh valgrind "$top/configure" --disable-shared
    make -j2 >make.log 2>&1 || { tail -20 make.log; return 1; }
    t=$(mktemp -d /tmp/panmail-valgrind.XXXXXX)
    # shellcheck disable=SC2064  # $t is fixed now
    trap "rm -rf '$t'" EXIT
    bin=$out/valgrind/cmd
    export PANMAIL_HOME="$t/home"
    # Valgrind's own messages go to $t/vg.*; 3.19 does not know
    # pidfd_open, so panmail falls back to its stand-in (util.c).
    vg="valgrind -q --error-exitcode=99 --leak-check=full
        --show-leak-kinds=definite --errors-for-leak-kinds=definite
        --log-file=$t/vg.%p"
    partner=partner@example.test
    mkdir -m 700 "$t/partner"
    GNUPGHOME="$t/partner" gpg --batch --quiet --passphrase '' \
        --quick-gen-key "Partner <$partner>" ed25519 cert,sign 1y \
        2>>"$t/setup.log"
    fpr=$(GNUPGHOME="$t/partner" gpg --with-colons --list-keys "$partner" |
        awk -F: '/^fpr/ {print $10; exit}')
    GNUPGHOME="$t/partner" gpg --batch --quiet --passphrase '' \
        --quick-add-key "$fpr" cv25519 encr 1y
    GNUPGHOME="$t/partner" gpg --armor --export "$fpr" >"$t/partner.asc"
    { "$bin/pankey" init &&
      "$bin/pankey" enroll "$partner" --fingerprint "$fpr" \
          --file "$t/partner.asc" --operator analyze; } >>"$t/setup.log" 2>&1 ||
        { cat "$t/setup.log"; return 1; }
    printf '#!/bin/sh\ncat >"%s/sent.eml"\n' "$t" >"$t/sendmail"
    chmod 755 "$t/sendmail"
    printf 'From: ops@example.test\nTo: %s\nSubject: valgrind\n\n%s\n' \
        "$partner" "card 4111 1111 1111 1111" >"$t/message"
    # shellcheck disable=SC2086  # $vg is a command line
    if ! { $vg "$bin/pansend" --sendmail "$t/sendmail" -t <"$t/message" &&
           grep -q -- '-----BEGIN PGP MESSAGE-----' "$t/sent.eml" &&
           ! grep -q '4111 1111' "$t/sent.eml" &&
           $vg "$bin/panaudit" verify; }; then
        grep -hv 'syscall: 434\|README_MISSING\|bug_reports\|Nevertheless\|your own handler' \
            "$t"/vg.*
        return 1
    fi
    echo "valgrind: no errors, no definite leaks (pansend, panaudit verify)"
}

status=0
for part in $parts; do
    [ "$part" != --valgrind ] || part=valgrind
    start=$(date +%s)
    echo "== $part"
    set +e
    (
        set -e
        case $part in
            scan-build) part_scan_build ;;
            fanalyzer) part_fanalyzer ;;
            cppcheck) part_cppcheck ;;
            valgrind) part_valgrind ;;
            *) echo "usage: $0 [scan-build|fanalyzer|cppcheck|valgrind|--valgrind]..." >&2
               exit 2 ;;
        esac
    )
    rc=$?
    set -e
    if [ "$rc" = 0 ]; then r=ok; else r=FAILED; status=1; fi
    echo "== $part: $r in $(( $(date +%s) - start ))s"
done
exit $status
