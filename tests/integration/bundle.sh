#!/bin/sh
# bundle.sh - many hosts, one operator: pankey export on one home, pankey
# import on another (the test's $PANMAIL_HOME); the operator keys it
# accepts; refusals of a tampered bundle, an unpinned signer, an older
# bundle; the audit trail of the import; a send from the importing home
# to a recipient it learnt from a bundle.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
need_postfix

A=${TAG}bundle-alice@example.test
B=${TAG}bundle-bob@example.test
C=${TAG}bundle-carol@example.test
HA=$T/home-a            # the operator's source home; $PANMAIL_HOME imports
BODY=$(new_marker)

# ha ARGS...: pankey on the source home.
ha() { "$PANKEY" --home "$HA" "$@"; }

# export_bundle FPR FILE: export the source home's bundle signed with the
# key FPR of the key-maker home (the operator's own GnuPG home).
export_bundle() {
    GNUPGHOME=$KEYS ha export --sign --operator "$1" -o "$2" \
        >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "export ($1) failed"; }
    grep -q '^-----BEGIN PGP SIGNED MESSAGE-----$' "$2" ||
        fail "the bundle $2 is not clearsigned"
}

# active_rows HOME: the columns of "pankey list" that a bundle carries
# (address, protocol, fingerprint, status) of its active and revoked
# enrollments; ENROLLED and BY are the importing home's own.
active_rows() {
    "$PANKEY" --home "$1" list | awk 'NR > 1 && ($5 == "active" || $5 == "revoked") {
        print $1, $2, $3, $5 }' | sort
}

# same_lists WHAT: the two homes list the same enrollments.
same_lists() {
    active_rows "$HA" > "$T/list.a"
    active_rows "$PANMAIL_HOME" > "$T/list.b"
    [ -s "$T/list.a" ] || fail "$1: the source home lists nothing"
    diff -u "$T/list.a" "$T/list.b" || fail "$1: pankey list differs"
    pass "$1: pankey list is the same on both homes"
}

# --- the source home: two recipients, and the operator's signing key.
ha init >/dev/null 2>&1 || fail "pankey init of the source home failed"
fa=$(make_key "Alice Bundle" "$A")
fb=$(make_key "Bob Bundle" "$B")
fop=$(kgpg --status-fd 1 --quick-gen-key "Operator <${TAG}bundle-op@example.test>" \
        ed25519 sign 1y | awk '$2 == "KEY_CREATED" { print $4 }')
[ -n "$fop" ] || fail "cannot make the operator key"
export_keys "$T/op.asc" "$fop"
for r in "$A:$fa" "$B:$fb"; do
    export_key "${r#*:}" "$T/key.asc"
    ha enroll "${r%%:*}" --fingerprint "${r#*:}" --file "$T/key.asc" \
        >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "enrolling ${r%%:*} on the source home failed"; }
done
export_bundle "$fop" "$T/b1.asc"
# The signer's home is the operator's own: pankey leaves its gpg-agent
# running, as gpg would.
gpg-connect-agent --homedir "$KEYS" --no-autostart 'GETINFO pid' /bye 2>/dev/null |
    grep -q '^D [0-9]' || fail "pankey export stopped the gpg-agent of the signer's home"
grep -q "^recipient $(lower "$A")\$" "$T/b1.asc" || fail "bundle 1 lacks $A"

# --- the importing home trusts only the pinned operator key.
init_home
expect_rc 77 "import before any operator key is pinned" pankey import "$T/b1.asc"
grep -q "pins no operator key" "$T/err" || fail "no word of the missing operator key"
expect_rc 65 "operator-key add with a fingerprint not in the file" \
    pankey operator-key add --fingerprint "$fa" --file "$T/op.asc"
grep -q "no key with primary fingerprint $fa" "$T/err" ||
    fail "the wrong fingerprint is not named"
# A weak operator key would let bundles be forged: the algorithm policy
# applies to it as to a recipient's key.
K=$(fixture policy-keys) || exit 1
expect_rc 77 "operator-key add of an RSA-1024 key" \
    pankey operator-key add --fingerprint "$(cat "$K/rsa1024.fpr")" --file "$K/rsa1024.asc"
grep -q "below min-rsa-bits 2048" "$T/err" || fail "the weak operator key's refusal does not say why"
expect_rc 0 "operator-key add" \
    pankey operator-key add --fingerprint "$(spaced_fpr "$fop")" --file "$T/op.asc"
grep -qx "operator-key $fop" "$PANMAIL_HOME/bundles" || fail "the operator key is not pinned"
panaudit log --event operator-key --json | jq -e -s 'length >= 1' >/dev/null ||
    fail "panaudit log --event operator-key finds no record"

# --- the first bundle: two enrollments, each recorded with the bundle.
expect_rc 0 "import bundle 1" pankey import "$T/b1.asc"
grep -q ": 2 enrolled, 0 rotated, 0 revoked, 0 unenrolled, 0 unchanged" "$T/out" ||
    fail "import 1 did not say what it did: $(cat "$T/out")"
same_lists "bundle 1"
serial1=$(sed -n 's/^serial //p' "$T/b1.asc")
panaudit log --json > "$T/log.json" || fail "panaudit log failed"
jq -e -s --arg s "bundle $serial1 of home" --arg op "$fop" '
    ([.[] | select(.event == "enroll" and .outcome == "ok"
                   and (.reason | startswith($s)))] | length == 2)
    and ([.[] | select(.event == "import" and .outcome == "ok"
                       and (.reason | startswith($s))
                       and (.reason | contains("signed by " + $op)))]
       | length == 1)
    and ([.[] | select(.event == "operator-key")] | length == 3)
    and all(.[] | select(.event == "import" or .event == "enroll");
            .registry_sha256 | test("^[0-9a-f]{64}$"))' "$T/log.json" >/dev/null ||
    fail "the audit log of home B lacks the import's records"
