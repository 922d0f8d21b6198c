#!/bin/sh
# lifecycle.sh - pankey check, rotate, refresh, revoke, unenroll; what
# pansend does with each state; panaudit keys.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools

A=${TAG}lc-alice@example.test         # expires in 10 days, then rotated
B=${TAG}lc-bob@example.test           # expires later (yesterday), then revoked
C=${TAG}lc-carol@example.test         # fine, then unenrolled
D=${TAG}lc-dave@example.test          # expires in 10 days, then refreshed
OP=lc-operator
BODY=$(new_marker)

init_home; pass "init (audit key kept)"
# This home uses no S/MIME: pankey's verbs on the registry's keys, pankey
# check, panaudit keys and pansend spare GPGME its search through
# gpgconf (checked at the end).
PATH="$(log_gpgconf_runs "$T/gnupg-runs"):$PATH"

# enroll ADDR FPR: export FPR and enroll it for ADDR.
enroll() {
    export_key "$2" "$T/enroll.asc"
    pankey enroll "$1" --fingerprint "$2" --file "$T/enroll.asc" \
        --operator "$OP" >"$T/out" 2>"$T/err" ||
        { cat "$T/err" >&2; fail "enrolling $1 failed"; }
}

# message ADDR: a message to ADDR on stdout.
message() {
    printf '%s\n' "From: Lifecycle <reports@panmail.test>" "To: $1" \
        "Subject: lifecycle" "" "Confidential $BODY"
}

# check_out WANT WHAT ARGS...: pankey check ARGS exits WANT.
check_out() {
    co_want=$1 co_what=$2
    shift 2
    expect_rc "$co_want" "check: $co_what" pankey check "$@"
}

fc=$(make_key "Carol Lifecycle" "$C")
enroll "$C" "$fc"
check_out 0 "one good key"
grep -q '^PANKEY OK - 1 key OK | .*ok=1' "$T/out" ||
    { cat "$T/out" >&2; fail "check: no OK summary line"; }
[ "$(wc -l < "$T/out")" -eq 1 ] || fail "check printed findings for a good key"

# ------------------------------------------------------------------ expiring

fa=$(make_key "Alice Lifecycle" "$A" 10d)
enroll "$A" "$fa"
check_out 1 "a key expiring in 10 days"
grep -q "^WARNING $A key $fa expires in 10 days ([0-9-]*)\$" "$T/out" ||
    { cat "$T/out" >&2; fail "check: no expiry warning for $A"; }
head -n 1 "$T/out" | grep -q "^PANKEY WARNING - 1 expiring within 30 days ($A) | .*expiring=1" ||
    { cat "$T/out" >&2; fail "check: bad WARNING summary"; }
check_out 0 "--days 5 does not count a key expiring in 10 days" --days 5
check_out 3 "--days with a bad number" --days ten

# pansend warns but sends.
make_capture capture >/dev/null
message "$A" > "$T/msg"
expect_rc 0 "send to a key expiring in 10 days" \
    pansend --sendmail "$T/capture" < "$T/msg"

# ------------------------------------------------------------------ expired

fb=$(make_key -c 3 "Bob Lifecycle" "$B")
enroll "$B" "$fb"
expire_key_later "$fb"
push_key_update "$fb"
check_out 2 "one key expiring in 10 days and one expired"
grep -q "^WARNING $A key $fa expires in 10 days" "$T/out" ||
    fail "check: the expiry warning is missing next to the expired key"
grep -q "^CRITICAL $B key $fb expired 1 day ago" "$T/out" ||
    { cat "$T/out" >&2; fail "check: no finding for the expired key"; }
head -n 1 "$T/out" | grep -q "^PANKEY CRITICAL - 1 expired ($B), 1 expiring within 30 days ($A) | expired=1 .*expiring=1 .*ok=1\$" ||
    { cat "$T/out" >&2; fail "check: bad CRITICAL summary"; }
check_out 2 "--json" --json
jq -e -s '(map(select(.type == "finding")) | length == 2)
    and (map(select(.type == "finding" and .check == "expired"
                    and .severity == "CRITICAL")) | length == 1)
    and (map(select(.type == "finding" and .check == "expiring"
                    and .days == 10)) | length == 1)
    and (.[0].type == "summary" and .[0].exit == 2)' "$T/out" >/dev/null ||
    { cat "$T/out" >&2; fail "check --json: unexpected findings"; }
pass "check --json gives the findings and a summary"

expect_rc 0 "list" pankey list
grep -q "^$B .* active  expired " "$T/out" ||
    { cat "$T/out" >&2; fail "list does not show $B as expired"; }
grep -q "^$A .* active  expiring 10d " "$T/out" ||
    { cat "$T/out" >&2; fail "list does not show $A expiring in 10d"; }
