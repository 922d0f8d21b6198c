#!/bin/sh
# check.sh - "pankey check" as a monitoring plugin, with real keys: the
# status line first with perfdata, -w/-c/-t, usage errors exit 3, a
# revoked partner left without a key and a pinned key missing from the
# keyring are CRITICAL with the address on the first line; enroll warns
# about a key that expires soon, and pansend and pankey check count the
# same days.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
A=${TAG}check-alice@example.test
B=${TAG}check-bob@example.test
C=${TAG}check-carol@example.test

# check_rc WANT WHAT ARGS...: pankey check ARGS exits WANT; its first
# line is then in $first.
check_rc() {
    cr_want=$1 cr_what=$2
    shift 2
    expect_rc "$cr_want" "check: $cr_what" pankey check "$@"
    first=$(head -n 1 "$T/out")
}

# first_is REGEX WHAT: the first line of the last check matches REGEX.
first_is() {
    printf '%s\n' "$first" | grep -Eq "$1" ||
        { cat "$T/out" >&2; fail "check: $2: first line is: $first"; }
}

init_home
fa=$(make_key "Alice Check" "$A")
fb=$(make_key "Bob Check" "$B" 10d)
fc=$(make_key "Carol Check" "$C")
export_key "$fa" "$T/a.asc"
export_key "$fb" "$T/b.asc"
export_key "$fc" "$T/c.asc"
expect_rc 0 "enroll $A" pankey enroll "$A" --fingerprint "$fa" --file "$T/a.asc"
grep -q warning "$T/err" && fail "enroll warned about a key that lasts 2 years"
expect_rc 0 "enroll $C" pankey enroll "$C" --fingerprint "$fc" --file "$T/c.asc"
expect_rc 0 "enroll $B" pankey enroll "$B" --fingerprint "$fb" --file "$T/b.asc"
grep -q "warning: key $fb of $B expires in 10 days (.*), within expire-warn-days (30)" "$T/err" ||
    { cat "$T/err" >&2; fail "enroll did not warn about a key that expires in 10 days"; }
pass "enroll warns about a key that expires within expire-warn-days"

# ------------------------------------------------------------------ thresholds

perf='\| expired=0 revoked=0 missing=0 unusable=0 expiring=1 rotation_due=0 weak=0 nokey=0 unknown=0 unpinned=0 nopins=0 queued=0 queue_expired=0 ok=2$'
check_rc 1 "a key expiring in 10 days"
first_is "^PANKEY WARNING - 1 expiring within 30 days \\($B\\) $perf" "WARNING"
sed -n 2p "$T/out" | grep -q "^WARNING $B key $fb expires in 10 days" ||
    { cat "$T/out" >&2; fail "check: the finding is not after the status line"; }
check_rc 0 "-w 9 leaves a key expiring in 10 days alone" -w 9
first_is '^PANKEY OK - 3 keys OK \| ' "OK"
check_rc 0 "--days 9 is -w 9" --days 9
check_rc 1 "-w 20 -c 9: warning" -w 20 -c 9
first_is "^PANKEY WARNING - 1 expiring within 20 days \\($B\\)" "-w 20"
check_rc 2 "-w 20 -c 10: critical" -w 20 -c 10
first_is "^PANKEY CRITICAL - 1 expiring within 20 days \\($B\\)" "-c 10"
sed -n 2p "$T/out" | grep -q "^CRITICAL $B key $fb expires in 10 days" ||
    { cat "$T/out" >&2; fail "check: -c did not make the finding CRITICAL"; }
check_rc 2 "--json -c 10" --json -w 20 -c 10
jq -e -s '.[0].type == "summary" and .[0].v == 1 and .[0].exit == 2
    and .[0].expiring == 1 and .[1].type == "finding"
    and .[1].severity == "CRITICAL" and .[1].days == 10' "$T/out" >/dev/null ||
    { cat "$T/out" >&2; fail "check --json: the summary is not first"; }
pass "check --json: the summary first, then the findings"

# pansend counts the same days.
make_capture capture >/dev/null
report_to "$B" "$(new_marker)" > "$T/msg"
expect_rc 0 "send to $B" pansend --sendmail "$T/capture" < "$T/msg"
grep -q "key $fb of $B expires in 10 days" "$T/err" ||
    { cat "$T/err" >&2; fail "pansend does not say 'expires in 10 days' as pankey check does"; }
pass "pansend and pankey check agree: expires in 10 days"

# ------------------------------------------------------------------ usage errors

for args in "-w ten" "-c -1" "-t 0" "-w 5 -c 6" "--days 5 -w 5" "--bogus" \
    "--fingerprint $fa" "extra"; do
    # shellcheck disable=SC2086  # the words are options
    check_rc 3 "usage error: $args" $args
    first_is '^PANKEY UNKNOWN - bad command line: .*usage: pankey check ' "$args"
done
expect_rc 64 "an option list does not take" pankey list -w 5
grep -q "list does not take -w" "$T/err" || fail "list -w: no message"

# ------------------------------------------------------------------ revoked partner

expect_rc 0 "revoke $C" pankey revoke "$C" --reason compromised
check_rc 2 "a revoked partner with no new key"
first_is "^PANKEY CRITICAL - 1 without a usable key \\($C\\), 1 expiring within 30 days \\($B\\) \\| .* nokey=1 " \
    "revoked partner"
