#!/bin/sh
# find-pan.sh - "panaudit find-pan" reads card numbers on stdin and lists
# every audit record whose keyed hashes match: when, the message, its
# recipients and their key fingerprints, the masked PAN.  Exit 0 when a
# record matches, 1 when none does, 2 for a line that is not a card
# number (never echoed) or a card number given on the command line.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

init_home
A=${TAG}find-pan-alice@example.test
fa=$(make_key Alice "$A")
export_key "$fa" "$T/a.asc"
expect_rc 0 "enroll" pankey enroll "$A" --fingerprint "$fa" --file "$T/a.asc"

make_capture capture > /dev/null
printf 'From: ops@example.test\nTo: %s\nSubject: refunds\n\nrefund 4111 1111 1111 1111\nand 5500-0000-0000-0004\n' \
    "$A" | expect_rc 0 "send two PANs in the body" \
    pansend --sendmail "$T/capture"
mid=$(panaudit log --json --event send | jq -r .message_id)
[ -n "$mid" ] || fail "no send record"
panaudit log --json --event send |
    jq -e '.pan_count == 2 and (.pans | length) == 2' >/dev/null ||
    fail "the send record does not list the two PANs"

# ------------------------------------------------------------ found
printf '4111 1111 1111 1111\n' | expect_rc 0 "find-pan of a sent PAN" \
    panaudit find-pan
grep -qF "$mid" "$T/out" || fail "find-pan does not name the message"
grep -qF "$A" "$T/out" || fail "find-pan does not name the recipient"
grep -qF "$fa" "$T/out" || fail "find-pan does not name the key"
grep -qF '411111******1111' "$T/out" || fail "find-pan does not show the masked PAN"
grep -q ' send pending ' "$T/out" || fail "find-pan does not name the event"
pass "find-pan: the send, its recipient, key fingerprint and masked PAN"

printf '  5500000000000004 \r\n\n' | expect_rc 0 "find-pan, other form" \
    panaudit find-pan --json
jq -e --arg m "$mid" --arg f "$fa" --arg a "$A" \
    '.event == "send" and .message_id == $m
     and .recipients[0].fingerprint == $f and .recipients[0].address == $a
     and (.pans | length) == 1 and .pans[0].masked == "550000******0004"
     and (.time | test("^[0-9-]+T[0-9:]+Z$"))' "$T/out" >/dev/null ||
    fail "find-pan --json does not describe the send"
pass "find-pan --json; white space and CRLF around the number"

# ------------------------------------------------------------ not found
printf '4012888888881881\n' | expect_rc 1 "find-pan of a PAN never sent" \
    panaudit find-pan
[ ! -s "$T/out" ] || fail "find-pan printed records for an unknown PAN"
pass "an unknown PAN: exit 1, nothing listed"

printf '4012888888881881\n4111-1111-1111-1111\n' |
    expect_rc 0 "find-pan of two PANs, one sent" panaudit find-pan
[ "$(grep -c "$mid" "$T/out")" = 1 ] || fail "the send is not listed once"
pass "several PANs on stdin"

# ------------------------------------------------------------ refused input
printf '4111 1111 1111 1112\n' | expect_rc 2 "a line that is not a card number" \
    panaudit find-pan
grep -q 'line 1: not a card number' "$T/err" ||
    fail "no 'not a card number' message"
if grep -q '1112' "$T/out" "$T/err"; then
    fail "the rejected line is echoed"
fi
printf 'card 4111 1111 1111 1111\n' | expect_rc 2 "a PAN with other text" \
    panaudit find-pan
if grep -q '1111 1111' "$T/out" "$T/err"; then
    fail "the rejected line is echoed"
fi
pass "a line that is not exactly a card number: exit 2, not echoed"

printf '' | expect_rc 2 "no card number on stdin" panaudit find-pan

expect_rc 2 "a PAN on the command line" panaudit find-pan 4111111111111111 \
    < /dev/null
grep -q 'stdin' "$T/err" || fail "the refusal does not say to use stdin"
if grep -q '4111111111111111' "$T/out" "$T/err"; then
    fail "the PAN given on the command line is echoed"
fi
pass "a PAN on the command line is refused, not echoed"

# ------------------------------------------------------------ same hash as scan
printf 'refund 4111 1111 1111 1111\n' > "$T/file.txt"
"$PANAUDIT" scan --json --no-progress "$T/file.txt" > "$T/scan.json" 2>/dev/null &&
    fail "scan of a file with a PAN exited 0"
h=$(jq -r .hash "$T/scan.json")
panaudit log --json --event send |
    jq -e --arg h "$h" '[.pans[].hash] | index($h) != null' >/dev/null ||
    fail "scan and the audit log do not give the same keyed hash"
pass "scan --json gives the hash the audit log stores"
