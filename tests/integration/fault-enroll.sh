#!/bin/sh
# fault-enroll.sh - ten "pankey enroll" of ten different keys at once:
# each takes the home's key lock for its whole transaction, so all ten
# succeed, each with its record.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

init_home; pass "init (audit key kept)"
for i in 0 1 2 3 4 5 6 7 8 9; do
    a=${TAG}fault-enroll-$i@example.test
    f=$(make_key "User $i" "$a")
    export_key "$f" "$T/k$i.asc"
    printf '%s %s\n' "$a" "$f" >> "$T/list"
done
i=0
while read -r a f; do
    { "$PANKEY" enroll "$a" --fingerprint "$f" --file "$T/k$i.asc" \
          >"$T/out$i" 2>&1; echo "$?" > "$T/rc$i"; } &
    i=$((i + 1))
done < "$T/list"
wait
for i in 0 1 2 3 4 5 6 7 8 9; do
    [ "$(cat "$T/rc$i")" = 0 ] ||
        { cat "$T/out$i" >&2; fail "enroll $i of 10 exited $(cat "$T/rc$i")"; }
done
pass "ten concurrent enrolls: all exit 0"
n=$(panaudit --home "$PANMAIL_HOME" log --json |
    jq -s '[.[] | select(.event == "enroll" and .exit_code == 0)] | length')
[ "$n" = 10 ] || fail "$n successful enroll records, expected 10"
expect_rc 0 "pankey list" pankey list
while read -r a f; do
    grep -qF "$a" "$T/out" || fail "$a is not enrolled"
done < "$T/list"
pass "ten records, ten enrollments"
