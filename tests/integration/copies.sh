#!/bin/sh
# copies.sh - Bcc recipients get copies of their own and stay hidden,
# headers are protected, messages are signed and encrypted, mailx-style
# sending with attachments: all through the real Postfix and decrypted
# by each recipient.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools
need_postfix

init_home; pass "init (audit key kept)"
A=${TAG}copies-alice@example.test B=${TAG}copies-bob@example.test C=${TAG}copies-carol@example.test
fa=$(make_key Alice "$A"); fb=$(make_key Bob "$B"); fc=$(make_key Carol "$C")
for x in "a $A $fa" "b $B $fb" "c $C $fc"; do
    # shellcheck disable=SC2086  # split into its words on purpose
    set -- $x
    export_key "$3" "$T/$1.asc"
    expect_rc 0 "enroll $2" pankey enroll "$2" --fingerprint "$3" --file "$T/$1.asc"
done

# subkeys FPR: the key IDs of FPR's encryption subkeys.
subkeys () {
    kgpg --with-colons --list-keys "$1" | awk -F: '$1 == "sub" && $12 ~ /e/ { print $5 }'
}
# keyids FILE: the key IDs a delivered PGP/MIME message is encrypted to.
keyids () {
    mkdir -p "$T/empty"; chmod 700 "$T/empty"
    gpg --homedir "$T/empty" --batch --list-packets "$1" 2>/dev/null |
        sed -n 's/.*:pubkey enc packet:.* keyid \([0-9A-F]*\).*/\1/p' | sort
}

SUBJ="quarterly chargebacks $(new_marker)"
BODY="body $(new_marker)"
printf 'From: ops@example.test\nTo: %s\nCc: %s\nBcc: %s\nSubject: %s\n\n%s\n' \
    "$A" "$B" "$C" "$SUBJ" "$BODY" > "$T/msg"

# ------------------------------------------------------------ dry run
expect_rc 0 "dry run -v" pansend --dry-run -v < "$T/msg"
{ grep -q "copy 1 of 2 (openpgp): $A $B" "$T/err" &&
    grep -q "copy 2 of 2 (openpgp, hidden recipient): $C" "$T/err"; } ||
    { cat "$T/err" >&2; fail "--dry-run -v does not tell the copies"; }
grep -q "$A: openpgp key $fa" "$T/err" || fail "-v does not tell A's key"
pass "--dry-run -v tells each recipient's key and the copies"

# ------------------------------------------------------------ Bcc copies
sa=$(mbox_size "$A") sb=$(mbox_size "$B") sc=$(mbox_size "$C")
expect_rc 0 "send To, Cc and Bcc" pansend < "$T/msg"
for x in "$A $sa" "$B $sb" "$C $sc"; do
    # shellcheck disable=SC2086  # split into its words on purpose
    set -- $x; wait_for_mail "$1" "$2"
done
last_message "$A" "$T/a.eml"; last_message "$C" "$T/c.eml"
grep -qi '^bcc:' "$T/a.eml" "$T/c.eml" && fail "a delivered copy has a Bcc header"
grep -qF "$C" "$T/a.eml" && fail "the visible copy names the Bcc recipient"
decrypt_pgpmime "$T/a.eml" "$(secret_home "$fa")" "$T/a.dec"
got=$(keyids "$T/pgpmime.asc" | tr '\n' ' ')
want=$({ subkeys "$fa"; subkeys "$fb"; } | sort | tr '\n' ' ')
[ "$got" = "$want" ] ||
    fail "the visible copy is encrypted to [$got], expected only [$want]"
for k in $(subkeys "$fc"); do
    case " $got " in *" $k "*) fail "the visible copy names the Bcc key $k" ;; esac
done
decrypt_pgpmime "$T/c.eml" "$(secret_home "$fc")" "$T/c.dec"
got=$(keyids "$T/pgpmime.asc" | tr '\n' ' ')
[ "$got" = "$(subkeys "$fc" | tr '\n' ' ')" ] ||
    fail "the Bcc copy is encrypted to [$got], not only to the Bcc key"
gpg --homedir "$(secret_home "$fa")" --batch --quiet --decrypt "$T/pgpmime.asc" \
    >/dev/null 2>&1 && fail "the visible recipient can decrypt the Bcc copy"
