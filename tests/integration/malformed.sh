#!/bin/sh
# malformed.sh - pansend refuses malformed input (65) and input without
# recipients (64), sends nothing, and never echoes message text in its
# error messages.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
need_postfix

A=${TAG}malformed-alice@example.test
MARK=$(new_marker)      # in header values and the body

init_home; pass "init (audit key kept)"
fa=$(make_key "Alice Malformed" "$A")
export_key "$fa" "$T/alice.asc"
expect_rc 0 "enroll" pankey enroll "$A" --fingerprint "$fa" --file "$T/alice.asc"
s_A=$(mbox_size "$A")
make_capture capture >/dev/null

# check_case WANT WHAT FILE: pansend exits WANT on FILE, through the default
# sendmail and through a capture script that must not run, and prints no
# text of the message.
check_case() {
    cc_want=$1 cc_what=$2 cc_file=$3
    expect_rc "$cc_want" "$cc_what" pansend < "$cc_file"
    cat "$T/out" "$T/err" > "$T/both"
    [ -s "$T/err" ] || fail "$cc_what: no error message"
    grep -qF "$MARK" "$T/both" &&
        { cat "$T/both" >&2; fail "$cc_what: the message shows text from the input"; }
    expect_rc "$cc_want" "$cc_what (--sendmail)" pansend --sendmail "$T/capture" < "$cc_file"
    [ -e "$T/capture.out" ] && fail "$cc_what: the sendmail command was run"
    grep -qF "$MARK" "$T/out" "$T/err" &&
        fail "$cc_what: the message shows text from the input"
    return 0
}

# A garbage line among the header fields.
printf '%s\n' \
    "From: Malformed <reports@panmail.test>" \
    "To: $A" \
    "Subject: subject $MARK" \
    "this line is no header field $MARK" \
    "X-Note: $MARK" \
    "" \
    "body $MARK" > "$T/garbage"
check_case 65 "a garbage header line" "$T/garbage"

# A header field name with a space in it.
printf '%s\n' \
    "From: Malformed <reports@panmail.test>" \
    "To: $A" \
    "Bad Name$MARK: value $MARK" \
    "" \
    "body $MARK" > "$T/badname"
check_case 65 "a header field name with a space" "$T/badname"

# A NUL byte in a header field.
{
    printf 'From: Malformed <reports@panmail.test>\n'
    printf 'To: %s\n' "$A"
    printf 'Subject: sub\000ject %s\n' "$MARK"
    printf '\nbody %s\n' "$MARK"
} > "$T/nul"
[ "$(tr -d '\000' < "$T/nul" | wc -c)" -lt "$(wc -c < "$T/nul")" ] ||
    fail "could not write a NUL byte into the test message"
check_case 65 "a NUL byte in the header" "$T/nul"

# No recipient at all.
printf '%s\n' \
    "From: Malformed <reports@panmail.test>" \
    "Subject: subject $MARK" \
    "" \
    "body $MARK" > "$T/norcpt"
check_case 64 "no recipients" "$T/norcpt"

# Only an empty group.
printf '%s\n' \
    "From: Malformed <reports@panmail.test>" \
    "To: undisclosed-recipients:;" \
    "Subject: subject $MARK" \
    "" \
    "body $MARK" > "$T/emptygroup"
check_case 64 "only an empty group as recipients" "$T/emptygroup"

# Nothing was delivered, and the input is not written in the home.
assert_no_new_mail "malformed input" "$A" "$s_A"
mail_queue_empty "^${TAG}malformed-" || fail "mail for malformed-* is in the Postfix queue"
grep -rqF "$MARK" "$PANMAIL_HOME" && fail "text of a refused message is in $PANMAIL_HOME"
pass "nothing sent, nothing of the input kept"

# An already encrypted message is refused (documented in pansend(1)).
printf 'From: ops@example.test\nTo: x@example.test\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=b\n\n--b--\n' |
    expect_rc 65 "an already encrypted message" pansend
grep -q 'already encrypted' "$T/err" || fail "the refusal does not say why"
pass "an already encrypted message is refused"
