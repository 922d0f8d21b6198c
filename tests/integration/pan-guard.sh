#!/bin/sh
# pan-guard.sh - card numbers in headers that travel in clear are refused
# (exit 77, naming the header and the masked PAN, nothing delivered); card
# numbers in the body are delivered encrypted and listed in the audit
# record only masked and as keyed hashes.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools
need_postfix

init_home; pass "init (audit key kept)"
A=${TAG}pan-guard-alice@example.test
fa=$(make_key Alice "$A")
export_key "$fa" "$T/a.asc"
expect_rc 0 "enroll" pankey enroll "$A" --fingerprint "$fa" --file "$T/a.asc"

# refused HEADER-LINE WHAT HEADER: a message with HEADER-LINE is refused,
# naming HEADER (that nothing was delivered is checked once, after all).
refused () {
    printf 'From: ops@example.test\nTo: %s\n%s\n\nno card here\n' "$A" "$1" |
        expect_rc 77 "$2" pansend
    grep -q "$3" "$T/err" || { cat "$T/err" >&2; fail "$2: header $3 not named"; }
    grep -qF '411111******1111' "$T/err" || fail "$2: masked PAN not shown"
    grep -q '4111 *1111 *1111 *1111\|4111111111111111' "$T/err" &&
        fail "$2: the error shows the whole card number"
    pass "$2: refused, header and masked PAN named"
}

old=$(mbox_size "$A")
refused 'Subject: refund 4111 1111 1111 1111' "PAN in Subject" Subject
refused 'Subject: =?utf-8?B?cmVmdW5kIDQxMTEgMTExMSAxMTExIDExMTE=?=' \
    "PAN in an RFC 2047 encoded Subject" Subject
refused 'Subject: =?iso-8859-1?Q?r=E9f=20card=3D4111-1111-1111-1111?=' \
    "PAN in a Q-encoded Subject" Subject
refused 'X-Case: card 4111111111111111' "PAN in an X- header" X-Case
refused 'Reply-To: "4111 1111 1111 1111" <ops@example.test>' \
    "PAN in a display name" Reply-To
assert_no_new_mail "PAN in a header" "$A" "$old"
pass "PAN in a header: nothing delivered"

panaudit log --json --event refuse | jq -e -s \
    'length == 5 and all(.[]; .exit_code == 77
       and .pans[0].masked == "411111******1111"
       and (.pans[0].hash | test("^[0-9a-f]{64}$")))' >/dev/null ||
    fail "the refusals are not recorded with the masked PAN and its hash"
pass "refusals recorded with masked PAN and keyed hash"

# Body PANs: plain, base64 and quoted-printable (soft break inside).
B=boundary-$(new_marker)
cat > "$T/msg" <<MSG
From: ops@example.test
To: $A
Subject: chargebacks
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="$B"

--$B
Content-Type: text/plain; charset=utf-8

case C-101 card 4111 1111 1111 1111
--$B
Content-Type: text/csv; name="cases.csv"
Content-Transfer-Encoding: base64

$(printf 'case,card\nC-102,5555-5555-5555-4444\n' | base64)
--$B
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

amex 3782822463=
10005 end
--$B--
MSG
old=$(mbox_size "$A")
expect_rc 0 "send a body with PANs" pansend < "$T/msg"
wait_for_mail "$A" "$old"
last_message "$A" "$T/got"
grep -q '4111 1111\|5555-5555\|378282' "$T/got" &&
    fail "a body PAN is readable in the delivered message"
decrypt_pgpmime "$T/got" "$(secret_home "$fa")" "$T/dec"
grep -q '4111 1111 1111 1111' "$T/dec" || fail "the decrypted body lost its PAN"
pass "body PANs delivered encrypted, decrypt intact"

panaudit log --json --event send | jq -e -s \
    '.[-1] | .pan_count == 3
       and ([.pans[].masked] | sort) ==
           ["378282*****0005", "411111******1111", "555555******4444"]' \
    >/dev/null || { panaudit log --json --event send >&2;
                    fail "the send record does not list the three masked PANs"; }
if grep -rq '4111111111111111\|4111 1111 1111 1111\|5555555555554444\|378282246310005' \
        "$PANMAIL_HOME"; then
    fail "a whole card number is stored in the home"
fi
pass "send record lists 3 PANs masked with keyed hashes; none stored whole"
