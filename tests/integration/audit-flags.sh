#!/bin/sh
# audit-flags.sh - every panaudit command refuses the options it does
# not take (exit 64, the command and the option named on stderr); the
# options it does take still work.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

init_home; pass "init"
for x in "report --jobs 2" "report --anchor x" "verify --json" "verify --csv" \
    "anchor --json" "log --key -" "log --jobs 2" "keys --since 2020-01-01" \
    "scan --csv ." "find-pan --csv" "rotate --json" "prune --since 2020-01-01" \
    "note --json hello" "init-key --event send"; do
    # shellcheck disable=SC2086  # split into words on purpose
    set -- $x
    expect_rc 64 "panaudit $x is refused" panaudit "$@"
    grep -q "$1 does not take $2" "$T/err" || fail "panaudit $x: $(cat "$T/err")"
done
expect_rc 0 "report with the options it takes" \
    panaudit report --since 2020-01-01 --event init
grep -q "panmail audit report" "$T/out" || fail "report printed: $(cat "$T/out")"
expect_rc 0 "log --csv --event init" panaudit log --csv --event init
[ "$(wc -l < "$T/out")" -eq 2 ] || fail "log --csv: $(cat "$T/out")"
expect_rc 0 "verify --key" panaudit verify --key "$T/audit.key"
pass "panaudit: options a command does not take are refused (64); the others work"
