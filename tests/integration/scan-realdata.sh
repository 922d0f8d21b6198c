#!/bin/sh
# scan-realdata.sh - "panaudit scan" raises no alarm on real files that
# nobody here wrote: Debian 12's /usr/share/doc, /usr/include and
# /usr/share/perl as the suite's packages installed them.  They once
# gave 181 false alarms: rows of Perl's Unicode::Collate tables (hex
# codes, perl-modules-5.36) and a feature ID in a URL of Node's
# changelog.  The scan must report 0 card numbers and exit 0; each
# directory must hold at least a floor of regular files, the tables
# must be there, and the scan must have read every regular file find(1)
# counts, so that a missing, empty or half-read directory cannot pass.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

DIRS="/usr/share/doc /usr/include /usr/share/perl"

# floor DIR: the fewest regular files DIR holds on a Debian 12 machine
# with scripts/install-deps.sh's packages (far fewer than it does).
floor() {
    case $1 in
        /usr/share/doc) echo 200 ;;
        /usr/include) echo 1000 ;;
        /usr/share/perl) echo 500 ;;
    esac
}

files=0 bytes=0
for d in $DIRS; do
    [ -d "$d" ] || fail "$d is missing"
    n=$(find "$d" -type f | wc -l)
    b=$(find "$d" -type f -printf '%s\n' |
        awk '{ s += $1 } END { print s + 0 }')
    [ "$n" -ge "$(floor "$d")" ] ||
        fail "$d holds $n files, fewer than $(floor "$d"): not the real data"
    note "$d: $n files, $b bytes"
    files=$((files + n)) bytes=$((bytes + b))
done
tables=$(find /usr/share/perl -path '*/Unicode/Collate/CJK/*.pm' | wc -l)
[ "$tables" -ge 5 ] ||
    fail "Perl's Unicode::Collate CJK tables are missing (perl-modules-5.36)"
note "Unicode::Collate CJK tables: $tables files"
if [ -f /usr/share/doc/nodejs/changelogs/CHANGELOG_V20.md ]; then
    note "Node's changelog (the URL with a feature ID) is there too"
fi

# shellcheck disable=SC2086 # DIRS holds three paths, split on purpose
run_rc "$T/out" "$T/err" "$PANAUDIT" scan --no-progress $DIRS
cat "$T/err"
[ "$rc" = 0 ] || { head -20 "$T/out" >&2; fail "scan exited $rc, expected 0"; }
[ ! -s "$T/out" ] || { head -20 "$T/out" >&2; fail "card numbers reported"; }
summary=$(tail -1 "$T/err")
case $summary in
    "panaudit: 0 PANs in 0 files; $files files scanned, "*" skipped") ;;
    *) fail "the scan did not read the $files files find counts: $summary" ;;
esac
pass "0 card numbers in $files files ($bytes bytes) of $DIRS"
