#!/bin/sh
# audit-send.sh - every pansend outcome is in the audit log before pansend
# reports it: sends with fingerprints and the digest of exactly what the
# MTA got, refusals with their reason, queued messages; 50 concurrent
# sends give 50 records and an intact chain; when the record cannot be
# written (full disk, read-only home) nothing is sent.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

init_home; pass "init (audit key kept)"
A=${TAG}audit-send-alice@example.test
fa=$(make_key Alice "$A")
export_key "$fa" "$T/a.asc"
expect_rc 0 "enroll" pankey enroll "$A" --fingerprint "$fa" --file "$T/a.asc"

make_capture capture > /dev/null
marker=$(new_marker)
msg () {
    printf 'From: ops@example.test\nTo: %s\nSubject: report\n\nbody %s\n' \
        "$1" "$marker"
}

# ------------------------------------------------------------ a send
msg "$A" | expect_rc 0 "send to a capture MTA" pansend --sendmail "$T/capture"
panaudit log --json --event send > "$T/send.json"
[ "$(jq -s length "$T/send.json")" = 1 ] || fail "not exactly one send record"
digest=$(sha256sum < "$T/capture.out" | cut -d' ' -f1)
jq -e --arg d "$digest" --arg f "$fa" --arg a "$A" \
   '.ciphertext_sha256 == $d and .recipients[0].fingerprint == $f
    and .recipients[0].address == $a and .outcome == "sent"' \
   "$T/send.json" >/dev/null ||
    fail "the send record does not hold the MTA's ciphertext digest and key"
size=$(wc -c < "$T/capture.out")
jq -e --argjson s "$size" '.size == $s' "$T/send.json" >/dev/null ||
    fail "the send record has the wrong size"
mid=$(jq -r .message_id "$T/send.json")
grep -qiF "Message-ID: $mid" "$T/capture.out" ||
    fail "the Message-ID of the record is not the one sent"
pass "send record: fingerprint, ciphertext digest and size of what the MTA got"

# ------------------------------------------------------------ refusals
msg audit-send-nobody@example.test |
    expect_rc 67 "unenrolled recipient" pansend --sendmail "$T/capture"
panaudit log --json --event refuse | jq -e -s \
    'length == 1 and .[0].exit_code == 67 and .[0].outcome == "refused"
     and (.[0].reason | test("audit-send-nobody@example.test"))' >/dev/null ||
    fail "the refusal is not recorded with its exit code and reason"
pass "refusal recorded with exit code and reason"

msg "$A" | expect_rc 75 "MTA failure" pansend --sendmail /bin/false
panaudit log --json --event queue | jq -e -s \
    'length == 1 and .[0].exit_code == 75 and .[0].outcome == "queued"' \
    >/dev/null || fail "the queued message is not recorded"
pass "queued message recorded"

if grep -rq "$marker" "$PANMAIL_HOME"; then
    fail "message text found in the home"
fi
pass "no message body in the home, its queue or its audit log"

# ------------------------------------------------------------ concurrency
before=$(panaudit log --json | jq -s length)
i=0
while [ $i -lt 50 ]; do
    (msg "$A" | pansend --sendmail /bin/true > "$T/par.$i.out" 2>&1;
     echo $? > "$T/par.$i.rc") &
    i=$((i + 1))
done
wait
i=0
while [ $i -lt 50 ]; do
    [ "$(cat "$T/par.$i.rc")" = 0 ] ||
        { cat "$T/par.$i.out" >&2; fail "concurrent pansend $i failed"; }
    i=$((i + 1))
done
after=$(panaudit log --json | jq -s length)
[ $((after - before)) = 50 ] ||
    fail "50 concurrent sends gave $((after - before)) records"
expect_rc 0 "verify --key after 50 concurrent sends" \
    panaudit verify --key "$T/audit.key"
pass "50 concurrent sends: 50 records, intact chain and MACs"

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