expect_rc 0 "list --json" pankey list --json
jq -e -s --arg a "$A" 'map(select(.address == $a))[0]
    | .key_state == "expiring" and .days_to_expiry == 10' "$T/out" \
    >/dev/null || fail "list --json: no key_state/days_to_expiry for $A"

# ------------------------------------------------------------------ rotate

fa2=$(make_key "Alice Lifecycle New" "$A")
export_key "$fa2" "$T/alice2.asc"
expect_rc 67 "rotate an address that is not enrolled" \
    pankey rotate lc-nobody@example.test --fingerprint "$fa2" \
    --file "$T/alice2.asc"
expect_rc 73 "rotate to the key already pinned" \
    pankey rotate "$A" --fingerprint "$fa" --file "$T/alice2.asc"
# Another spelling of the address (address-case insensitive, the
# default) rotates the enrollment, which keeps its address as enrolled.
expect_rc 0 "rotate $A to a new key" \
    pankey rotate "$(upper "$A")" --fingerprint "$fa2" --file "$T/alice2.asc" \
    --operator "$OP"
pankey list --json > "$T/list.json"
jq -e -s --arg a "$A" --arg old "$fa" --arg new "$fa2" '
    [.[] | select(.address == $a)] | length == 2
    and (map(select(.fingerprint == $old))[0]
         | .status == "retired" and .reason == "rotated")
    and (map(select(.fingerprint == $new))[0] | .status == "active")' \
    "$T/list.json" >/dev/null ||
    { cat "$T/list.json" >&2; fail "rotate: the registry is not as expected"; }
pass "rotate retired the old key and pinned the new one"

rm -f "$T/capture.out"
expect_rc 0 "send after rotate" pansend --sendmail "$T/capture" < "$T/msg"
decrypt_pgpmime "$T/capture.out" "$(secret_home "$fa2")" "$T/dec"
grep -qF "$BODY" "$T/dec" || fail "the new key's message does not hold the body"
if gpg --homedir "$(secret_home "$fa")" --batch --no-tty --quiet --decrypt \
        "$T/pgpmime.asc" >/dev/null 2>&1; then
    fail "after rotate the message was also encrypted to the old key"
fi
pass "after rotate the new key is used and the old one is not"

# ------------------------------------------------------------------ revoke

expect_rc 64 "revoke with a bad reason" pankey revoke "$B" --reason lost
expect_rc 0 "revoke $B" pankey revoke "$(upper "$B")" --reason superseded \
    --note "key expired, holder left the project" --operator "$OP"
check_out 2 "after revoke: $B has no usable key"
head -n 1 "$T/out" | grep -q "^PANKEY CRITICAL - 1 without a usable key ($B) | .* nokey=1 " ||
    { cat "$T/out" >&2; fail "check: $B without a key is not on the first line"; }
message "$B" > "$T/msgb"
rm -f "$T/capture.out"
expect_rc 77 "send to a revoked enrollment" \
    pansend --sendmail "$T/capture" < "$T/msgb"
grep -qi revoked "$T/err" || fail "the refusal does not say revoked"
[ -e "$T/capture.out" ] && fail "revoked: the sendmail command was run"
expect_rc 77 "enroll a revoked key again" \
    pankey enroll "$B" --fingerprint "$fb" --file "$T/enroll.asc"
fb2=$(make_key "Bob Lifecycle New" "$B")
enroll "$B" "$fb2"
check_out 0 "a new key for $B ends the alarm"
expect_rc 0 "revoke the retired old key of $A by fingerprint" \
    pankey revoke "$A" --fingerprint "$fa" --reason compromised
expect_rc 0 "the address of a revoked retired key is still usable" \
    pansend --sendmail "$T/capture" < "$T/msg"

# ------------------------------------------------------------------ refresh

fd=$(make_key "Dave Lifecycle" "$D" 10d)
enroll "$D" "$fd"
check_out 1 "before refresh"
kgpg --quick-set-expire "$fd" 2y 2>/dev/null || fail "gpg --quick-set-expire failed"
kgpg --quick-set-expire "$fd" 2y '*' 2>/dev/null || fail "gpg --quick-set-expire * failed"
export_keys "$T/dave-and-carol.asc" "$fd" "$fc"
expect_rc 65 "refresh from a file with another key" \
    pankey refresh "$D" --file "$T/dave-and-carol.asc"
export_key "$fc" "$T/carol.asc"
expect_rc 65 "refresh from a file without the pinned key" \
    pankey refresh "$D" --file "$T/carol.asc"
export_key "$fd" "$T/dave.asc"
expect_rc 0 "refresh $D" pankey refresh "$(upper "$D")" --file "$T/dave.asc" --operator "$OP"
check_out 0 "after refresh"
pankey list --json > "$T/list.json"
jq -e -s --arg a "$D" 'map(select(.address == $a))[0]
    | .days_to_expiry > 700' "$T/list.json" >/dev/null ||
    fail "refresh did not extend the expiry of $D"
