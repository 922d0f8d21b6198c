#!/bin/sh
# smime-lib.sh - the S/MIME library (lib/smime.c) through its test driver
# tests/unit/t-smime: trusting a CA, enrolling certificates (good and
# bad), revocation checking, and encryption that OpenSSL and gpgsm
# decrypt.  The pansend/pankey round trips are in other tests.
# shellcheck disable=SC1091
. "${top_srcdir:-.}/tests/integration/lib.sh"

TSMIME=${T_SMIME:-$top_builddir/tests/unit/t-smime}
[ -x "$TSMIME" ] || fail "$TSMIME is not built (run make first)"
command -v openssl >/dev/null || fail "openssl is missing (scripts/install-deps.sh)"

# The test PKI (scripts/make-test-ca.sh) is a shared fixture, made once
# per run; its addresses start with $TAG.
P=$(fixture pki) || exit 1
H=$PANMAIL_HOME
sha1() { cat "$P/$1.sha1"; }
sha256() { cat "$P/$1.sha256"; }
tsmime() { "$TSMIME" "$H" "$@"; }

# conf MODE: set smime-revocation-check in panmail.conf.
conf() {
    grep -v '^smime-revocation-check' "$H/panmail.conf" > "$T/conf.new"
    echo "smime-revocation-check $1" >> "$T/conf.new"
    cat "$T/conf.new" > "$H/panmail.conf"
}

"$TSMIME" || fail "unit tests of t-smime"
tsmime init >/dev/null || fail "init"
conf off

# ---------------------------------------------------------------- trust-ca
expect_rc 1 "a self-signed non-CA is not trusted" \
    tsmime trust-ca "$(sha1 notca)" "$P/notca.pem"
grep -q "not a CA\|as a root CA" "$T/err" || fail "reason for notca: $(cat "$T/err")"
expect_rc 1 "a CA pinned by another fingerprint is not trusted" \
    tsmime trust-ca "$(sha256 rogue-ca)" "$P/ca.pem"
expect_rc 1 "an intermediate is not taken as a root" \
    tsmime trust-ca "$(sha1 inter)" "$P/inter.pem"
[ ! -s "$H/gnupg/trustlist.txt" ] || fail "a refused CA reached trustlist.txt"
expect_rc 0 "trust the CA (DER) by SHA-256" \
    tsmime trust-ca "$(sha256 ca)" "$P/ca.der"
[ "$(cat "$T/out")" = "$(sha1 ca)" ] || fail "trust-ca did not return the SHA-1"
expect_rc 0 "trusting it again (PEM, SHA-1 with colons) is fine" \
    tsmime trust-ca "$(sed 's/../&:/g; s/:$//' "$P/ca.sha1")" "$P/ca.pem"
[ "$(grep -c "^$(sha1 ca) S$" "$H/gnupg/trustlist.txt")" = 1 ] ||
    fail "trustlist.txt does not list the CA exactly once"
expect_rc 0 "list the trusted CAs" tsmime list-cas
grep -q "^$(sha1 ca) $(sha256 ca) .*CN=panmail Test CA" "$T/out" ||
    fail "list-cas: $(cat "$T/out")"
grep -q '^cipher-algo AES256$' "$H/gnupg/gpgsm.conf" || fail "gpgsm.conf"

# ---------------------------------------------------------------- enroll
expect_rc 0 "enroll alice by SHA-256" \
    tsmime enroll "${TAG}alice@example.test" "$(sha256 valid)" "$P/valid.pem"
[ "$(cat "$T/out")" = "$(sha1 valid)" ] || fail "enroll did not return the SHA-1"
expect_rc 1 "a certificate for alice is not enrolled for bob" \
    tsmime enroll "${TAG}bob@example.test" "$(sha1 valid)" "$P/valid.pem"
grep -q "not issued to ${TAG}bob@example.test" "$T/err" || fail "reason: $(cat "$T/err")"
expect_rc 1 "an expired certificate is refused" \
    tsmime enroll "${TAG}dave@example.test" "$(sha1 expired)" "$P/expired.pem"
grep -q "expired" "$T/err" || fail "reason: $(cat "$T/err")"
expect_rc 1 "a certificate without keyEncipherment is refused" \
    tsmime enroll "${TAG}erin@example.test" "$(sha1 noenc)" "$P/noenc.pem"
grep -q "keyEncipherment" "$T/err" || fail "reason: $(cat "$T/err")"
cat "$P/untrusted.pem" "$P/rogue-ca.pem" > "$T/rogue-bundle.pem"
expect_rc 1 "a certificate of an untrusted CA is refused" \
    tsmime enroll "${TAG}mallory@example.test" "$(sha1 untrusted)" "$T/rogue-bundle.pem"
grep -q "does not chain to a CA trusted" "$T/err" || fail "reason: $(cat "$T/err")"
if gpgsm --homedir "$H/gnupg" --batch --with-colons --list-keys 2>/dev/null |
        grep -q -e "$(sha1 untrusted)" -e "$(sha1 rogue-ca)"; then
    fail "a refused certificate stayed in the keybox"
