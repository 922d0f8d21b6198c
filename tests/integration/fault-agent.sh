#!/bin/sh
# fault-agent.sh - the gpg-agent (and dirmngr) that gpg starts on a home
# does not outlive the tools: after pankey enroll, after a signed send,
# and after eight concurrent signed sends (which all succeed), no daemon
# of the home runs (checked in /proc).  The signing passphrase is not
# left cached: a send with a wrong one right after a good one fails.
# Unless the operator configured a cache in gnupg/gpg-agent.conf: then
# the agent is left running, with its cache.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

G=$PANMAIL_HOME/gnupg

# no_daemons WHEN: fail if a gpg-agent or dirmngr of the home runs.
no_daemons() {
    d=$(home_daemons "$G")
    [ -z "$d" ] || fail "$1: daemons of the home still run: $d"
}

enroll_alice
no_daemons "after pankey enroll"
pass "pankey enroll leaves no gpg-agent behind"

S=${TAG}fault-agent-signer@example.test
make_signing_key "$S"
# (make_signing_key's gpg started an agent outside of panmail: the
# next tool stops it.)
echo "sendmail $(mta_recorder mta)" >> "$PANMAIL_HOME/panmail.conf"
printf 'test\n' > "$T/pass"
printf 'wrong\n' > "$T/wrongpass"
report_to "$A" "signed $(new_marker)" > "$T/msg"

expect_rc 0 "a signed send" pansend --passphrase-fd 3 < "$T/msg" 3< "$T/pass"
no_daemons "after a signed send"
pass "a signed send leaves no gpg-agent behind"
expect_rc 77 "a send with a wrong passphrase right after" \
    pansend --passphrase-fd 3 < "$T/msg" 3< "$T/wrongpass"
no_daemons "after a refused send"
pass "the passphrase of the send before was not left cached"

# ------------------------------------------------------------ concurrency
for i in 1 2 3 4 5 6 7 8; do
    { "$PANSEND" --passphrase-fd 3 < "$T/msg" 3< "$T/pass" >"$T/out$i" 2>&1
      echo "$?" > "$T/rc$i"; } &
done
wait
for i in 1 2 3 4 5 6 7 8; do
    [ "$(cat "$T/rc$i")" = 0 ] ||
        { cat "$T/out$i" >&2; fail "concurrent signed send $i exited $(cat "$T/rc$i")"; }
done
pass "eight concurrent signed sends: all exit 0"
no_daemons "after eight concurrent sends"
pass "no gpg-agent or dirmngr of the home runs after them"

# ------------------------------------------------------------ operator's cache
printf 'default-cache-ttl 600\n' > "$G/gpg-agent.conf"
chmod 600 "$G/gpg-agent.conf"
expect_rc 0 "a signed send with a cache configured" \
    pansend --passphrase-fd 3 < "$T/msg" 3< "$T/pass"
[ -n "$(home_daemons "$G")" ] || fail "the agent was stopped though gpg-agent.conf configures a cache"
expect_rc 0 "a wrong passphrase, the right one cached as configured" \
    pansend --passphrase-fd 3 < "$T/msg" 3< "$T/wrongpass"
pass "with default-cache-ttl in gpg-agent.conf the agent and its cache are kept"
rm "$G/gpg-agent.conf"
expect_rc 0 "a send once the cache is configured off" \
    pansend --passphrase-fd 3 < "$T/msg" 3< "$T/pass"
no_daemons "after the cache was configured off"
pass "without it the next send stops the agent"

n=$(panaudit --home "$PANMAIL_HOME" log --json |
    jq -s '[.[] | select(.event == "delivered")] | length')
[ "$n" = 12 ] || fail "$n delivered records, expected 12"
check_received
