#!/bin/sh
# audit-nospace.sh - when pansend cannot write the audit record (a
# read-only audit log, a full disk, a read-only home) nothing is sent
# and it exits 73.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

enroll_alice

make_capture capture > /dev/null
marker=$(new_marker)
msg () { report_to "$1" "$marker"; }

# ------------------------------------------------------------ cannot record
# The audit log alone read-only (a read-only bind mount over it): the
# record cannot be written.
log=$PANMAIL_HOME/audit.log
{ mount --bind "$log" "$log" && mount -o remount,ro,bind "$log"; } ||
    fail "cannot bind-mount the audit log read-only"
: > "$T/capture.out"
if msg "$A" | pansend --sendmail "$T/capture" >"$T/out" 2>"$T/err"; then rc=0; else rc=$?; fi
umount "$log"
[ "$rc" = 73 ] || { cat "$T/err" >&2; fail "read-only audit log: exit $rc, expected 73"; }
[ ! -s "$T/capture.out" ] || fail "the MTA got a message that was not recorded"
grep -qi 'audit' "$T/err" || fail "the message does not name the audit log"
pass "read-only audit log: exit 73, nothing handed to the MTA"

# A whole home on a small tmpfs that is full.
small=$T/small
mkdir "$small"
mount -t tmpfs -o size=4m,mode=0700 tmpfs "$small" || fail "cannot mount a tmpfs"
# as_cleanup: stop the tmpfs home's agent and unmount it, then the
# usual clean-up, keeping the exit status.
as_cleanup() {
    as_rc=$?
    set +e
    gpgconf --homedir "$small/home/gnupg" --kill all 2>/dev/null
    umount -l "$small" 2>/dev/null
    (exit "$as_rc")
    lib_cleanup
}
trap as_cleanup EXIT
PANMAIL_HOME=$small/home "$PANKEY" init > /dev/null || fail "init on tmpfs"
PANMAIL_HOME=$small/home "$PANKEY" enroll "$A" --fingerprint "$fa" \
    --file "$T/a.asc" > /dev/null || fail "enroll on tmpfs"
dd if=/dev/zero of="$small/filler" bs=64k 2>/dev/null || true
: > "$T/capture.out"
msg "$A" | expect_rc 73 "send from a full home" \
    pansend --home "$small/home" --sendmail "$T/capture"
[ ! -s "$T/capture.out" ] || fail "the MTA got a message from a full home"
pass "full home: exit 73, nothing handed to the MTA"

# A read-only home.
rm -f "$small/filler"
mount -o remount,ro "$small" || fail "cannot remount the tmpfs read-only"
msg "$A" | expect_rc 73 "send from a read-only home" \
    pansend --home "$small/home" --sendmail "$T/capture"
[ ! -s "$T/capture.out" ] || fail "the MTA got a message from a read-only home"
gpgconf --homedir "$small/home/gnupg" --kill all 2>/dev/null || true
umount "$small" || umount -l "$small"
pass "read-only home: exit 73, nothing handed to the MTA"