fi
expect_rc 1 "carol without her intermediate CA is refused" \
    tsmime enroll "${TAG}carol@example.test" "$(sha1 chain)" "$P/chain.pem"
expect_rc 0 "carol with her chain as PKCS#7 (subjectAltName only)" \
    tsmime enroll "${TAG}carol@example.test" "$(sha256 chain)" "$P/chain-bundle.p7b"
expect_rc 0 "carol again with her chain as a PEM bundle" \
    tsmime enroll "${TAG}carol@example.test" "$(sha1 chain)" "$P/chain-bundle.pem"
cat "$P/valid.pem" "$P/valid.key" > "$T/with-key.pem"
expect_rc 1 "a file with a private key is refused" \
    tsmime enroll "${TAG}alice@example.test" "$(sha1 valid)" "$T/with-key.pem"
expect_rc 1 "a key ID is not a pin" \
    tsmime enroll "${TAG}alice@example.test" "$(sha1 valid | cut -c25-)" "$P/valid.pem"
expect_rc 0 "trent enrolls while revocation checks are off" \
    tsmime enroll "${TAG}trent@example.test" "$(sha1 revoked)" "$P/revoked.pem"

# ---------------------------------------------------------------- check
expect_rc 0 "alice's certificate checks" tsmime check "$(sha1 valid)"
T_SMIME_NOW=$(date -d '+2 years' +%s) expect_rc 1 \
    "in two years it has expired" tsmime check "$(sha1 valid)"
grep -q "expired" "$T/err" || fail "reason: $(cat "$T/err")"
expect_rc 1 "an unknown certificate fails the check" tsmime check "$(sha1 noenc)"

conf crl
expect_rc 1 "crl: no CRL can be had, so the answer is no" \
    tsmime check "$(sha1 valid)"
grep -q "revocation status cannot be established" "$T/err" ||
    fail "reason: $(cat "$T/err")"
gpgsm --homedir "$H/gnupg" --batch --call-dirmngr loadcrl "$P/ca.crl" \
    >/dev/null 2>&1 || fail "loadcrl"
expect_rc 0 "crl: with the CRL loaded alice checks" tsmime check "$(sha1 valid)"
expect_rc 1 "crl: trent is revoked" tsmime check "$(sha1 revoked)"
grep -q "revoked" "$T/err" || fail "reason: $(cat "$T/err")"
expect_rc 1 "crl: nothing is encrypted to a revoked certificate" \
    tsmime encrypt "$(sha1 valid)" "$(sha1 revoked)" </dev/null
conf off

# ---------------------------------------------------------------- encrypt
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nh\303\251llo 4111 1111 1111 1111\r\n' \
    > "$T/plain"
expect_rc 0 "encrypt to alice and carol" \
    tsmime encrypt "$(sha1 valid)" "$(sha1 chain)" < "$T/plain"
mv "$T/out" "$T/msg.eml"
grep -q '^Content-Type: application/pkcs7-mime; smime-type=enveloped-data;$' \
    "$T/msg.eml" || fail "envelope head"
for who in valid chain; do
    openssl cms -decrypt -in "$T/msg.eml" -recip "$P/$who.pem" \
        -inkey "$P/$who.key" -out "$T/dec-$who" || fail "openssl cms -decrypt ($who)"
    cmp -s "$T/plain" "$T/dec-$who" || fail "openssl decrypted other bytes ($who)"
    pass "openssl cms decrypts for $who"
done
openssl cms -cmsout -print -in "$T/msg.eml" > "$T/cms.txt"
grep -q 'algorithm: aes-256-cbc' "$T/cms.txt" || fail "not AES-256"
pass "content encrypted with AES-256-CBC"

expect_rc 0 "encrypt to alice only" tsmime encrypt "$(sha1 valid)" < "$T/plain"
sed '1,/^$/d' "$T/out" > "$T/alice.b64"
S=$T/sec-smime
mkdir -m 700 "$S"
echo allow-loopback-pinentry > "$S/gpg-agent.conf"
gpgsm_import_p12 "$S" "$P/valid.p12"
echo test | gpgsm --homedir "$S" --batch --pinentry-mode loopback \
    --passphrase-fd 0 --assume-base64 -d "$T/alice.b64" > "$T/dec-gpgsm" 2>"$T/err" || fail "gpgsm -d: $(cat "$T/err")"
cmp -s "$T/plain" "$T/dec-gpgsm" || fail "gpgsm decrypted other bytes"
pass "gpgsm decrypts for alice"
openssl cms -decrypt -in "$T/out" -recip "$P/chain.pem" -inkey "$P/chain.key" \
    -out /dev/null 2>/dev/null && fail "carol decrypts alice's copy"
pass "carol cannot decrypt alice's copy"
exit 0
