#!/bin/sh
# smime-send.sh - S/MIME recipients end to end: pankey trust-ca and
# enroll --protocol smime (and their refusals), a message to S/MIME
# recipients through the real Postfix decrypted with OpenSSL and gpgsm,
# a mixed OpenPGP and S/MIME message sent as one copy per protocol (GPGME
# asks gpgconf for gpgsm; for an OpenPGP-only message it does not, and a
# gpg older than 2.2 first in PATH is refused), and revocation checking
# that fails closed.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools
need_postfix

# The test PKI (scripts/make-test-ca.sh) is a shared fixture, made once
# per run; its addresses start with $TAG.
P=$(fixture pki) || exit 1
fp () { cat "$P/$1.$2"; }

init_home; pass "init (audit key kept)"
# No CRL server here: the main path runs with checking off; the end of
# this test turns it on and shows that it fails closed.
echo "smime-revocation-check off" >> "$PANMAIL_HOME/panmail.conf"

expect_rc 0 "trust-ca by SHA-256" \
    pankey trust-ca --fingerprint "$(fp ca sha256)" --file "$P/ca.pem"
# A CA trusted and no S/MIME enrollment yet: the home uses S/MIME, so
# pankey list asks gpgsm about the CA (GPGME finds gpgsm through
# gpgconf --list-components).
ca_wrap=$(log_gpgconf_runs "$T/ca-runs.log")
PATH="$ca_wrap:$PATH" "$PANKEY" list > "$T/list"
grep -q "$(fp ca sha1)" "$T/list" || fail "pankey list does not show the CA"
grep -qx "gpgconf --list-components" "$T/ca-runs.log" ||
    fail "pankey list of a home with a trusted CA did not look for gpgsm: $(tr '\n' ';' < "$T/ca-runs.log")"
pankey trust-ca --fingerprint "$(fp notca sha1)" --file "$P/notca.pem" \
    >/dev/null 2>&1 && fail "a certificate that is not a CA was trusted"
pass "trust-ca: the CA is trusted and listed; a non-CA is refused"

A=${TAG}alice@example.test C=${TAG}carol@example.test

# pankey inspect: the fingerprints as OpenSSL prints them, the address,
# the verdict; a PKCS#7 bundle shows each certificate (the intermediate
# CA is not for enroll), an expired one is refused.
ossl_fpr () { openssl x509 -in "$P/$1.pem" -noout -fingerprint "-$2" | sed 's/^.*=//'; }
expect_rc 0 "inspect a PEM certificate" pankey inspect --file "$P/valid.pem"
if ! grep -qF "SHA-1        $(ossl_fpr valid sha1)" "$T/out" ||
    ! grep -qF "SHA-256      $(ossl_fpr valid sha256)" "$T/out" ||
    ! grep -qF "address      $A" "$T/out" || ! grep -q "enroll .*accepted" "$T/out"; then
    cat "$T/out" >&2
    fail "inspect: not the fingerprints OpenSSL prints, or not $A"
fi
expect_rc 0 "inspect --json a PKCS#7 bundle" \
    pankey inspect --json --file "$P/chain-bundle.p7b"
jq -e -s --arg s1 "$(ossl_fpr chain sha1)" --arg s256 "$(ossl_fpr chain sha256)" \
    --arg c "$C" --arg i "$(ossl_fpr inter sha1)" '
    length == 2 and all(.[]; .v == 1 and .protocol == "smime")
    and (map(select(.sha1_openssl == $s1))[0]
         | .sha256_openssl == $s256 and .accepted and (.addresses | index($c)))
    and (map(select(.sha1_openssl == $i))[0]
         | (.accepted | not) and (.refusal | test("CA certificate")))' \
    "$T/out" >/dev/null || { cat "$T/out" >&2; fail "inspect --json of the bundle"; }
expect_rc 0 "inspect an expired certificate" pankey inspect --file "$P/expired.pem"
grep -q "enroll .*refused: .*expired" "$T/out" ||
    { cat "$T/out" >&2; fail "inspect does not say the expired certificate is refused"; }
pass "inspect: OpenSSL's fingerprints, addresses and enroll's verdict of each certificate"