pass "the import and each enrollment are in the audit log, naming the bundle"
expect_rc 0 "the same bundle again" pankey import - < "$T/b1.asc"
grep -q "imported already; nothing changed" "$T/out" || fail "re-import was not a no-op"

# --- the source home changes: bob revoked, alice rotated, carol enrolled.
fa2=$(make_key "Alice Bundle (2027)" "$A")
fc=$(make_key "Carol Bundle" "$C")
export_key "$fa2" "$T/key.asc"
ha rotate "$A" --fingerprint "$fa2" --file "$T/key.asc" >"$T/out" 2>"$T/err" ||
    { cat "$T/err" >&2; fail "rotate on the source home failed"; }
export_key "$fc" "$T/key.asc"
ha enroll "$C" --fingerprint "$fc" --file "$T/key.asc" >"$T/out" 2>"$T/err" ||
    { cat "$T/err" >&2; fail "enroll on the source home failed"; }
ha revoke "$B" --reason compromised >"$T/out" 2>"$T/err" ||
    { cat "$T/err" >&2; fail "revoke on the source home failed"; }
export_bundle "$fop" "$T/b2.asc"

# Refused, and nothing changes: one byte changed, a recipient's key (in
# the keyring, not pinned as an operator key) as the signer.
sed 's/^reason compromised$/reason compromisec/' "$T/b2.asc" > "$T/tampered.asc"
cmp -s "$T/b2.asc" "$T/tampered.asc" && fail "the bundle was not tampered with"
expect_rc 77 "a tampered bundle" pankey import "$T/tampered.asc"
grep -q "changed after it was signed" "$T/err" || fail "no word of the bad signature"
export_bundle "$fa" "$T/unpinned.asc"
expect_rc 77 "a bundle signed by an unpinned key" pankey import "$T/unpinned.asc"
grep -q "signed by key $fa, which is not an operator key" "$T/err" ||
    fail "the unpinned signer is not named"
active_rows "$PANMAIL_HOME" > "$T/list.now"
diff -u "$T/list.b" "$T/list.now" || fail "a refused bundle changed the registry"

# --- the second bundle: rotate, enroll and revoke, revocation first.
expect_rc 0 "import bundle 2" pankey import "$T/b2.asc"
grep -q ": 1 enrolled, 1 rotated, 1 revoked, 0 unenrolled, 0 unchanged" "$T/out" ||
    fail "import 2 did not say what it did: $(cat "$T/out")"
same_lists "bundle 2"
expect_rc 77 "bundle 1 after bundle 2 (rollback)" pankey import "$T/b1.asc"
grep -q "refused as a rollback" "$T/err" || fail "no word of the rollback"
panaudit log --json --event import > "$T/log.json" || fail "panaudit log failed"
jq -e -s '[.[] | .outcome] == ["refused", "ok", "refused", "refused", "ok", "refused"]
    and (.[5].reason | test("rollback")) and .[5].exit_code == 77' \
    "$T/log.json" >/dev/null || { cat "$T/log.json" >&2; fail "the import records are not as expected"; }
pass "every import and refusal is recorded"
same_lists "after the refusals"

# --- a send from the importing home to recipients it learnt from bundles.
s_A=$(mbox_size "$A") s_C=$(mbox_size "$C")
printf '%s\n' "From: ops@example.test" "To: $A, $C" "Subject: bundle" "" \
    "Confidential $BODY" > "$T/msg"
expect_rc 0 "send from the importing home" pansend -t < "$T/msg"
wait_for_mail "$A" "$s_A"
wait_for_mail "$C" "$s_C"
for r in "$A:$fa2" "$C:$fc"; do
    last_message "${r%%:*}" "$T/got"
    grep -qF "$BODY" "$T/got" && fail "the body reached ${r%%:*} in clear"
    decrypt_pgpmime "$T/got" "$(secret_home "${r#*:}")" "$T/dec"
    grep -qF "$BODY" "$T/dec" || fail "${r%%:*} cannot read the message"
done
pass "recipients enrolled by bundles decrypt what the importing home sends"

# --- a second operator key, revoked after it signed: once the home's
# keyring knows of the revocation, its bundle is refused.
fop2=$(kgpg --status-fd 1 --quick-gen-key "Operator 2 <${TAG}bundle-op2@example.test>" \
        ed25519 sign 1y | awk '$2 == "KEY_CREATED" { print $4 }')
[ -n "$fop2" ] || fail "cannot make the second operator key"
export_keys "$T/op2.asc" "$fop2"
expect_rc 0 "operator-key add (a second key)" \
    pankey operator-key add --fingerprint "$fop2" --file "$T/op2.asc"
export_bundle "$fop2" "$T/b3.asc"
revoke_key "$fop2"
push_key_update "$fop2"
expect_rc 77 "a bundle signed by a revoked operator key" pankey import "$T/b3.asc"
grep -q "revoked" "$T/err" || fail "no word of the revoked signer"

# --- the first operator key unpinned (lost, compromised): its bundles
# are refused.
expect_rc 0 "operator-key remove" pankey operator-key remove --fingerprint "$fop"
grep -qx "operator-key $fop" "$PANMAIL_HOME/bundles" && fail "the operator key is still pinned"
export_bundle "$fop" "$T/b4.asc"
expect_rc 77 "a bundle signed by an unpinned operator key" pankey import "$T/b4.asc"
grep -q "signed by key $fop, which is not an operator key" "$T/err" ||
    fail "the unpinned operator key is not named"
expect_rc 67 "operator-key remove of a key not pinned" \
    pankey operator-key remove --fingerprint "$fop"
