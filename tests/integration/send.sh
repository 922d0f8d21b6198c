#!/bin/sh
# send.sh - the acceptance case: pansend encrypts one message to every
# enrolled recipient (To, a Cc group, Bcc, the command line) and the real
# Postfix delivers RFC 3156 PGP/MIME that each recipient's key decrypts.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
need_postfix

A=${TAG}send-alice@example.test
B=${TAG}send-bob@example.test
C=${TAG}send-carol@example.test
D=${TAG}send-dave@example.test
E=${TAG}send-erin@example.test
MARK=$(new_marker)      # in headers
BODY=$(new_marker)      # in the body only: must never be readable

init_home; pass "init (audit key kept)"

fa=$(make_key "Alice Send" "$A")
fb=$(make_key_two_enc "Bob Send" "$B")
fc=$(make_key "Carol Send" "$C")
fd=$(make_key "Dave Send" "$D")
fe=$(make_key "Erin Send" "$E")
for r in "$A:$fa" "$B:$fb" "$C:$fc" "$D:$fd" "$E:$fe"; do
    addr=${r%%:*} fpr=${r#*:}
    export_key "$fpr" "$T/key.asc"
    pankey enroll "$addr" --fingerprint "$fpr" --file "$T/key.asc" \
        --operator send-test >"$T/out" 2>"$T/err" ||
        { cat "$T/err" >&2; fail "enrolling $addr failed"; }
done
pass "five recipients enrolled"

# ------------------------------------------------------------------ message

# A UTF-8 body with long lines, a line that starts with "From ", a lone
# dot, trailing white space and a tab.  No digit runs (no PAN look-alike).
long=$(awk 'BEGIN { for (i = 0; i < 60; i++) printf "Grüße aus Köln, %s; ", "naïve café" }')
printf '%s\n' \
    "Report $MARK" \
    "" \
    "Zeile mit Umlauten: äöü ÄÖÜ ß, and € and 日本語 and emoji 🙂." \
    "$long" \
    "From the start of a line, $BODY" \
    "." \
    "trailing white space   " \
    "	tab indented line" \
    "$(awk 'BEGIN { for (i = 0; i < 30; i++) printf "%s", "x-y-z-" }') $BODY" \
    "last line" > "$T/body"

# make_message FILE: the test message (LF line ends) with body $T/body.
make_message() {
    {
        printf '%s\n' \
            "From: Send Test <reports@panmail.test>" \
            "To: \"Smith, Alice\" <$A>" \
            "Cc: Team: ${B%@*}@Example.TEST, (comment) $C;" \
            "Bcc: $D" \
            "Subject: acceptance $MARK" \
            "Date: Mon, 02 Mar 2026 10:00:00 +0000" \
            "Message-ID: <$MARK@panmail.test>" \
            "MIME-Version: 1.0" \
            "Content-Type: text/plain; charset=utf-8" \
            "Content-Transfer-Encoding: 8bit" \
            ""
        cat "$T/body"
    } > "$1"
}
make_message "$T/msg.lf"
awk '{ printf "%s\r\n", $0 }' "$T/msg.lf" > "$T/msg.crlf"

# check_delivered ADDR FPR OLDSIZE WHAT: ADDR got one new message since
# OLDSIZE; it is PGP/MIME, holds no plaintext and no Bcc, and FPR's secret
# key (alone) decrypts it to the original body.
check_delivered() {
    cd_addr=$1 cd_fpr=$2 cd_old=$3 cd_what=$4
    wait_for_mail "$cd_addr" "$cd_old"
    n=$(new_mail_count "$cd_addr" "$cd_old")
    [ "$n" -eq 1 ] || fail "$cd_what: $cd_addr got $n messages, expected 1"
    last_message "$cd_addr" "$T/got"
    check_message "$T/got" "$cd_fpr" "$cd_what: $cd_addr"
}

# check_message FILE FPR WHAT: FILE is PGP/MIME for FPR, without plaintext
# or Bcc, and decrypts to the original body.
check_message() {
    cm_file=$1 cm_fpr=$2 cm_what=$3
    grep -qF "$BODY" "$cm_file" &&
        fail "$cm_what: the body text is readable in the delivered message"
    header_names "$cm_file" | grep -qx bcc &&
        fail "$cm_what: the delivered message has a Bcc header"
    decrypt_pgpmime "$cm_file" "$(secret_home "$cm_fpr")" "$T/dec"
    header_names "$T/dec" | grep -qx bcc &&
        fail "$cm_what: the encrypted entity has a Bcc header"
    grep -qiF "$D" "$T/dec" &&
        fail "$cm_what: the Bcc recipient is named inside the encrypted entity"
    entity_body "$T/dec" "$T/dec.body"
    same_text "$T/body" "$T/dec.body" || {
        diff "$T/same.a" "$T/same.b" >&2 || true
        fail "$cm_what: the decrypted body differs from the original"
    }
    pass "$cm_what: PGP/MIME, decrypts with its own key to the original body"
}

# snap: remember the size of each mailbox.
snap() {
    s_A=$(mbox_size "$A") s_B=$(mbox_size "$B") s_C=$(mbox_size "$C")
    s_D=$(mbox_size "$D") s_E=$(mbox_size "$E")
}

# ------------------------------------------------------------------ dry run

make_capture capture >/dev/null
snap
expect_rc 0 "--dry-run" pansend --dry-run --sendmail "$T/capture" < "$T/msg.lf"
[ -e "$T/capture.out" ] && fail "--dry-run ran the sendmail command"
expect_rc 0 "--dry-run with the default sendmail" pansend --dry-run < "$T/msg.lf"
assert_no_new_mail "--dry-run" "$A" "$s_A" "$D" "$s_D"
pass "--dry-run sends nothing"

# ------------------------------------------------------------------ the real send

snap
expect_rc 0 "send through Postfix (-v)" pansend -v < "$T/msg.lf"
cat "$T/out" "$T/err" > "$T/verbose"
for f in "$fa" "$fb" "$fc" "$fd"; do
    tr -d ' ' < "$T/verbose" | grep -qi "$f" ||
        { cat "$T/verbose" >&2; fail "-v does not name the fingerprint $f"; }
done
grep -qF "$BODY" "$T/verbose" && fail "-v output shows the body text"
pass "-v names each recipient's fingerprint"

check_delivered "$A" "$fa" "$s_A" "To"
check_delivered "$B" "$fb" "$s_B" "Cc group (mixed-case domain, two encryption subkeys)"
check_delivered "$C" "$fc" "$s_C" "Cc group after a comment"
check_delivered "$D" "$fd" "$s_D" "Bcc"
assert_no_new_mail "send without $E" "$E" "$s_E"

# ------------------------------------------------------------------ CRLF, address on the command line

snap
# -t: the headers' recipients plus the arguments, as Postfix's sendmail
# (without -t only the arguments: tests/integration/dropin.sh).
# The address on the command line is spelt in capitals: the local part
# matches ignoring case (address-case insensitive, the default).
expect_rc 0 "send a CRLF message with -t and an extra address on the command line" \
    pansend -t "$(upper "$E")" < "$T/msg.crlf"
grep -qF "$BODY" "$T/out" "$T/err" && fail "pansend printed the body text"
check_delivered "$A" "$fa" "$s_A" "CRLF: To"
check_delivered "$B" "$fb" "$s_B" "CRLF: Cc"
check_delivered "$C" "$fc" "$s_C" "CRLF: Cc"
check_delivered "$D" "$fd" "$s_D" "CRLF: Bcc"
check_delivered "$E" "$fe" "$s_E" "CRLF: command-line address in capitals"

# ------------------------------------------------------------------ --sendmail override

# The capture script keeps every invocation: one per copy (the visible
# recipients' copy, and one for each hidden recipient).
cat > "$T/capture-all" <<CAP
#!/bin/sh
n=\$(ls "$T"/cap.*.args 2>/dev/null | wc -l)
for a in "\$@"; do printf '%s\\n' "\$a"; done > "$T/cap.\$n.args"
cat > "$T/cap.\$n.out"
CAP
chmod 755 "$T/capture-all"
expect_rc 0 "--sendmail with a capture script" \
    pansend --sendmail "$T/capture-all -f reports@panmail.test" < "$T/msg.lf"
[ -f "$T/cap.0.out" ] || fail "--sendmail command was not run"
# The -f of the command is the envelope sender, given once, after -i.
for f in "$T"/cap.*.args; do
    if [ "$(sed -n 1,3p "$f" | tr '\n' ' ')" != "-i -f reports@panmail.test " ] ||
        [ "$(grep -c '^-f$' "$f")" != 1 ]; then
        cat "$f" >&2
        fail "--sendmail: the MTA was not run as CMD -i -f SENDER ... --"
    fi
done
for a in "$A" "$B" "$C" "$D"; do
    cat "$T"/cap.*.args | grep -qixF "$a" ||
        fail "--sendmail: $a is not among the recipients given to the MTA"
done
vis=$(grep -lixF "$A" "$T"/cap.*.args); vis=${vis%.args}.out
bcc=$(grep -lixF "$D" "$T"/cap.*.args); bcc=${bcc%.args}.out
[ "$vis" != "$bcc" ] || fail "the Bcc recipient shares the visible copy"
grep -qixF "$D" "${vis%.out}.args" && fail "the visible copy goes to the Bcc recipient"
check_message "$vis" "$fa" "--sendmail capture"
check_message "$bcc" "$fd" "--sendmail capture (Bcc copy)"
pass "--sendmail override works"
