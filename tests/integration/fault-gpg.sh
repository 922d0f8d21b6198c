#!/bin/sh
# fault-gpg.sh - gpg killed (SIGKILL) at a random moment while it
# encrypts a large body: pansend never exits 0, never runs the MTA,
# always leaves a "refuse" record and nothing in spool/, and ends at
# once although the sender goes on writing; so does a gpg that refuses
# a key revoked since it was enrolled.  A gpg that
# hangs (stopped) is killed after gpg-timeout: exit 77, a record.  So is
# a gpg of pankey that waits for a keyring lock held by a live process.
# A sender that pauses longer than gpg-timeout is not.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

enroll_alice
mta_recorder capture > /dev/null

# body: a message to $A whose body (base64, 1 MB every 0.1 s) arrives
# in pieces until $T/stop exists (30 s at most), so that gpg is still at
# work, waiting for more, whenever it is killed; and the body still
# flows after that, as from a sender that never stops: pansend must end
# without reading it to its end.
body() {
    printf 'From: ops@example.test\nTo: %s\nSubject: big\n\n' "$A"
    n=0
    while [ ! -e "$T/stop" ] && [ "$n" -lt 300 ]; do
        head -c 786432 /dev/urandom | base64 || return 0
        sleep 0.1; n=$((n + 1))
    done
}

# engine_pids: the gpg processes encrypting on this test's home (which
# an OpenPGP-only pansend gives gpg as GNUPGHOME, not --homedir).
engine_pids() {
    for p in $(pgrep -x gpg || true); do
        tr '\0' '\n' 2>/dev/null < "/proc/$p/cmdline" | grep -qx -- --encrypt &&
            { tr '\0' '\n' < "/proc/$p/cmdline"
              tr '\0' '\n' < "/proc/$p/environ"; } 2>/dev/null |
                grep -qx -e "$PANMAIL_HOME/gnupg" -e "GNUPGHOME=$PANMAIL_HOME/gnupg" &&
            printf '%s\n' "$p"
    done
    return 0
}

