#!/bin/sh
# roles-registry.sh - the registry cannot be edited behind the tools' back
# (issue 11): every key-change record carries "registry_sha256", the
# SHA-256 of the registry it produced; a registry that differs from the
# newest recorded one makes pansend refuse (77) and pankey check report
# critical (2), naming the record; "pankey registry-accept --note WHY"
# records a registry restored from a backup.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools

enroll_alice
B=${TAG}roles-registry-bob@example.test
fb=$(make_key "Bob Registry" "$B")
export_key "$fb" "$T/b.asc"

# last_digest: registry_sha256 of the newest record that has one.
last_digest() {
    panaudit log --json | jq -r 'select(.registry_sha256) | .registry_sha256' |
        tail -n 1
}
disk=$(sha256sum < "$PANMAIL_HOME/registry" | cut -d' ' -f1)
[ "$(last_digest)" = "$disk" ] ||
    fail "the enroll record does not carry the registry's SHA-256"
n=$(panaudit log --json | jq -s '[.[] | select(.event == "init" or .event == "enroll") | select(.registry_sha256)] | length')
[ "$n" -eq 2 ] || fail "init and enroll records with a digest: $n, expected 2"
pass "init and enroll record the registry's SHA-256"

report_to "$A" word > "$T/msg"
expect_rc 0 "send with the recorded registry" pansend --dry-run -t < "$T/msg"

# pansend's records repeat the digest it checked, so that the next send
# finds the newest one in the last record, however many sends follow a
# key change.
make_capture capture > /dev/null
expect_rc 0 "a send" pansend --sendmail "$T/capture" -t < "$T/msg"
panaudit log --json | tail -n 2 |
    jq -e -s --arg d "$disk" 'length == 2 and .[0].event == "send"
        and .[1].event == "delivered" and all(.[]; .registry_sha256 == $d)' \
    >/dev/null || fail "the send's records do not carry the registry's SHA-256"
pass "the send's records carry the SHA-256 of the registry it checked"

# A hand edit: alice's pin moved to bob's key (and its encryption
# subkey), as the issue's attacker did.
sb=$(kgpg --with-colons --list-keys "$fb" |
    awk -F: '$1 == "sub" { s = 1; next } $1 == "fpr" && s { print $10; exit }')
cp "$PANMAIL_HOME/registry" "$T/registry.good"
sed -e "s/$fa/$fb/" -e "s/^subkeys .*/subkeys $sb/" "$T/registry.good" \
    > "$T/registry.evil"
cat "$T/registry.evil" > "$PANMAIL_HOME/registry"
pmgpg --import "$T/b.asc" 2>/dev/null
expect_rc 77 "pansend refuses a hand-edited registry" pansend -t < "$T/msg"
grep -q "audit record [0-9]* (delivered" "$T/err" ||
    { cat "$T/err" >&2; fail "the refusal does not name the record"; }
# The refusal carries no digest, so the next send is refused as well.
panaudit log --json | tail -n 1 |
    jq -e '.event == "refuse" and (has("registry_sha256") | not)' >/dev/null ||
    fail "the refusal record carries a registry digest"
expect_rc 77 "pansend refuses the hand-edited registry again" \
    pansend -t < "$T/msg"
# Nor does a command that changes no key record the edited registry as
# the newest: a refused import, init --force on the home, a refused
# enroll.  Each is followed by a send, which must still be refused.
echo "not a bundle" > "$T/bad.bundle"
if pankey import "$T/bad.bundle" >"$T/out" 2>"$T/err"; then
    fail "pankey import of a bad bundle succeeded"
fi
expect_rc 77 "a refused import does not accept the hand-edited registry" \
    pansend --dry-run -t < "$T/msg"
expect_rc 0 "pankey init --force on the home" pankey init --force
expect_rc 77 "init --force does not accept the hand-edited registry" \
    pansend --dry-run -t < "$T/msg"
expect_rc 2 "pankey check: critical" pankey check
grep -q "CRITICAL" "$T/out" || fail "pankey check does not say CRITICAL"
if pankey enroll "$B" --fingerprint "$fb" --file "$T/b.asc" >"$T/out" 2>"$T/err"; then
    fail "enroll on a hand-edited registry was accepted"
