#!/bin/sh
# fault-enroll.sh - ten "pankey enroll" of ten different keys at once:
# each takes the home's key lock for its whole transaction, so all ten
# succeed, each with its record.  Before them a pansend was killed (-9)
# while its MTA had the copy: each pankey first queues what a crashed
# pansend left, so the copy is queued exactly once, with its record,
# and a flush delivers it.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

enroll_alice
kill_while_mta_has "$A"
id=$(panaudit --home "$PANMAIL_HOME" log --json | jq -r -s '.[-1] | select(.outcome == "pending") | .copy')
[ -n "$id" ] || fail "the last record is not the pending copy"
pass "a pansend killed while its MTA had copy $id"
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
[ "$n" = 11 ] || fail "$n successful enroll records, expected 11"
[ -z "$(ls "$PANMAIL_HOME/spool")" ] ||
    { ls -l "$PANMAIL_HOME/spool" >&2; fail "spool/ is not empty after the pankeys"; }
for x in eml env; do
    [ -f "$PANMAIL_HOME/queue/$id.$x" ] || fail "copy $id is not queued ($x)"
done
panaudit --home "$PANMAIL_HOME" log --json |
    jq -e -s --arg id "$id" '[.[] | select(.copy == $id and .event == "queue"
        and .outcome == "queued" and (.reason | test("recovered")))] | length == 1' \
    >/dev/null || fail "not exactly one queue record saying copy $id was recovered"
pass "the pankeys queued the crashed pansend's copy once, with its record"
expect_rc 0 "pankey list" pankey list
while read -r a f; do
    grep -qF "$a" "$T/out" || fail "$a is not enrolled"
done < "$T/list"
pass "ten records, ten enrollments"
expect_rc 0 "flush" pansend -q --sendmail "$(mta_recorder good)"
[ -z "$(ls "$PANMAIL_HOME/queue")" ] || fail "queue/ not empty after the flush"
panaudit --home "$PANMAIL_HOME" log --json |
    jq -e -s --arg id "$id" '.[-1] | .event == "delivered" and .copy == $id' \
    >/dev/null || fail "no delivered record for $id"
check_received