# wait_engine: wait (at most 20 s) until gpg runs; print its pid.
wait_engine() {
    i=0
    while [ "$i" -lt 200 ]; do
        p=$(engine_pids | head -n 1)
        [ -n "$p" ] && { printf '%s\n' "$p"; return 0; }
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

nrec() { panaudit --home "$PANMAIL_HOME" log --json | wc -l; }

runs=4
for run in $(seq "$runs"); do
    before=$(nrec)
    rm -f "$T/stop"
    # Runs 3 and 4 find the killed engine at the end by a walk through
    # /proc (test builds), as a kernel without the children lists would.
    walk=
    [ "$run" -le 2 ] || walk=1
    body | PANMAIL_TEST_PROC_WALK=$walk pansend --sendmail "$T/capture" \
        >"$T/out" 2>"$T/err" &
    pid=$!
    g=$(wait_engine) || fail "run $run: gpg never started"
    # A random moment in the first 0.9 s of its work; the body still
    # flows, so gpg cannot have finished.
    sleep "0.$(awk -v s="$run" 'BEGIN { srand(s); printf "%d", 1 + rand() * 8 }')"
    kill -9 "$g" 2>/dev/null || fail "run $run: gpg $g ended before it was killed"
    # The body flows on (for up to 30 s): pansend ends within 10 s.
    i=0
    while running "$pid" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    running "$pid" && fail "run $run: pansend still reads the body 10 s after gpg's end"
    touch "$T/stop"
    if wait "$pid"; then rc=0; else rc=$?; fi
    [ "$rc" -ne 0 ] || fail "run $run: gpg was killed but pansend exited 0"
    # The end of the encryption found the engine and its status.
    grep -q "GnuPG engine (pid $g) was killed by signal 9" "$T/err" ||
        { cat "$T/err" >&2; fail "run $run: the refusal does not name gpg $g's end"; }
    [ ! -e "$T/capture.runs" ] || fail "run $run: the MTA was run"
    [ "$(nrec)" -gt "$before" ] || fail "run $run: no record"
    panaudit --home "$PANMAIL_HOME" log --json | tail -n 1 |
        jq -e '.event == "refuse" and .outcome == "refused"' >/dev/null ||
        fail "run $run: the last record is not a refusal"
    [ -z "$(ls "$PANMAIL_HOME/spool")" ] || fail "run $run: spool/ is not empty"
    pass "run $run: gpg killed, exit $rc, refused, nothing handed over"
done
panaudit --home "$PANMAIL_HOME" log --json | jq -e -s \
    'all(.[]; .outcome != "delivered" and .outcome != "sent" and .outcome != "pending")' \
    >/dev/null || fail "a record says sent, pending or delivered"
pass "no record of a copy in any run"

# ------------------------------------------------------------ a hung gpg
echo "gpg-timeout 5" >> "$PANMAIL_HOME/panmail.conf"
t0=$(date +%s)
rm -f "$T/stop"
body | pansend --sendmail "$T/capture" >"$T/out" 2>"$T/err" &
pid=$!
g=$(wait_engine) || fail "gpg never started"
kill -STOP "$g"
touch "$T/stop"
if wait "$pid"; then rc=0; else rc=$?; fi
took=$(($(date +%s) - t0))
kill -CONT "$g" 2>/dev/null || true
[ "$rc" = 77 ] || { cat "$T/err" >&2; fail "a hung gpg: exit $rc, expected 77"; }
grep -q 'gpg-timeout' "$T/err" || { cat "$T/err" >&2; fail "the reason does not name gpg-timeout"; }
[ "$took" -lt 30 ] || fail "a hung gpg held pansend $took s"
[ ! -e "$T/capture.runs" ] || fail "the MTA was run"
if running "$g"; then fail "the hung gpg $g still runs"; fi
panaudit --home "$PANMAIL_HOME" log --json | tail -n 1 |
    jq -e '.event == "refuse" and .exit_code == 77' >/dev/null ||
    fail "no refusal record with exit code 77"
pass "a hung gpg is killed after gpg-timeout: exit 77 in $took s, recorded"

# ------------------------------------------------------------ a hung "gpg --version"
# GPGME's first look at gpg runs while pansend reads the message (the
# warm-up), under the same gpg-timeout: a gpg that never answers
# "--version" is killed, and nothing is sent.  (A script named gpg: the
# watchdog knows the engine by its name.)
mkdir -p "$T/hang"
cat > "$T/hang/gpg" <<EOF
#!/bin/sh
if [ "\$1" = --version ]; then
    sleep 600 </dev/null >/dev/null 2>&1 &
    echo \$! > "$T/hang.sleep"
    wait
fi
exec /usr/bin/gpg "\$@"
EOF
chmod 755 "$T/hang/gpg"
report_to "$A" word > "$T/msg"
t0=$(date +%s)
if env PATH="$T/hang:$PATH" "$PANSEND" --sendmail "$T/capture" -t < "$T/msg" \
    >"$T/out" 2>"$T/err"; then rc=0; else rc=$?; fi
took=$(($(date +%s) - t0))
[ -s "$T/hang.sleep" ] || fail "the hanging gpg --version never ran"
kill "$(cat "$T/hang.sleep")" 2>/dev/null || true
[ "$rc" = 77 ] || { cat "$T/err" >&2; fail "a hung gpg --version: exit $rc, expected 77"; }
grep -q 'gpg-timeout' "$T/err" || { cat "$T/err" >&2; fail "the reason does not name gpg-timeout"; }
[ "$took" -lt 30 ] || fail "a hung gpg --version held pansend $took s"
[ ! -e "$T/capture.runs" ] || fail "the MTA was run"
panaudit --home "$PANMAIL_HOME" log --json | tail -n 1 |
    jq -e '.event == "refuse" and .exit_code == 77' >/dev/null ||
    fail "no refusal record with exit code 77"
pass "a hung gpg --version is killed after gpg-timeout: exit 77 in $took s, recorded"

# ------------------------------------------------------------ a hung gpg in pankey
# The keyring locked by a live process: gpg waits for the lock for ever;
# pankey's transaction kills it after gpg-timeout.
B=${TAG}fault-gpg-bob@example.test
fb=$(make_key Bob "$B")
export_key "$fb" "$T/b.asc"
sleep 600 >/dev/null 2>&1 & holder=$!
printf '%10d\n%s\n' "$holder" "$(uname -n)" > "$PANMAIL_HOME/gnupg/pubring.kbx.lock"
t0=$(date +%s)
if pankey enroll "$B" --fingerprint "$fb" --file "$T/b.asc" >"$T/out" 2>"$T/err"; then
    rc=0; else rc=$?; fi
took=$(($(date +%s) - t0))
kill "$holder" 2>/dev/null || true
rm -f "$PANMAIL_HOME/gnupg/pubring.kbx.lock"
[ "$rc" -ne 0 ] || fail "pankey enroll succeeded on a locked keyring"
grep -q 'gpg-timeout' "$T/err" || { cat "$T/err" >&2; fail "the reason does not name gpg-timeout"; }
[ "$took" -lt 30 ] || fail "a hung gpg held pankey $took s"
not_enrolled "$B" || fail "$B was enrolled"
pass "a gpg of pankey that waits for ever is killed after gpg-timeout: exit $rc in $took s"

# ------------------------------------------------------------ a sender that pauses
# The time gpg waits for the sender's input is not gpg's: a body that
# stops for longer than gpg-timeout (5 s) half-way still goes out.
paused_body() {
    printf 'From: ops@example.test\nTo: %s\nSubject: paused\n\n' "$A"
    head -c 393216 /dev/urandom | base64
    sleep 7
    head -c 393216 /dev/urandom | base64
}
if paused_body | pansend --sendmail "$T/capture" >"$T/out" 2>"$T/err"; then
    rc=0; else rc=$?; fi
[ "$rc" = 0 ] || { cat "$T/err" >&2; fail "a sender that paused 7 s: exit $rc, expected 0"; }
pass "a sender that pauses longer than gpg-timeout is not taken for a hung gpg"
sed -i '/^gpg-timeout /d' "$PANMAIL_HOME/panmail.conf"
expect_rc 0 "the enroll once the keyring is free" \
    pankey enroll "$B" --fingerprint "$fb" --file "$T/b.asc"

# ------------------------------------------------------------ gpg refuses at once
# A key revoked since it was enrolled: gpg refuses it before it reads
# the body, and pansend ends at once (77), although the body flows on.
revoke_key "$fa"
push_key_update "$fa"
rm -f "$T/stop"
# mta_runs: how many times the recording MTA ran so far.
mta_runs() { if [ -f "$T/capture.runs" ]; then wc -l < "$T/capture.runs"; else echo 0; fi; }
runs_before=$(mta_runs)
body | pansend --sendmail "$T/capture" >"$T/out" 2>"$T/err" &
pid=$!
i=0
while running "$pid" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
running "$pid" && fail "gpg refused the key, but pansend still reads the body 10 s later"
touch "$T/stop"
if wait "$pid"; then rc=0; else rc=$?; fi
[ "$rc" = 77 ] || { cat "$T/err" >&2; fail "a revoked key: exit $rc, expected 77"; }
grep -q "revoked" "$T/err" || { cat "$T/err" >&2; fail "the refusal does not say revoked"; }
[ "$(mta_runs)" = "$runs_before" ] ||
    fail "a revoked key: the MTA was run"
pass "gpg refuses a revoked key at once: pansend ends in $((i / 10)) s while the body flows (77)"
check_received