grep -qF "$BODY" "$T/c.dec" || fail "the Bcc copy lost the body"
pass "Bcc: own copy, own key only; visible copy holds no Bcc key ID"

# ------------------------------------------------------------ protected headers
[ "$(header_value "$T/a.eml" subject)" = "[...]" ] ||
    fail "the outer Subject is not the placeholder"
grep -qF "$SUBJ" "$T/a.eml" && fail "the real Subject travels in clear"
grep -q 'protected-headers="v1"' "$T/a.dec" ||
    fail "the inner entity is not marked protected-headers=\"v1\""
[ "$(header_value "$T/a.dec" subject)" = "$SUBJ" ] ||
    fail "the inner Subject is not the original"
[ "$(header_value "$T/a.dec" to)" = "$A" ] || fail "the inner To is missing"
pass "protected headers: outer Subject [...], inner Subject original"

# ------------------------------------------------------------ signing
S=${TAG}copies-signer@example.test
make_signing_key "$S"

printf 'wrong\n' > "$T/wrongpass"
sa=$(mbox_size "$A")
expect_rc 77 "signing with a wrong passphrase" \
    pansend --passphrase-fd 3 < "$T/msg" 3< "$T/wrongpass"
assert_no_new_mail "signing failed" "$A" "$sa"
pass "signing that fails sends nothing"

printf 'test\n' > "$T/pass"
sa=$(mbox_size "$A")
expect_rc 0 "signed send" pansend --passphrase-fd 3 < "$T/msg" 3< "$T/pass"
wait_for_mail "$A" "$sa"
last_message "$A" "$T/s.eml"
kgpg --export "$fs" > "$T/signer.pub"
gpg --homedir "$(secret_home "$fa")" --batch --quiet --import "$T/signer.pub" \
    2>/dev/null || fail "cannot import the signer's public key"
decrypt_pgpmime "$T/s.eml" "$(secret_home "$fa")" "$T/s.dec"
gpg --homedir "$(secret_home "$fa")" --batch --status-fd 1 --decrypt \
    "$T/pgpmime.asc" 2>/dev/null > "$T/status" || true
grep "^\[GNUPG:\] VALIDSIG " "$T/status" | grep -q "$fs" ||
    { cat "$T/status" >&2; fail "the signature does not verify"; }
pass "signed and encrypted; the recipient verifies the signature"
sed -i '/^signing-key /d' "$PANMAIL_HOME/panmail.conf"

# ------------------------------------------------------------ mailx-style
head -c 20000 /dev/urandom > "$T/blob.bin"
printf 'case,amount\nC-1,12.50\n' > "$T/report.csv"
sa=$(mbox_size "$A")
printf 'Chargebacks attached.\n' |
    expect_rc 0 "panmailx -s -a -a ADDR" panmailx -s "Chargebacks été" \
        -a "$T/report.csv" -a "$T/blob.bin" "$A"
wait_for_mail "$A" "$sa"
last_message "$A" "$T/m.eml"
decrypt_pgpmime "$T/m.eml" "$(secret_home "$fa")" "$T/m.dec"
"$PYTHON" - "$T/m.dec" "$T/blob.bin" "$T/report.csv" <<'PY' || fail "the attachments did not survive"
import email, sys
m = email.message_from_bytes(open(sys.argv[1], 'rb').read())
files = {p.get_filename(): p for p in m.walk() if p.get_filename()}
blob = files['blob.bin'].get_payload(decode=True)
csv = files['report.csv']
assert blob == open(sys.argv[2], 'rb').read(), 'binary attachment differs'
assert csv.get_content_type() == 'text/csv', csv.get_content_type()
assert csv.get_payload(decode=True) == open(sys.argv[3], 'rb').read()
assert str(email.header.make_header(email.header.decode_header(m['Subject']))) == 'Chargebacks été'
body = [p for p in m.walk() if p.get_content_type() == 'text/plain' and not p.get_filename()][0]
assert body.get_payload(decode=True) .replace(b'\r\n', b'\n') == 'Chargebacks attached.\n'.encode()
PY
[ -n "$(header_value "$T/m.eml" date)" ] || fail "the composed message has no Date"
[ -n "$(header_value "$T/m.eml" from)" ] || fail "the composed message has no From"
pass "mailx-style: Subject, text body and a binary attachment arrive intact"