# The SHA-256 as OpenSSL prints it (colons) is a fingerprint enroll takes.
expect_rc 0 "enroll alice (S/MIME, SHA-256 pin as OpenSSL prints it)" pankey enroll "$A" \
    --protocol smime --fingerprint "$(ossl_fpr valid sha256)" --file "$P/valid.pem"
pankey show "$A" --json | jq -e --arg f "$(fp valid sha1)" \
    '.protocol == "smime" and .fingerprint == $f' >/dev/null ||
    fail "the registry does not pin alice's certificate by its SHA-1"
expect_rc 0 "enroll carol with her chain" pankey enroll "$C" \
    --protocol smime --fingerprint "$(fp chain sha1)" --file "$P/chain-bundle.pem"
for x in "dave expired" "erin noenc" "mallory untrusted"; do
    # shellcheck disable=SC2086  # split into its words on purpose
    set -- $x
    pankey enroll "$TAG$1@example.test" --protocol smime \
        --fingerprint "$(fp "$2" sha1)" --file "$P/$2.pem" >/dev/null 2>&1 &&
        fail "the $2 certificate was enrolled"
done
pass "S/MIME enroll: pinned certificates; expired, no-encryption and untrusted refused"

G=${TAG}smime-send-pgp@example.test
fg=$(make_key Pgp "$G")
export_key "$fg" "$T/g.asc"
expect_rc 0 "enroll an OpenPGP recipient" \
    pankey enroll "$G" --fingerprint "$fg" --file "$T/g.asc"

BODY="smime body $(new_marker)"
printf 'From: ops@example.test\nTo: %s\nCc: %s\nSubject: s\n\n%s\nline two\n' \
    "$A" "$G" "$BODY" > "$T/mixed"
printf 'From: ops@example.test\nTo: %s, %s\nSubject: s\n\n%s\nline two\n' \
    "$A" "$C" "$BODY" > "$T/smime"
printf '%s\nline two\n' "$BODY" > "$T/body"

# smime_decrypt FILE NAME OUT: decrypt FILE with OpenSSL as NAME.
smime_decrypt () {
    openssl cms -decrypt -in "$1" -recip "$P/$2.pem" -inkey "$P/$2.key" \
        -out "$3" 2>"$T/openssl.err"
}

# ------------------------------------------------------------ S/MIME only
sa=$(mbox_size "$A") sc=$(mbox_size "$C")
expect_rc 0 "send to two S/MIME recipients" pansend < "$T/smime"
wait_for_mail "$A" "$sa"; wait_for_mail "$C" "$sc"
last_message "$A" "$T/a.eml"
grep -qi '^Content-Type: application/pkcs7-mime' "$T/a.eml" ||
    fail "the message is not application/pkcs7-mime"
grep -q 'smime-type=enveloped-data' "$T/a.eml" || fail "no smime-type=enveloped-data"
grep -qF "$BODY" "$T/a.eml" && fail "the body is readable in the delivered message"
smime_decrypt "$T/a.eml" valid "$T/a.dec" ||
    { cat "$T/openssl.err" >&2; fail "OpenSSL cannot decrypt alice's message"; }
entity_body "$T/a.dec" "$T/a.body"
same_text "$T/body" "$T/a.body" || fail "alice's decrypted body differs"
openssl cms -cmsout -print -in "$T/a.eml" 2>/dev/null | grep -qi 'aes-256' ||
    fail "the content is not encrypted with AES-256"
last_message "$C" "$T/c.eml"
smime_decrypt "$T/c.eml" chain "$T/c.dec" || fail "OpenSSL cannot decrypt carol's"
pass "S/MIME: enveloped-data (AES-256) that OpenSSL decrypts for each recipient"


# ------------------------------------------------------------ mixed
expect_rc 0 "dry run -v of a mixed message" pansend --dry-run -v < "$T/mixed"
{ grep -q "$A: smime key $(fp valid sha1)" "$T/err" &&
    grep -q "$G: openpgp key $fg" "$T/err" &&
    grep -q "copy 1 of 2 (smime): $A" "$T/err" &&
    grep -q "copy 2 of 2 (openpgp): $G" "$T/err"; } ||
    { cat "$T/err" >&2; fail "--dry-run -v does not tell protocols, keys and copies"; }
pass "--dry-run -v: each recipient's protocol and key, one copy per protocol"

# GPGME finds gpgconf in PATH: this one logs each run.
wrap=$(log_gpgconf_runs "$T/gpgconf.log")

