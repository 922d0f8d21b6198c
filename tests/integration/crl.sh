#!/bin/sh
# crl.sh - offline S/MIME revocation under the default mode (crl): an
# OpenSSL-made CA and its CRL files (scripts/make-test-ca.sh).  Without
# its CRL the CA's certificates are refused with the CA named and the
# way out; after 'pankey load-crl' they are trusted offline, and the
# certificate the CRL lists is refused at enroll and at send.
# list-crls shows what is loaded; check warns about a CRL that expires
# soon and is critical about an expired one.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools
need_postfix

P=$(fixture pki) || exit 1
fp () { cat "$P/$1.$2"; }
[ -f "$P/ca-old.crl" ] || fail "the pki fixture has no CRL files (scripts/make-test-ca.sh)"
G=$PANMAIL_HOME/gnupg
A=${TAG}alice@example.test R=${TAG}trent@example.test
CA="CN=panmail Test CA,O=panmail tests"

# no_dirmngr: no dirmngr of the home runs after a pankey command.
no_dirmngr() {
    if pgrep -a -f "dirmngr .*--homedir $G" >&2; then
        fail "$1: a dirmngr of the home outlived pankey"
    fi
}

init_home; pass "init"
grep -q '^smime-revocation-check' "$PANMAIL_HOME/panmail.conf" &&
    fail "the test needs the default revocation mode"

# ------------------------------------------------------------ no CRL yet
expect_rc 0 "trust-ca under the default mode (crl)" \
    pankey trust-ca --fingerprint "$(fp ca sha256)" --file "$P/ca.pem"
{ grep -qF "no CRL of CA \"$CA\"" "$T/err" && grep -q "pankey load-crl" "$T/err"; } ||
    { cat "$T/err" >&2; fail "trust-ca does not say that the CA's CRL is missing"; }
expect_rc 77 "enroll without the CA's CRL" pankey enroll "$A" \
    --protocol smime --fingerprint "$(fp valid sha1)" --file "$P/valid.pem"
{ grep -q "revocation status cannot be established" "$T/err" &&
    grep -qF "no CRL of CA \"$CA\"" "$T/err" &&
    grep -q "pankey load-crl FILE" "$T/err" &&
    grep -q "smime-revocation-check" "$T/err"; } ||
    { cat "$T/err" >&2; fail "the refusal does not name the CA and the way out"; }
pass "no CRL: trust-ca warns, enroll refuses naming the CA, load-crl and the mode"

# ------------------------------------------------------------ load-crl
expect_rc 65 "the CRL of a CA the home does not have" pankey load-crl "$P/rogue.crl"
grep -q "issuer CA is not in this home" "$T/err" || fail "reason: $(cat "$T/err")"
expect_rc 65 "a certificate is not a CRL" pankey load-crl "$P/ca.pem"
expect_rc 66 "a missing file" pankey load-crl "$T/nothing.crl"
expect_rc 64 "load-crl takes no --json" pankey load-crl --json "$P/ca.crl"
expect_rc 0 "load the CA's CRL (PEM)" pankey load-crl "$P/ca.crl.pem"
grep -qF "loaded the CRL of $CA" "$T/out" || fail "load-crl said: $(cat "$T/out")"
no_dirmngr "load-crl"
expect_rc 0 "list-crls" pankey list-crls
grep -F "$CA" "$T/out" | grep -q ' ok  *1  ' ||
    { cat "$T/out" >&2; fail "list-crls does not show the CRL with its one revocation"; }
expect_rc 0 "list-crls --json" pankey list-crls --json
jq -e -s --arg ca "$CA" 'length == 1 and .[0].v == 1 and .[0].issuer == $ca
    and .[0].revoked == 1 and .[0].expired == false and .[0].days >= 89
    and .[0].trust_fingerprint == "'"$(fp ca sha1)"'"' "$T/out" >/dev/null ||
    { cat "$T/out" >&2; fail "list-crls --json"; }
no_dirmngr "list-crls"
panaudit log --event load-crl --json > "$T/log" || fail "panaudit log --event load-crl"
jq -e -s --arg ca "$CA" '[.[] | select(.outcome == "ok")] | length == 1
    and (.[0].reason | contains("CRL of " + $ca))' "$T/log" >/dev/null ||
    { cat "$T/log" >&2; fail "no audit record of the load"; }
