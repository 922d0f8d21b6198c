#!/bin/sh
# audit-seg-records.sh - records that tell the truth: every pankey
# refusal is recorded with the exit code pankey gives (also a re-enroll
# of a revoked key), --event and --outcome take only words that records
# can have, panaudit keys and pankey list agree on a revoked key and say
# when and why it ended, and a home whose log was removed is not
# "intact".
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
command -v jq >/dev/null 2>&1 || fail "jq is not installed"
PANAUDIT=$top_builddir/cmd/panaudit

enroll_alice
B=$TAG$TEST_NAME-bob@example.test
fb=$(make_key Bob "$B")
export_key "$fb" "$T/b.asc"

# last_record: the newest record, as JSON.
last_record() { "$PANAUDIT" log --json | tail -n 1; }

# expect_recorded EVENT OUTCOME CODE WHAT: the newest record is EVENT
# with OUTCOME and exit code CODE, and CODE is what the tool exited with.
expect_recorded() {
    last_record > "$T/last.json"
    jq -e --arg e "$1" --arg o "$2" --argjson c "$3" \
        '.event == $e and .outcome == $o and .exit_code == $c' \
        "$T/last.json" >/dev/null ||
        { cat "$T/last.json" >&2; fail "$4: not recorded as $1/$2 with exit code $3"; }
    pass "$4: recorded as $1/$2, exit code $3"
}

# ---------------------------------------------------------------- refusals

expect_rc 73 "enroll of an address enrolled already" \
    pankey enroll "$A" --fingerprint "$fb" --file "$T/b.asc"
expect_recorded enroll refused 73 "enroll of an address enrolled already"

expect_rc 65 "enroll with the fingerprint of another key" \
    pankey enroll "$B" --fingerprint "$fa" --file "$T/b.asc"
expect_recorded enroll refused 65 "enroll with the fingerprint of another key"

expect_rc 67 "revoke of an address never enrolled" \
    pankey revoke "$B" --reason superseded
expect_recorded revoke refused 67 "revoke of an address never enrolled"

expect_rc 0 "revoke $A" pankey revoke "$A" --reason compromised \
    --note "laptop stolen"
expect_rc 77 "re-enroll of the revoked key" \
    pankey enroll "$A" --fingerprint "$fa" --file "$T/a.asc"
expect_recorded enroll refused 77 "re-enroll of the revoked key"
jq -e --arg a "$A" --arg f "$fa" \
    '.recipients == [{"address": $a, "protocol": "openpgp", "fingerprint": $f}]
     and (.reason | test("revoked"))' "$T/last.json" >/dev/null ||
    { cat "$T/last.json" >&2; fail "the refused re-enroll does not name the key"; }
pass "the refused re-enroll names the address and the revoked key"

# ---------------------------------------------------------------- filters

expect_rc 64 "log --event sent (a typo)" "$PANAUDIT" log --event sent
grep -q 'no such event' "$T/err" || fail "--event sent: no message"
expect_rc 64 "log --outcome sucess (a typo)" "$PANAUDIT" log --outcome sucess
expect_rc 64 "report --event bogus" "$PANAUDIT" report --event bogus
expect_rc 0 "log --json --outcome refused" "$PANAUDIT" log --json --outcome refused
[ "$(wc -l < "$T/out")" -eq 4 ] || { cat "$T/out" >&2; fail "--outcome refused: not the 4 refusals"; }
jq -e -s 'all(.[]; .outcome == "refused")' "$T/out" >/dev/null ||
    fail "--outcome refused returned other records"
expect_rc 0 "log --json --event enroll --outcome ok" \
    "$PANAUDIT" log --json --event enroll --outcome ok
[ "$(wc -l < "$T/out")" -eq 1 ] || fail "--event enroll --outcome ok: not 1 record"
expect_rc 0 "log --recipient $A --outcome refused" \
    "$PANAUDIT" log --json --recipient "$A" --outcome refused
[ "$(wc -l < "$T/out")" -eq 2 ] ||
    { cat "$T/out" >&2; fail "--recipient --outcome refused: not the 2 refusals naming $A"; }

# ---------------------------------------------------------------- inventory

"$PANAUDIT" keys --json > "$T/keys.json" || fail "panaudit keys --json failed"
pankey list --json > "$T/list.json" || fail "pankey list --json failed"
jq -e -s --arg f "$fa" 'map(select(.fingerprint == $f))[0]
    | .status == "revoked" and .key_state == "revoked"
      and .changed_at != null and .changed_by != null
      and (.change_reason | test("compromised")) and (.change_reason | test("laptop stolen"))' \
    "$T/keys.json" >/dev/null ||
    { cat "$T/keys.json" >&2; fail "panaudit keys: the revoked key is not shown revoked with when and why"; }
jq -e -s --arg f "$fa" 'map(select(.fingerprint == $f))[0] | .status == "revoked"' \
    "$T/list.json" >/dev/null || fail "pankey list does not show the key revoked"
"$PANAUDIT" keys > "$T/keys.txt"
grep "$fa" "$T/keys.txt" | grep -q ' revoked  *revoked ' ||
    { cat "$T/keys.txt" >&2; fail "panaudit keys (table): the revoked key's state is not revoked"; }
pass "panaudit keys and pankey list agree: revoked, with when, who and why"

# ---------------------------------------------------------------- removed log

expect_rc 0 "verify before removing the log" "$PANAUDIT" verify --key "$T/audit.key"
mv "$PANMAIL_HOME/audit.log" "$T/audit.log.saved"
mv "$PANMAIL_HOME/audit.key" "$T/audit.key.saved"
expect_rc 1 "verify of a home whose log and audit.key were removed" \
    "$PANAUDIT" verify
grep -q 'TAMPERED: record 1: truncated:' "$T/err" ||
    { cat "$T/err" >&2; fail "a removed log was not reported truncated"; }
(umask 077 && : > "$PANMAIL_HOME/audit.log")  # as the home wants it
expect_rc 1 "verify of a home whose log was emptied and audit.key removed" \
    "$PANAUDIT" verify
mv "$T/audit.log.saved" "$PANMAIL_HOME/audit.log"
mv "$T/audit.key.saved" "$PANMAIL_HOME/audit.key"
audit_intact || fail "the restored log does not verify"
pass "the restored log verifies"