grep -q "^CRITICAL $C key $fc was revoked (compromised) on [0-9-]* and no key replaced it" "$T/out" ||
    { cat "$T/out" >&2; fail "check: no finding for the revoked partner"; }
report_to "$C" "$(new_marker)" > "$T/msg"
expect_rc 77 "pansend refuses the revoked partner" \
    pansend --sendmail "$T/capture" < "$T/msg"
fc2=$(make_key "Carol Check New" "$C")
export_key "$fc2" "$T/c2.asc"
expect_rc 0 "enroll a new key for $C" \
    pankey enroll "$C" --fingerprint "$fc2" --file "$T/c2.asc"
check_rc 1 "the new key ends the alarm"

# ------------------------------------------------------------------ queued copies

# A copy the MTA did not take is queued (75): WARNING, the address on the
# first line.  Once older than queue-lifetime (its envelope's creation
# time put back two days, the lifetime one day) the next flush would
# drop it undelivered: CRITICAL.  Dropped, the alarm ends.
report_to "$C" "$(new_marker)" > "$T/msg"
expect_rc 75 "a copy the MTA does not take is queued" \
    pansend --sendmail /bin/false < "$T/msg"
check_rc 1 "a queued copy"
first_is "^PANKEY WARNING - 1 expiring within 30 days \\($B\\), 1 queued \\($C\\) \\| .* nopins=0 queued=1 queue_expired=0 ok=" \
    "queued copy"
grep -q "^WARNING queued copy [^ ]* to $C since .*not delivered yet" "$T/out" ||
    { cat "$T/out" >&2; fail "check: no finding for the queued copy"; }
echo "queue-lifetime 86400" >> "$PANMAIL_HOME/panmail.conf"
for e in "$PANMAIL_HOME"/queue/*.env; do
    sed -i "s/^created: .*/created: $(($(date +%s) - 172800))/" "$e"
done
check_rc 2 "a queued copy past queue-lifetime" --json
jq -e -s --arg c "$C" '.[0].status == "CRITICAL" and .[0].queue_expired == 1
    and .[0].queued == 0 and (.[1:] | map(select(.check == "queue-expired"))
    | length == 1 and .[0].recipients == [$c] and .[0].severity == "CRITICAL")' \
    "$T/out" >/dev/null || { cat "$T/out" >&2; fail "check --json: the expired copy"; }
copy=$(jq -r -s '.[1:][] | select(.check == "queue-expired") | .copy' "$T/out")
expect_rc 0 "drop the queued copy" pansend --queue-drop "$copy"
sed -i '/^queue-lifetime 86400$/d' "$PANMAIL_HOME/panmail.conf"
check_rc 1 "no queued copy left"
first_is "queued=0 queue_expired=0 ok=" "the queue is empty"
pass "check: a queued copy is WARNING, one past queue-lifetime CRITICAL"

# ------------------------------------------------------------------ missing key

pmgpg --yes --delete-keys "$fa" 2>"$T/gpg.err" ||
    { cat "$T/gpg.err" >&2; fail "gpg --delete-keys failed"; }
check_rc 2 "a pinned key missing from the keyring"
first_is "^PANKEY CRITICAL - 1 missing \\($A\\), 1 expiring" "missing key"

# ------------------------------------------------------------------ help

for tool in "$PANKEY" "$PANSEND" "$PANAUDIT"; do
    name=$(basename "$tool")
    "$tool" --help > "$T/help" 2>&1 || fail "$name --help failed"
    head -n 1 "$T/help" | grep -q "^Usage: $name " ||
        { head -n 3 "$T/help" >&2; fail "$name --help does not begin with its usage"; }
    grep -q 'Copyright\|YEAR NAME' "$T/help" && fail "$name --help shows the version text"
    "$tool" --version > "$T/version" 2>&1 || fail "$name --version failed"
    head -n 1 "$T/version" | grep -q "^$name [0-9]" || fail "$name --version: no version line"
    grep -q 'YEAR NAME' "$T/version" && fail "$name --version shows the copyright placeholder"
    grep -q '^Copyright (C) 2026 The panmail authors$' "$T/version" ||
        fail "$name --version has no copyright line"
done
pass "--help shows the usage, --version the version with its copyright line"

# ------------------------------------------------------------------ time-out

# A key review that hangs (the test hook of --enable-test-hooks, as a
# stuck gpg would): -t ends the wait.
t0=$(date +%s)
if (PANMAIL_TEST_HANG_AT=review-key; export PANMAIL_TEST_HANG_AT
    pankey check -t 2) >"$T/out" 2>"$T/err"; then rc=0; else rc=$?; fi
[ "$rc" -eq 3 ] || { cat "$T/out" "$T/err" >&2; fail "-t 2: exit $rc, not 3"; }
grep -qx 'PANKEY UNKNOWN - timed out after 2 s (-t)' "$T/out" ||
    { cat "$T/out" >&2; fail "-t 2: no time-out status line"; }
[ $(($(date +%s) - t0)) -lt 15 ] || fail "-t 2 took more than 15 s"
pass "-t 2: UNKNOWN after 2 s"