jq -e -s '[.[] | select(.outcome == "refused")] | length == 1' "$T/log" >/dev/null ||
    fail "the refused load (rogue CA) is not recorded"
pass "load-crl: loaded, listed, audited, refused for an unknown CA; no dirmngr left"

# ------------------------------------------------------------ trusted offline
expect_rc 0 "enroll alice offline with the CRL loaded" pankey enroll "$A" \
    --protocol smime --fingerprint "$(fp valid sha1)" --file "$P/valid.pem"
expect_rc 77 "trent's certificate is in the CRL" pankey enroll "$R" \
    --protocol smime --fingerprint "$(fp revoked sha1)" --file "$P/revoked.pem"
grep -q "is revoked" "$T/err" || fail "reason: $(cat "$T/err")"
expect_rc 0 "check with a current CRL" pankey check
grep -q "^PANKEY OK" "$T/out" || { cat "$T/out" >&2; fail "check is not OK"; }

# ------------------------------------------------------------ check
expect_rc 0 "load a CRL that expires in 5 days" pankey load-crl "$P/ca-soon.crl"
expect_rc 1 "check warns about the CRL" pankey check
{ head -n 1 "$T/out" | grep -q "^PANKEY WARNING - 1 CRL expiring within 30 days ($CA)" &&
    grep -q "crl_expiring=1" "$T/out" &&
    grep -qF "WARNING CRL of $CA expires in 5 days" "$T/out"; } ||
    { cat "$T/out" >&2; fail "check does not warn about the CRL"; }
expect_rc 2 "check -w 10 -c 6: critical within 6 days" pankey check -w 10 -c 6
expect_rc 65 "an expired CRL is refused" pankey load-crl "$P/ca-old.crl"
grep -q "has expired" "$T/err" || fail "reason: $(cat "$T/err")"
expect_rc 2 "check is critical about the expired CRL" pankey check
{ grep -q "crl_expired=1" "$T/out" &&
    grep -qF "CRITICAL CRL of $CA expired on" "$T/out"; } ||
    { cat "$T/out" >&2; fail "check is not critical about the expired CRL"; }
expect_rc 2 "check --json" pankey check --json
jq -e -s 'any(.[]; .check == "crl-expired" and .severity == "CRITICAL"
    and .days < 0)' "$T/out" >/dev/null || fail "check --json: no crl-expired"
printf 'From: ops@example.test\nTo: %s\nSubject: s\n\nbody\n' "$A" > "$T/to-alice"
sa=$(mbox_size "$A")
expect_rc 77 "pansend with the CA's CRL expired" pansend < "$T/to-alice"
{ grep -q "revocation status cannot be established" "$T/err" &&
    grep -qF "the CRL of CA \"$CA\"" "$T/err" && grep -q "expired on" "$T/err" &&
    grep -q "pankey load-crl" "$T/err"; } ||
    { cat "$T/err" >&2; fail "pansend does not say that the CA's CRL expired"; }
pass "check: WARNING for a CRL expiring soon, CRITICAL for an expired one; pansend names it"

# ------------------------------------------------------------ send
expect_rc 0 "load the current CRL again (DER)" pankey load-crl "$P/ca.crl"
expect_rc 0 "send to alice offline" pansend < "$T/to-alice"
wait_for_mail "$A" "$sa"
# trent enrolled while checking was off, then the mode is crl again.
echo "smime-revocation-check off" >> "$PANMAIL_HOME/panmail.conf"
expect_rc 0 "enroll trent with checking off" pankey enroll "$R" \
    --protocol smime --fingerprint "$(fp revoked sha1)" --file "$P/revoked.pem"
sed -i '/^smime-revocation-check /d' "$PANMAIL_HOME/panmail.conf"
printf 'From: ops@example.test\nTo: %s\nSubject: s\n\nbody\n' "$R" > "$T/to-trent"
sr=$(mbox_size "$R")
expect_rc 77 "pansend to a certificate the CRL lists" pansend < "$T/to-trent"
grep -q "revoked" "$T/err" || fail "reason: $(cat "$T/err")"
assert_no_new_mail "revoked certificate" "$R" "$sr"
pass "sent to alice offline; refused for trent, whose certificate the CRL lists"
