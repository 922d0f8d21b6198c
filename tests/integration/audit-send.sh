#!/bin/sh
# audit-send.sh - every pansend outcome is in the audit log before pansend
# reports it: sends with fingerprints and the digest of exactly what the
# MTA got, refusals with their reason, queued messages.  (50 concurrent
# sends: audit-concurrent.sh; a record that cannot be written:
# audit-nospace.sh.)
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

enroll_alice

make_capture capture > /dev/null
marker=$(new_marker)
msg () { report_to "$1" "$marker"; }

# ------------------------------------------------------------ a send
msg "$A" | expect_rc 0 "send to a capture MTA" pansend --sendmail "$T/capture"
panaudit log --json --event send > "$T/send.json"
[ "$(jq -s length "$T/send.json")" = 1 ] || fail "not exactly one send record"
digest=$(sha256sum < "$T/capture.out" | cut -d' ' -f1)
jq -e --arg d "$digest" --arg f "$fa" --arg a "$A" \
   '.ciphertext_sha256 == $d and .recipients[0].fingerprint == $f
    and .recipients[0].address == $a and .outcome == "pending"' \
   "$T/send.json" >/dev/null ||
    fail "the send record does not hold the MTA's ciphertext digest and key"
copy=$(jq -r .copy "$T/send.json")
panaudit log --json --event delivered | jq -e -s --arg d "$digest" --arg c "$copy" \
    'length == 1 and .[0].copy == $c and .[0].ciphertext_sha256 == $d
     and .[0].outcome == "delivered"' >/dev/null ||
    fail "no delivered record of the copy"
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