fi
pass "enroll refuses to build on a hand-edited registry"

# A restore from a backup is recorded, then sending works again.
cat "$T/registry.good" > "$PANMAIL_HOME/registry"
expect_rc 0 "the original registry is fine again" pansend --dry-run -t < "$T/msg"
cat "$T/registry.evil" > "$PANMAIL_HOME/registry"
expect_rc 64 "registry-accept needs --note" pankey registry-accept
pankey registry-accept --note "restored from backup 2026-11-29" > "$T/accept.out" ||
    fail "registry-accept failed"
disk=$(sha256sum < "$PANMAIL_HOME/registry" | cut -d' ' -f1)
[ "$(last_digest)" = "$disk" ] || fail "registry-accept did not record the registry"
grep -qx "pankey: recorded the registry as it is (SHA-256 $disk)" "$T/accept.out" ||
    fail "registry-accept does not print the digest it recorded: $(cat "$T/accept.out")"
pass "registry-accept records the registry and prints its digest"
panaudit log --json --event registry-accept |
    jq -e -s 'length == 1 and (.[0].reason | test("backup"))' >/dev/null ||
    fail "no registry-accept record with the note"
expect_rc 0 "send after registry-accept" pansend --dry-run -t < "$T/msg"
cat "$T/registry.good" > "$PANMAIL_HOME/registry"
expect_rc 77 "the older registry is refused after the accept" \
    pansend --dry-run -t < "$T/msg"
expect_rc 0 "registry-accept of the good one" \
    pankey registry-accept --note "back to the good one"
expect_rc 0 "revoke records the new digest" pankey revoke "$A" --reason left
disk=$(sha256sum < "$PANMAIL_HOME/registry" | cut -d' ' -f1)
[ "$(last_digest)" = "$disk" ] || fail "the revoke record has another digest"
# (The partner left: no alarm for a missing key, and the digest matches.)
expect_rc 0 "pankey check after the revoke" pankey check

# Resent-To, Resent-Cc, Resent-Bcc: refused (77) and recorded; a
# Resent-Bcc must never travel in clear.
expect_rc 0 "registry-accept of the good one" \
    pankey registry-accept --note "back to the good one after the revoke"
for f in Resent-To Resent-Cc Resent-Bcc; do
    printf 'From: ops@example.test\nTo: %s\n%s: hidden@example.test\nSubject: r\n\nbody\n' \
        "$A" "$f" > "$T/resent"
    expect_rc 77 "a message with $f is refused" pansend -t < "$T/resent"
    grep -q "$f" "$T/err" || fail "the refusal does not name $f"
done
n=$(panaudit log --json --event refuse | jq -s 'map(select(.reason | test("Resent-"))) | length')
[ "$n" -eq 3 ] || fail "Resent-* refusals recorded: $n, expected 3"
pass "Resent-* refusals recorded"

# A card number in an argument (an address, a file name, the --sendmail
# path) appears masked in every error message.
PAN=4111111111111111
MASKED='411111******1111'
# no_pan WHAT: $T/err names $MASKED and not $PAN.
no_pan() {
    if grep -q "$PAN" "$T/err" || ! grep -qF "$MASKED" "$T/err"; then
        cat "$T/err" >&2
        fail "$1: the card number is not masked on stderr"
    fi
    pass "$1: masked on stderr"
}
run_rc "$T/out" "$T/err" pankey enroll "$B" --fingerprint "$fb" \
    --file "$T/$PAN.asc"
no_pan "a key file name"
printf 'From: ops@example.test\nSubject: s\n\nbody\n' > "$T/msg"
run_rc "$T/out" "$T/err" pansend --dry-run "$PAN@example.test" < "$T/msg"
no_pan "an address on the command line"
run_rc "$T/out" "$T/err" pankey show "$PAN@example.test"
no_pan "pankey show"
expect_rc 0 "enroll bob" pankey enroll "$B" --fingerprint "$fb" --file "$T/b.asc"
report_to "$B" word > "$T/msg"
run_rc "$T/out" "$T/err" pansend --sendmail "$T/$PAN/sendmail" -t < "$T/msg"
[ "$rc" -ne 0 ] || fail "a missing --sendmail program worked"
no_pan "the --sendmail path"