sa=$(mbox_size "$A") sg=$(mbox_size "$G")
expect_rc 0 "send a mixed message" env PATH="$wrap:$PATH" "$PANSEND" < "$T/mixed"
grep -qx -- "gpgconf --list-dirs" "$T/gpgconf.log" ||
    fail "GPGME did not ask gpgconf for gpgsm on a mixed send"
wait_for_mail "$G" "$sg"
# Other tests of the run mail alice too: count only the copies of this
# message (the one with Cc: $G), waiting for it up to 30 s.
copies_to_alice() { new_mail_count "$A" "$sa" "^Cc: $G\$"; }
i=0
while [ "$(copies_to_alice)" = 0 ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
[ "$(copies_to_alice)" = 1 ] || fail "alice got $(copies_to_alice) copies of the mixed message, not 1"
last_message "$A" "$T/ma.eml" "^Cc: $G\$"; last_message "$G" "$T/mg.eml"
{ [ "$(header_value "$T/ma.eml" cc)" = "$G" ] &&
    [ "$(header_value "$T/mg.eml" to)" = "$A" ]; } ||
    fail "the copies do not carry the same visible headers"
smime_decrypt "$T/ma.eml" valid "$T/ma.dec" || fail "alice cannot decrypt her copy"
decrypt_pgpmime "$T/mg.eml" "$(secret_home "$fg")" "$T/mg.dec"
{ grep -qF "$BODY" "$T/ma.dec" && grep -qF "$BODY" "$T/mg.dec"; } ||
    fail "a copy lost the body"
grep -q 'BEGIN PGP MESSAGE' "$T/ma.eml" && fail "the S/MIME copy holds OpenPGP data"
smime_decrypt "$T/mg.eml" valid "$T/x" 2>/dev/null &&
    fail "alice's certificate decrypts the OpenPGP copy"
pass "mixed: one copy per protocol, each decrypts only for its own side"

# An OpenPGP-only send spares GPGME's search through gpgconf (and gpgsm):
# one "gpg --version" before the encryption, not five programs.
: > "$T/gpgconf.log"
sg=$(mbox_size "$G")
printf 'From: ops@example.test\nTo: %s\nSubject: s\n\n%s\n' "$G" "$BODY" > "$T/pgp"
expect_rc 0 "send to the OpenPGP recipient alone" \
    env PATH="$wrap:$PATH" "$PANSEND" < "$T/pgp"
[ -s "$T/gpgconf.log" ] &&
    fail "an OpenPGP-only send ran gpgconf: $(tr '\n' ';' < "$T/gpgconf.log")"
wait_for_mail "$G" "$sg"
last_message "$G" "$T/pg.eml"
decrypt_pgpmime "$T/pg.eml" "$(secret_home "$fg")" "$T/pg.dec"
grep -qF "$BODY" "$T/pg.dec" || fail "the OpenPGP-only copy lost the body"
pass "OpenPGP only: GPGME does not run gpgconf; the copy decrypts"

# GPGME then takes the first gpg in PATH: one older than GnuPG 2.2 is
# refused (78), and nothing is sent.
mkdir -p "$T/old"
cat > "$T/old/gpg" <<'EOF'
#!/bin/sh
[ "$1" = --version ] && { echo "gpg (GnuPG) 1.4.23"; exit 0; }
exec /usr/bin/gpg "$@"
EOF
chmod 755 "$T/old/gpg"
sg=$(mbox_size "$G")
expect_rc 78 "an OpenPGP-only send with a GnuPG 1.4 first in PATH" \
    env PATH="$T/old:$PATH" "$PANSEND" < "$T/pgp"
grep -q "older than 2.2" "$T/err" || fail "the refusal does not say why: $(cat "$T/err")"
sleep 2
[ "$(mbox_size "$G")" = "$sg" ] || fail "a copy was sent with GnuPG 1.4 in PATH"
pass "OpenPGP only: a gpg older than 2.2 first in PATH is refused, nothing sent"

# gpgsm exits 2 on a message also encrypted to a certificate it does
# not have; alice's copy of the mixed message is encrypted to her alone.
S=$T/sec-smime
mkdir -m 700 "$S"
echo allow-loopback-pinentry > "$S/gpg-agent.conf"
gpgsm_import_p12 "$S" "$P/valid.p12"
sed '1,/^$/d' "$T/ma.eml" > "$T/a.b64"
echo test | gpgsm --homedir "$S" --batch --pinentry-mode loopback \
    --passphrase-fd 0 --assume-base64 -d "$T/a.b64" > "$T/a.gpgsm" 2>"$T/err" ||
    { cat "$T/err" >&2; fail "gpgsm cannot decrypt alice's message"; }
entity_body "$T/a.gpgsm" "$T/a.gbody"
same_text "$T/body" "$T/a.gbody" || fail "gpgsm decrypted another body"
gpgconf --homedir "$S" --kill all 2>/dev/null || true
pass "gpgsm decrypts alice's copy to the original body"

# ------------------------------------------------------------ signing
# The sender's S/MIME certificate and key (alice's, from the test PKI)
# in the home; its passphrase is preset in gpg-agent by the operator
# (GPGME takes no passphrase callback for gpgsm).
printf 'allow-loopback-pinentry\nallow-preset-passphrase\n' \
    > "$PANMAIL_HOME/gnupg/gpg-agent.conf"
gpgconf --homedir "$PANMAIL_HOME/gnupg" --kill gpg-agent 2>/dev/null || true
gpgsm_import_p12 "$PANMAIL_HOME/gnupg" "$P/valid.p12"
echo "smime-signing-cert $(fp valid sha1)" >> "$PANMAIL_HOME/panmail.conf"
printf 'From: %s\nTo: %s\nSubject: signed\n\n%s\n' "$A" "$C" "$BODY" > "$T/signed"
sc=$(mbox_size "$C")
expect_rc 77 "S/MIME signing without the passphrase in gpg-agent" \
    pansend < "$T/signed"
assert_no_new_mail "S/MIME signing failed" "$C" "$sc"
grip=$(gpgsm --homedir "$PANMAIL_HOME/gnupg" --with-keygrip --list-secret-keys \
        "$(fp valid sha1)" 2>/dev/null | awk '/keygrip:/ { print $2; exit }')
[ -n "$grip" ] || fail "no keygrip for the signing key"
GNUPGHOME=$PANMAIL_HOME/gnupg /usr/lib/gnupg/gpg-preset-passphrase --preset \
    -P test "$grip" || fail "cannot preset the passphrase"
sc=$(mbox_size "$C")
expect_rc 0 "signed S/MIME send" pansend < "$T/signed"
wait_for_mail "$C" "$sc"
last_message "$C" "$T/s.eml"
smime_decrypt "$T/s.eml" chain "$T/s.dec" || fail "carol cannot decrypt the signed message"
grep -qi 'smime-type=signed-data' "$T/s.dec" || fail "the decrypted entity is not signed-data"
openssl cms -verify -in "$T/s.dec" -CAfile "$P/ca.pem" -out "$T/s.content" \
    2>"$T/verify.err" || { cat "$T/verify.err" >&2; fail "the S/MIME signature does not verify"; }
grep -qF "$BODY" "$T/s.content" || fail "the signed content lost the body"
sed -i '/^smime-signing-cert /d' "$PANMAIL_HOME/panmail.conf"
pass "S/MIME signed then enveloped: OpenSSL decrypts and verifies the signature"

# ------------------------------------------------------------ check, inventory
expect_rc 0 "pankey check with valid certificates and CA" pankey check
grep -q "PANKEY OK" "$T/out" || { cat "$T/out" >&2; fail "pankey check is not OK"; }
panaudit keys --json | jq -e -s --arg f "$(fp valid sha1)" \
    'any(.[]; .protocol == "smime" and .fingerprint == $f)' >/dev/null ||
    fail "panaudit keys does not list alice's certificate"
pass "pankey check and panaudit keys cover S/MIME certificates and CAs"

# ------------------------------------------------------------ revocation
sed -i '/^smime-revocation-check /d' "$PANMAIL_HOME/panmail.conf"
expect_rc 2 "pankey check when revocation cannot be checked" pankey check
grep -q "CRITICAL $A" "$T/out" || { cat "$T/out" >&2; fail "no critical finding for alice"; }
sa=$(mbox_size "$A")
expect_rc 77 "revocation checking on, no CRL to be had" pansend < "$T/smime"
assert_no_new_mail "revocation status unknown" "$A" "$sa"
pass "revocation checking that cannot be done refuses (fail closed)"
