#!/bin/sh
# fault-mta.sh - an MTA that reads only part of a copy and exits 0, one
# that hangs, one that dies: each gives exit 75, a queued copy with its
# envelope and a "queue" record, never "delivered".  A good MTA gives
# "send"/"pending" then "delivered", and the bytes it received hash to
# the ciphertext_sha256 of the records.  The MTA inherits only fds 0-2
# and is killed as a process group on mta-timeout.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

enroll_alice
echo "mta-timeout 3" >> "$PANMAIL_HOME/panmail.conf"
mkdir -p "$MTA_GOT"

# fake NAME BODY: an executable fake MTA $T/NAME running the sh code BODY.
fake() {
    printf '#!/bin/sh\n%s\n' "$2" > "$T/$1"
    chmod 755 "$T/$1"
}
# A good MTA: keeps what it reads, one file per run, and its open fds.
fake good "ls -l /proc/\$\$/fd > \"$T/fds\"; cat > \"$MTA_GOT/\$\$\""
fake part "dd bs=200 count=1 of=/dev/null 2>/dev/null; exit 0"
fake hang "echo \$\$ > \"$T/hang.pid\"; sleep 300 & echo \$! > \"$T/hang.child\"; wait"
fake die "dd bs=100 count=1 of=/dev/null 2>/dev/null; kill -9 \$\$"
fake fail "cat > /dev/null; exit 69"

# A message of about 1 MB, so that no MTA reads it by chance in one go.
big() {
    printf 'From: ops@example.test\nTo: %s\nSubject: big\n\n' "$A"
    head -c 750000 /dev/urandom | base64
}

queued_count() { find "$PANMAIL_HOME/queue" -name '*.env' | wc -l; }
log_json() { panaudit --home "$PANMAIL_HOME" log --json; }

# ------------------------------------------------------------ a good MTA
big > "$T/big"
expect_rc 0 "a good MTA" pansend --sendmail "$T/good" < "$T/big" 5< "$T/big"
log_json | jq -e -s '[.[] | select(.event == "send")][-1]
    | .outcome == "pending" and (.copy | test("^c[0-9]{8}T[0-9]{6}-[0-9a-f]{8}-1$"))' \
    >/dev/null || fail "no send/pending record with a copy id"
log_json | jq -e -s '.[-1] | .event == "delivered" and .outcome == "delivered"' \
    >/dev/null || fail "no delivered record"
# (The shell of the fake MTA itself holds its script and a saved fd.)
if grep -e "$PANMAIL_HOME" -e "$T/big" "$T/fds"; then
    fail "the MTA inherited a descriptor of the home or of pansend's fd 5"
fi
[ "$(grep -c 'pipe:' "$T/fds")" = 1 ] || { cat "$T/fds" >&2; fail "the MTA inherited a pipe"; }
pass "pending then delivered; the MTA has only fds 0-2"

# ------------------------------------------------------------ faults
q=0
for m in part hang die fail; do
    t0=$(date +%s)
    expect_rc 75 "an MTA that does '$m'" pansend --sendmail "$T/$m" < "$T/big"
    took=$(($(date +%s) - t0))
    q=$((q + 1))
    [ "$(queued_count)" = "$q" ] || fail "$m: the copy is not queued"
    log_json | jq -e -s '.[-1] | .event == "queue" and .outcome == "queued"
        and .exit_code == 75 and (.copy | length > 0)' >/dev/null ||
        fail "$m: the last record is not queue/queued"
    id=$(log_json | jq -r -s '.[-1].copy')
    [ -f "$PANMAIL_HOME/queue/$id.eml" ] || fail "$m: queue/$id.eml missing"
    [ -f "$PANMAIL_HOME/queue/$id.env" ] || fail "$m: queue/$id.env missing"
    [ "$(stat -c %a "$PANMAIL_HOME/queue/$id.env")" = 600 ] || fail "$m: envelope not 0600"
    grep -qx "rcpt: $A" "$PANMAIL_HOME/queue/$id.env" || fail "$m: envelope lacks the recipient"
    sha=$(log_json | jq -r -s '.[-1].ciphertext_sha256')
    [ "$(sha256sum < "$PANMAIL_HOME/queue/$id.eml" | cut -d' ' -f1)" = "$sha" ] ||
        fail "$m: the queued ciphertext does not match its record"
    [ "$took" -lt 20 ] || fail "$m: took $took s"
    pass "$m: exit 75 in $took s, queued with envelope"
done
hp=$(cat "$T/hang.pid") hc=$(cat "$T/hang.child")
sleep 0.2
for p in $hp $hc; do
    if running "$p"; then fail "the hung MTA's process $p still runs"; fi
done
pass "the hung MTA's whole process group was killed"
[ -z "$(ls "$PANMAIL_HOME/spool")" ] || { ls -l "$PANMAIL_HOME/spool" >&2; fail "spool/ is not empty"; }
pass "nothing left in spool/"

# ------------------------------------------------------------ received bytes
# Every delivered copy: the bytes the MTA got hash to its record.
log_json | jq -e -s 'any(.[]; .outcome == "delivered")' >/dev/null ||
    fail "no delivered record"
check_received