pass "refresh extends the expiry"

# ------------------------------------------------------------------ unenroll

expect_rc 0 "unenroll $C" pankey unenroll "$(upper "$C")" --note "contract ended"
expect_rc 67 "unenroll again" pankey unenroll "$C"
message "$C" > "$T/msgc"
expect_rc 67 "send to an unenrolled address" \
    pansend --sendmail "$T/capture" < "$T/msgc"
pankey show "$C" --json > "$T/show.json"
jq -e -s '.[0] | .status == "retired" and .reason == "unenrolled"
    and .note == "contract ended" and .changed_at != null' "$T/show.json" \
    >/dev/null || fail "unenroll did not keep the record as retired"
pass "unenroll keeps the record, retired"

# ------------------------------------------------------------------ audit

for e in rotate revoke refresh unenroll; do
    "$PANAUDIT" log --json --event "$e" > "$T/log.json"
    jq -e -s 'length >= 1 and all(.[]; .operator != null
        and (.recipients | length) >= 1)' "$T/log.json" >/dev/null ||
        { cat "$T/log.json" >&2; fail "no audit record for $e"; }
done
"$PANAUDIT" log --json --event revoke | jq -e -s --arg b "$B" '
    map(select(.recipients[0].address == $b))[0]
    | .reason | startswith("superseded")' >/dev/null ||
    fail "the revoke record does not give the reason"
"$PANAUDIT" log --json --recipient "$(upper "$B")" --event revoke |
    jq -e -s --arg b "$B" 'length == 1 and .[0].recipients[0].address == $b' \
    >/dev/null || fail "log --recipient in capitals does not find the revoke of $B"
pass "rotate, revoke, refresh and unenroll are in the audit log, under the address as enrolled"

# A change whose audit record cannot be written changes nothing.
printf 'lock-timeout 1\n' >> "$PANMAIL_HOME/panmail.conf"
cp "$PANMAIL_HOME/registry" "$T/registry.before"
"$PYTHON" - "$PANMAIL_HOME/audit.lock" "$T/locked" <<'EOF' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], 'w').close()
while os.path.exists(sys.argv[2]):
    time.sleep(0.05)
EOF
holder=$!
while [ ! -e "$T/locked" ]; do sleep 0.05; done
if pankey revoke "$D" --reason other >"$T/out" 2>"$T/err"; then
    rm -f "$T/locked"; fail "revoke succeeded without its audit record"
fi
rm -f "$T/locked"
wait "$holder"
cmp -s "$T/registry.before" "$PANMAIL_HOME/registry" ||
    fail "revoke changed the registry although the audit record failed"
pass "no audit record, no change"

# ------------------------------------------------------------------ inventory

"$PANAUDIT" keys --json > "$T/keys.json" || fail "panaudit keys --json failed"
jq -e -s --arg a "$A" --arg fa "$fa" --arg fa2 "$fa2" '
    (length == 8)
    and all(.[]; has("address") and has("protocol") and has("fingerprint")
        and has("algorithm") and has("bits") and has("created")
        and has("expires") and has("enrolled_at") and has("enrolled_by")
        and has("rotation_due") and has("status") and has("last_used")
        and has("purpose"))
    and (map(select(.fingerprint == $fa2))[0]
         | .status == "active" and .algorithm == "ed25519"
           and .last_used != null and .rotation_due != null)
    and (map(select(.fingerprint == $fa))[0] | .status == "revoked")
    and (map(select(.kind == "home")) | map(.purpose) | sort
         == ["PAN keyed hashes", "audit log MAC (forward-secure)"])' \
    "$T/keys.json" >/dev/null ||
    { cat "$T/keys.json" >&2; fail "panaudit keys --json is not as expected"; }
pass "panaudit keys --json lists every key with its fields"
"$PANAUDIT" keys --csv > "$T/keys.csv" || fail "panaudit keys --csv failed"
[ "$(wc -l < "$T/keys.csv")" -eq 9 ] || fail "panaudit keys --csv: not 1+8 lines"
head -n 1 "$T/keys.csv" | grep -q '^kind,address,protocol,fingerprint,' ||
    fail "panaudit keys --csv: no header line"
"$PANAUDIT" keys > "$T/keys.txt" || fail "panaudit keys failed"
grep -q "^$A .*$fa2" "$T/keys.txt" || fail "panaudit keys: no row for $A"
pass "panaudit keys gives a table and CSV"

[ -s "$T/gnupg-runs" ] &&
    fail "in a home without S/MIME, GPGME ran: $(head -n 6 "$T/gnupg-runs" | tr '\n' ';')"
pass "no S/MIME in the home: pankey, panaudit keys and pansend did not make GPGME search through gpgconf"
