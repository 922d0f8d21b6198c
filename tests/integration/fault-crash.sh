#!/bin/sh
# fault-crash.sh - pansend killed (-9), alone and with its process group,
# at every step boundary of a send (PANMAIL_TEST_CRASH_AT, a hook only a
# --enable-test-hooks build has): afterwards "panaudit verify" passes,
# the next pansend works (it queues what was pending), nothing is left
# in spool/, and every "delivered" record matches bytes the MTA really
# received.  Three crashes in a row right after the audit append leave
# a home that works.  panaudit rotate killed half-way is finished by the
# next writer.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

enroll_alice
echo "sendmail $(mta_recorder good)" >> "$PANMAIL_HOME/panmail.conf"

verify() {
    panaudit --home "$PANMAIL_HOME" verify --key "$T/audit.key" \
        >"$T/verify.out" 2>&1 || { cat "$T/verify.out" >&2; fail "$1: verify fails"; }
}

# crash STEP [group]: one send killed at STEP; then verify, and a normal
# send that works.
crash() {
    report_to "$A" "crash $1 $(new_marker)" > "$T/msg"
    if [ "${2:-}" = group ]; then
        # Its own process group, killed whole (as "timeout -s KILL" or a
        # cgroup kill does).
        if PANMAIL_TEST_CRASH_AT=$1 PANMAIL_TEST_CRASH_GROUP=1 \
            setsid "$PANSEND" < "$T/msg" >"$T/out" 2>&1; then rc=0; else rc=$?; fi
    else
        if PANMAIL_TEST_CRASH_AT=$1 "$PANSEND" < "$T/msg" >"$T/out" 2>&1; then
            rc=0; else rc=$?; fi
    fi
    [ "$rc" = 137 ] || { cat "$T/out" >&2; fail "$1 ${2:-}: exit $rc, not killed"; }
    verify "after a crash at $1"
    report_to "$A" "next $(new_marker)" | expect_rc 0 "the send after a crash at $1 ${2:-}" pansend
    [ -z "$(ls "$PANMAIL_HOME/spool")" ] ||
        { ls -l "$PANMAIL_HOME/spool" >&2; fail "$1: spool/ is not empty"; }
}

for step in encrypted staged pending handed audit-appended; do
    crash "$step"
    crash "$step" group
    pass "crash at $step (alone and with its group): verify passes, next send works"
done

# Three in a row right after the audit append (the key lags each time).
for i in 1 2 3; do
    report_to "$A" "lag $i" > "$T/msg"
    if PANMAIL_TEST_CRASH_AT=audit-appended "$PANSEND" < "$T/msg" >"$T/out" 2>&1; then
        rc=0; else rc=$?; fi
    [ "$rc" = 137 ] || { cat "$T/out" >&2; fail "crash $i after the append: exit $rc"; }
done
verify "three crashes after the append"
report_to "$A" "after three" | expect_rc 0 "a send after three crashes" pansend
expect_rc 0 "pankey list after three crashes" pankey list
pass "three crashes in a row after the audit append: the home works"

# panaudit rotate killed between the link of the closed segment and the
# new audit.log taking its place, and between that and the segment-open
# record: verify passes as it stands, the next writer finishes the
# rotation (segment-open first), and verify passes again.
for step in rotate-linked rotate-renamed; do
    if PANMAIL_TEST_CRASH_AT=$step panaudit --home "$PANMAIL_HOME" rotate >"$T/out" 2>&1; then
        rc=0; else rc=$?; fi
    [ "$rc" = 137 ] || { cat "$T/out" >&2; fail "rotate killed at $step: exit $rc"; }
    verify "after a rotate killed at $step"
    report_to "$A" "after rotate $step" | expect_rc 0 "a send after a rotate killed at $step" pansend
    head -n 1 "$PANMAIL_HOME/audit.log" | jq -e '.event == "segment-open"' >/dev/null ||
        fail "$step: the next writer did not open the segment first"
    [ ! -e "$PANMAIL_HOME/audit.log.new" ] || fail "$step: audit.log.new was left"
    verify "after the send that finished a rotate killed at $step"
done
expect_rc 0 "rotate after the recovered rotations" panaudit --home "$PANMAIL_HOME" rotate
verify "after a rotate that follows the recovered ones"
pass "rotate killed after the link or the rename: verify passes, the next writer finishes it"

# Deliver what the crashes left queued, then compare the bytes.
expect_rc 0 "flush" pansend -q
[ -z "$(ls "$PANMAIL_HOME/queue")" ] || fail "queue/ not empty after the flush"
verify "at the end"
# Every delivered record matches a copy the MTA took whole, and the MTA
# took nothing unrecorded (a copy of a crash at "handed" that a flush
# handed over again is taken twice: at least once).
check_received
panaudit --home "$PANMAIL_HOME" log --json |
    jq -e -s '[.[] | select(.event == "send" and .outcome == "sent")] | length == 0' \
    >/dev/null || fail "a legacy sent record was written"
n=$(panaudit --home "$PANMAIL_HOME" log --json |
    jq -s '[.[] | select(.event == "delivered")] | length')
[ "$n" -ge 11 ] || fail "only $n delivered records (11 sends went through)"
pass "every delivered record matches bytes the MTA received"
